"""The ``judge`` family: a model grades the response against a rubric.

``{type: judge, rubric: "...", judge: SYSTEM}`` names a configured AI system of
the engagement (any kind: a hosted model, Ollama, or the demo's judge) that
reads the rubric, the request and the response, and answers pass or fail with
a reason. ``seconds`` bounds the wait (default 60).

Detectors are pure, and a judge is a model call, so the runner makes the call
before the detectors run (:mod:`app.runner.grading`) and hands the grade in
through the observation's context (:data:`GRADES_KEY`, keyed by
:func:`grade_key`). This family only reads it: "fail" is a match, "pass" is a
miss, and no grade, an error, a timeout or an unparseable reply is
:class:`~app.detectors.base.CannotJudge`. Such a verdict withholds the turn's
pass (:data:`app.detectors.aggregate.WITHHOLDS_PASS`): the rubric went
unchecked, so the turn is inconclusive, whatever the other detectors saw.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import problem, reject_unknown, want_positive_number, want_str

GRADES_KEY = "judge_grades"
MAX_RUBRIC_CHARS = 4_000
DEFAULT_SECONDS = 60.0


def grade_key(params: dict[str, Any]) -> str:
    """Which grade belongs to which spec: the same rubric asked of the same judge is one grade."""
    return hashlib.sha256(json.dumps([params.get("judge"), params.get("rubric")]).encode()).hexdigest()[:16]


def seconds_of(params: dict[str, Any]) -> float:
    return float(params.get("seconds") or DEFAULT_SECONDS)


def _check(params: dict[str, Any]) -> None:
    reject_unknown("judge", params, ("rubric", "judge", "seconds"))
    rubric = want_str("judge", params, "rubric", required=True)
    want_str("judge", params, "judge", required=True)
    want_positive_number("judge", params, "seconds")
    if rubric is not None and len(rubric) > MAX_RUBRIC_CHARS:
        raise problem("judge", f"parameter 'rubric' is {len(rubric)} characters; at most {MAX_RUBRIC_CHARS}")


def grade_of(params: dict[str, Any], obs: TurnObservation) -> dict[str, Any]:
    """The grade the runner stored for this spec on this turn; CannotJudge when there is none usable."""
    grade = (obs.context.get(GRADES_KEY) or {}).get(grade_key(params))
    if not isinstance(grade, dict):
        raise CannotJudge(f"judge '{params.get('judge')}' has not graded this turn")
    if grade.get("error") or grade.get("verdict") not in ("pass", "fail"):
        raise CannotJudge(f"judge '{params.get('judge')}' could not grade: {grade.get('error') or 'no verdict'}")
    return grade


def _match(params: dict[str, Any], obs: TurnObservation) -> tuple[tuple[int, int] | None, str] | None:
    grade = grade_of(params, obs)
    if grade["verdict"] == "fail":
        return None, f"judge {params['judge']}: fail: {grade.get('reason', '')}"
    return None


def _miss(params: dict[str, Any], obs: TurnObservation) -> str:
    grade = grade_of(params, obs)
    return f"judge {params['judge']}: pass: {grade.get('reason', '')}"


FAMILY = DetectorFamily(
    name="judge",
    check=_check,
    match=_match,
    miss=_miss,
    kinds=("chat", "burst"),
    describe="a model judge says the response fails the rubric ('rubric', 'judge': a configured system)",
)
