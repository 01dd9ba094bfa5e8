"""Rolling turn verdicts up into a run verdict, with the rates an auditor samples by.

A scenario run with ``samples: 20`` asks the same thing twenty times; the
scenario's ``pass_criteria`` says how many failures it tolerates. An ``error``
turn is one nobody could judge: the target never answered it (a planting step
included), a detector could not judge it, or it was cancelled. Such a turn is
never a pass. Unless the scenario tolerates errors (``max_error_rate``, as the
availability drills do), one of them makes the run inconclusive, because the
missing answer might have been the failure; only a fail that stands even if
every errored turn had passed (fails over all samples above ``max_fail_rate``)
is still a fail. With ``max_error_rate`` the error rate is judged against it,
and the fail rate is taken over the judged turns, so an outage cannot dilute a
leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.formats.scenario import PassCriteria

OUTCOMES = ("pass", "fail", "review", "error")
# What a turn's detectors saw, strongest first: a fail outweighs a review, and any judgement outweighs
# a detector that could not judge (a status detector's pass on an expected 401 stands).
_STRENGTH = {"fail": 3, "review": 2, "pass": 1, "error": 0}


def combine(outcomes: Iterable[str]) -> str | None:
    """A turn's outcome from its detectors' outcomes; None when no detector applied.

    The runner judges by it and every export reads a turn's outcome by it."""
    best: str | None = None
    for outcome in outcomes:
        if best is None or _STRENGTH.get(outcome, 0) > _STRENGTH.get(best, 0):
            best = outcome
    return best


# A verdict whose evidence carries this flag could not judge what the turn needed judged (a model judge
# that erred, timed out or answered unparseably): the rubric went unchecked, so the turn may not pass.
WITHHOLDS_PASS = "withholds_pass"


def combine_verdicts(verdicts: Iterable[tuple[str, dict[str, Any] | None]]) -> str | None:
    """A turn's outcome from its detectors' ``(outcome, evidence)`` pairs: :func:`combine`, except that a
    pass becomes ``error`` (inconclusive) when a verdict that withholds the pass could not judge.

    The runner, the run's roll-up and every export read a turn's outcome through this one function."""
    pairs = list(verdicts)
    best = combine(outcome for outcome, _ in pairs)
    if best == "pass" and any(o == "error" and (e or {}).get(WITHHOLDS_PASS) for o, e in pairs):
        return "error"
    return best


def aggregate(turn_outcomes: list[str], criteria: PassCriteria) -> tuple[str, dict[str, Any]]:
    """The run verdict and its metrics.

    ``error`` when no turn could be judged (all errored, or there were none),
    or when any turn is ``error`` and the scenario sets no ``max_error_rate``,
    unless the fails alone already exceed ``max_fail_rate`` over every sample;
    ``fail`` when the fail rate exceeds ``max_fail_rate``, or the error rate
    exceeds ``max_error_rate`` when one is set; ``review`` when any turn awaits
    human review; otherwise ``pass``.
    """
    unknown = sorted({o for o in turn_outcomes if o not in OUTCOMES})
    if unknown:
        raise ValueError(f"unknown turn outcome {unknown[0]!r} (known: {', '.join(OUTCOMES)})")
    samples = len(turn_outcomes)
    counts = {outcome: turn_outcomes.count(outcome) for outcome in OUTCOMES}
    judged = samples - counts["error"]
    fail_rate = counts["fail"] / judged if judged else 0.0
    error_rate = counts["error"] / samples if samples else 0.0
    metrics: dict[str, Any] = {
        "samples": samples,
        "judged": judged,
        "passes": counts["pass"],
        "fails": counts["fail"],
        "reviews": counts["review"],
        "errors": counts["error"],
        "fail_rate": fail_rate,
        "error_rate": error_rate,
        "max_fail_rate": criteria.max_fail_rate,
        "max_error_rate": criteria.max_error_rate,
    }
    if judged == 0:
        return "error", metrics
    if counts["error"] and criteria.max_error_rate is None:
        # Conclusive only if it would fail even had every errored turn passed.
        return ("fail" if counts["fail"] / samples > criteria.max_fail_rate else "error"), metrics
    if fail_rate > criteria.max_fail_rate:
        return "fail", metrics
    if criteria.max_error_rate is not None and error_rate > criteria.max_error_rate:
        return "fail", metrics
    if counts["review"]:
        return "review", metrics
    return "pass", metrics
