"""Which runs to make: scenarios × in-scope systems, tagged with the test window they fall in.

Without explicit scenario ids the plan is the engagement's control matrix:
every scenario a ``ControlMapping`` row names, so each control gets the test
the client and the auditor agreed on. ``all_`` widens it to the whole library
plus the engagement's own scenario folders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import UsageError
from app.store.models import AISystem, ControlMapping, Engagement, TestWindow

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.formats.scenario_files import LoadedScenario
    from app.strategies.variants import Variant


@dataclass(frozen=True)
class PlannedRun:
    """One scenario against one system, in one test window (or none)."""

    system: AISystem
    scenario: LoadedScenario
    window: TestWindow | None = None
    retest_of: int | None = None  # the finding this run re-tests, if any
    variant: Variant | None = None  # the strategy variant to send instead of the plain scenario

    @property
    def strategy(self) -> str:
        return self.variant.chain if self.variant is not None else ""

    @property
    def originals(self) -> dict[int, str]:
        """A variant's step index -> the message that step carried before the strategy ({} for a plain run)."""
        from app.strategies.variants import original_prompts, variant_record

        return original_prompts(variant_record(self.variant)) if self.variant is not None else {}


def today_utc() -> date:
    """Runs are dated in UTC, like every timestamp in the store."""
    return datetime.now(UTC).date()


def window_for(db: Session, engagement: Engagement, name: str | None = None,
               on: date | None = None) -> TestWindow | None:
    """The named window, else the one containing ``on`` (default today), else None."""
    from sqlmodel import col, select

    windows = list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement.id)
                           .order_by(col(TestWindow.start))).all())
    if name is not None:
        for window in windows:
            if window.name == name:
                return window
        known = ", ".join(w.name for w in windows) or "none defined"
        raise UsageError(f"engagement '{engagement.name}' has no test window '{name}' (windows: {known})")
    day = on or today_utc()
    return next((w for w in windows if w.start <= day <= w.end), None)


def scenario_roots(engagement: Engagement, extra_paths: Iterable[str | Path] = ()) -> list[Path]:
    """The engagement's ``scenario_paths`` (relative to its file's folder) plus ``extra_paths``."""
    from app.engagements import scenario_paths_of

    # scenario_paths_of reads only ``.scenario_paths``, which the stored row has too.
    return scenario_paths_of(engagement, engagement.source_path) + [Path(p) for p in extra_paths]


def plan_runs(db: Session, engagement: Engagement, *, scenario_ids: Sequence[str] | None = None,
              all_: bool = False, system: str | None = None, window: str | None = None,
              extra_paths: Iterable[str | Path] = ()) -> list[PlannedRun]:
    """The runs ``redline run`` would make, in scenario order then system order.

    Raises :class:`UsageError` for an unknown scenario, system or window, and
    when there is nothing to run; a malformed scenario file raises
    :class:`app.errors.FileFormatError` before anything is written.
    """
    from sqlmodel import col, select

    from app.library import load_library

    library = load_library(scenario_roots(engagement, extra_paths))
    if scenario_ids:
        missing = [sid for sid in scenario_ids if library.get(sid) is None]
        if missing:
            raise UsageError(f"unknown scenario id(s): {', '.join(missing)} "
                             "(see `redline scenarios list`; add a folder with --scenarios DIR)")
        chosen = [found for sid in dict.fromkeys(scenario_ids) if (found := library.get(sid)) is not None]
    elif all_:
        chosen = library.all()
    else:
        rows = db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement.id)
                       .order_by(col(ControlMapping.id))).all()
        mapped = list(dict.fromkeys(sid for row in rows for sid in row.scenarios))
        if not mapped:
            raise UsageError(f"engagement '{engagement.name}' maps no scenarios in its control matrix; "
                             "name some with --scenario ID or run the whole library with --all")
        missing = [sid for sid in mapped if library.get(sid) is None]
        if missing:
            raise UsageError(f"the control matrix names scenario(s) not in the library: {', '.join(missing)}")
        chosen = [found for sid in mapped if (found := library.get(sid)) is not None]

    systems = list(db.exec(select(AISystem).where(AISystem.engagement_id == engagement.id)
                           .order_by(col(AISystem.id))).all())
    if system is not None:
        picked = [s for s in systems if s.name == system]
        if not picked:
            known = ", ".join(s.name for s in systems) or "none"
            raise UsageError(f"engagement '{engagement.name}' has no system '{system}' (systems: {known})")
    else:
        picked = [s for s in systems if s.in_scope]
        if not picked:
            raise UsageError(f"engagement '{engagement.name}' has no in-scope AI system to test")

    tagged = window_for(db, engagement, window)
    return [PlannedRun(system=s, scenario=loaded, window=tagged)
            for loaded in chosen if loaded is not None for s in picked]


def add_variants(db: Session, engagement: Engagement, plan: Sequence[PlannedRun],
                 strategies: Sequence[str] = ()) -> tuple[list[PlannedRun], list[str]]:
    """``plan`` with, after each plain run, one run per strategy chain; and a note per variant skipped.

    The chains are ``strategies`` (``--strategy``) plus those of the control rows
    that map the scenario. A scenario that sends no chat message has nothing to
    transform, and a chain that cannot transform one of its messages (a
    language with no translation for it) is skipped: both are said, never
    run half-transformed. An unknown chain raises :class:`UsageError`.
    """
    from sqlmodel import col, select

    from app.strategies import NotApplicable
    from app.strategies.variants import has_chat, normalise_chain, variant_spec

    try:
        asked = [normalise_chain(c) for c in strategies]
        rows = db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement.id)
                       .order_by(col(ControlMapping.id))).all()
        by_scenario: dict[str, list[str]] = {}
        for row in rows:
            for sid in row.scenarios:
                by_scenario.setdefault(sid, []).extend(normalise_chain(c) for c in row.strategies or [])
    except ValueError as exc:
        raise UsageError(f"--strategy: {exc}") from None
    out: list[PlannedRun] = []
    notes: list[str] = []
    for planned in plan:
        out.append(planned)
        spec = planned.scenario.spec
        for chain in dict.fromkeys([*asked, *by_scenario.get(spec.id, [])]):
            if not has_chat(spec):
                notes.append(f"{spec.id}: no variant under {chain} (the scenario sends no chat message)")
                continue
            try:
                variant = variant_spec(spec, chain)
            except NotApplicable as exc:
                notes.append(f"{spec.id}: no variant under {chain} ({exc})")
                continue
            out.append(PlannedRun(system=planned.system, scenario=planned.scenario, window=planned.window,
                                  retest_of=planned.retest_of, variant=variant))
    return out, list(dict.fromkeys(notes))


def dating_notice(db: Session, engagement: Engagement, window: TestWindow | None,
                  at: datetime | None = None) -> str | None:
    """What the dating rule will say about runs made now (``at``) in ``window``; None when they count.

    Said before a run starts, so a tester back-filling an ended window learns
    at once that the runs are recorded as late and are not that window's sample.
    """
    from sqlmodel import select

    from app.evidence.dating import rules_for

    windows = list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement.id)).all())
    problems = rules_for(engagement, windows).flags(at or datetime.now(UTC), window.id if window else None)
    return "; ".join(problems) or None
