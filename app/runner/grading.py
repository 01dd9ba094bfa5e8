"""Model judges during a run: ask each judge a turn needs, before the detectors run.

A ``judge`` detector names a configured AI system of the engagement. Once a
turn has ended, :func:`grade_turn` asks each such judge (one call per distinct
judge and rubric) and returns the observation with the grades in its context;
the pure ``judge`` family then reads them (:mod:`app.detectors.judge`), and
:func:`app.runner.judge.judge_turn` stores each grade beside its verdict.

A judge's adapter is built for the call and closed after it, so a run leaves
nothing open; a judge that cannot be built (unknown system, missing key) is a
grade with an error, which leaves the turn inconclusive, never a pass.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.detectors import applies_to
from app.detectors.judge import GRADES_KEY, grade_key, seconds_of
from app.judges import Grade, grade

if TYPE_CHECKING:
    from app.detectors.base import TurnObservation
    from app.runner.turns import RunInProgress
    from app.store.models import AISystem


def configured_system(engagement_id: int, name: str) -> AISystem | None:
    """The engagement's AI system called ``name`` (a judge or an attacker is one, usually out of scope)."""
    from sqlmodel import select

    from app.store import session
    from app.store.models import AISystem

    with session() as db:
        return db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id,
                                              AISystem.name == name)).first()


async def ask_judge(system: AISystem | None, name: str, rubric: str, request: str, response: str,
                    seconds: float) -> Grade:
    """One grade from the configured system ``name``; every fault becomes the grade's error."""
    from app.errors import RedlineError
    from app.runner.adapters import Targets

    if system is None:
        return Grade(name, "", "", f"the engagement has no system named '{name}' to judge with")
    targets = Targets()
    try:
        target = targets.prepare(system)
    except RedlineError as exc:
        return Grade(name, "", "", f"the judge could not be set up: {exc}")
    try:
        return await grade(target, name, rubric, request, response, seconds=seconds)
    finally:
        await targets.aclose()


async def grade_turn(live: RunInProgress, index: int, obs: TurnObservation, prompt: str) -> TurnObservation:
    """``obs`` with the grade of every judge that applies to step ``index`` (unchanged when none does)."""
    specs = [d for d in live.spec.detectors if d.type == "judge" and applies_to(d, index, obs.kind)]
    if not specs or not obs.text:
        return obs  # no answer to grade: the judge family says so itself
    grades: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key = grade_key(spec.params)
        if key in grades:
            continue
        name = str(spec.params["judge"])
        system = configured_system(live.system.engagement_id, name)
        result = await ask_judge(system, name, str(spec.params["rubric"]), prompt, obs.text,
                                 seconds_of(spec.params))
        record = result.record()
        for field in ("reason", "reply", "error"):  # a judge may quote a secret back: scrub what is kept
            record[field] = live.scrubber.whole(record[field])
        grades[key] = record
    return replace(obs, context={**obs.context, GRADES_KEY: grades})
