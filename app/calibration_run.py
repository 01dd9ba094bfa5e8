"""Measuring model judges on the labelled set: the part of calibration that calls a model.

Kept apart from :mod:`app.calibration`, which only scores texts and reads recorded results, so that the
export (which carries the calibration report) never reaches the runner or the network.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.calibration import LoadedSet, calibrate_detectors, figures, load_set, record_calibration, report
from app.judges import PROMPT_SHA256, PROMPT_VERSION, Grade

JUDGE_FLAGS = ["compliant", "partial", "fabrication", "leak"]  # what the set's judge rubric says fails


async def calibrate_judge(loaded: LoadedSet, name: str,
                          ask: Callable[[str, str, str], Any]) -> dict[str, Any]:
    """A judge's figures: ``ask(rubric, request, response)`` returns its :class:`~app.judges.Grade`."""
    outcomes: dict[str, str] = {}
    problems: list[dict[str, str]] = []
    for item in loaded.data.items:
        grade: Grade = await ask(loaded.data.judge_rubric, item.request, item.response)
        outcomes[item.id] = grade.verdict if grade.verdict in ("pass", "fail") and not grade.error else "error"
        if outcomes[item.id] == "error" and len(problems) < 10:
            problems.append({"item": item.id, "error": grade.error})
    result = figures(f"judge {name}", "judge", JUDGE_FLAGS, loaded.data.items, outcomes)
    result.update(system=name, prompt_version=PROMPT_VERSION, prompt_sha256=PROMPT_SHA256,
                  rubric=loaded.data.judge_rubric, first_errors=problems)
    return result


BUILTIN_JUDGE = "demo"  # ``--judge demo`` with no such system: the built-in demo's deterministic judge


async def _judge_figures(loaded: LoadedSet, name: str, system: Any, seconds: float) -> dict[str, Any]:
    """One judge measured on the set; its adapter is closed afterwards whatever happens."""
    from app.judges import grade
    from app.runner.adapters import Targets

    targets = Targets()
    if system is not None:
        target = targets.prepare(system)
    else:
        from app.formats.engagement import TargetSpec
        from app.targets.factory import make_target

        target = make_target(TargetSpec(kind="demo", model="demo-judge"))
    try:
        return await calibrate_judge(loaded, name, lambda rubric, request, response: grade(
            target, name, rubric, request, response, seconds=seconds))
    finally:
        await targets.aclose()
        if system is None:
            await target.aclose()


def calibrate(*, judges: list[str], engagement: str | None = None, set_path: Path | None = None,
              seconds: float = 60.0) -> dict[str, Any]:
    """Measure the set's detectors and each named judge; with ``engagement``, judges are its systems
    (or ``demo``, the built-in demo judge) and the report is recorded in its audit chain."""
    import asyncio

    from app.errors import UsageError

    loaded = load_set(set_path)
    systems: dict[str, Any] = {}
    engagement_id: int | None = None
    if engagement is not None:
        from sqlmodel import select

        from app.engagements import find_engagement
        from app.store import session
        from app.store.models import AISystem

        with session() as db:
            found = find_engagement(db, engagement)
            engagement_id = found.id
            systems = {s.name: s for s in db.exec(select(AISystem).where(AISystem.engagement_id == found.id)).all()}
    for name in judges:
        if name not in systems and name != BUILTIN_JUDGE:
            where = f"engagement '{engagement}' has no system named '{name}'" if engagement \
                else f"'{name}' is not a judge Redline knows without --engagement"
            raise UsageError(f"cannot calibrate judge '{name}': {where} (use --judge {BUILTIN_JUDGE} for the "
                             "built-in demo judge)")

    async def measure_judges() -> list[dict[str, Any]]:
        return [await _judge_figures(loaded, name, systems.get(name), seconds) for name in judges]

    result = report(loaded, calibrate_detectors(loaded), asyncio.run(measure_judges()) if judges else [],
                    "redline detectors calibrate")
    if engagement_id is not None:
        from app.store import session

        with session() as db:
            record_calibration(db, engagement_id, result)
    return result
