"""Where each criterion stands: its client controls, its scenarios, and the latest result per test window.

This is the Type II picture an auditor asks for ("did the control work in
each sample?"). Only the latest finished run of each scenario on each system
in each window counts, so a passing re-test after remediation shows as pass
for that window while the failing run stays in the history and the bundle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.alignment.matrix import rows_of
from app.alignment.steps import get_engagement, windows_of
from app.store.models import Run, Scenario

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.evidence.dating import Placement

NOT_TESTED = "not tested"
OUTSIDE = "other"  # the column for runs outside every planned window
# When several results meet, the worst one speaks for the cell.
_SEVERITY = {"fail": 4, "review": 3, "error": 2, "pass": 1, NOT_TESTED: 0}


def worst(outcomes: Iterable[str]) -> str:
    """The most serious outcome (fail > review > error > pass); ``not tested`` when there is none."""
    return max(outcomes, key=lambda o: _SEVERITY.get(o, 0), default=NOT_TESTED)


@dataclass(frozen=True)
class WindowResult:
    """One criterion in one window: the roll-up and the latest verdict of each scenario tested."""

    window: str
    result: str  # pass | fail | review | error | not tested
    tested: int  # scenarios with a finished run in this window
    total: int  # scenarios mapped to the criterion
    scenarios: dict[str, str]  # scenario id -> its latest verdict here (worst across systems)


@dataclass(frozen=True)
class CriterionStatus:
    criterion: str
    name: str  # from the catalog; "" if the catalog does not know it
    client_controls: tuple[tuple[str, str], ...]  # (client ref, activity in the client's words)
    scenarios: tuple[str, ...]
    windows: tuple[WindowResult, ...]

    @property
    def latest(self) -> str:
        """The overall state: the worst result across windows."""
        return worst(w.result for w in self.windows if w.result != NOT_TESTED)


@dataclass(frozen=True)
class ControlStatus:
    windows: tuple[str, ...]  # column order: planned windows by date, then OUTSIDE if used
    criteria: tuple[CriterionStatus, ...]


def grid_column(placement: Placement) -> tuple[bool, int | None]:
    """Whether a run shows in the per-window grid, and in which column (None: the OUTSIDE column).

    The dating rule decides (:meth:`app.evidence.dating.DatingRules.place`): a
    sample shows in its window; a late, early or unplanned run shows in the
    OUTSIDE column, where it never counts as any window's sample; a re-test
    shows in the window it ran inside, and only on top of a sample there
    (:func:`latest_verdicts` checks that), never as the window's first result.
    """
    if placement.kind == "retest":
        return placement.window_id is not None, placement.window_id
    return True, placement.window_id


def placed_runs(db: Session, engagement_id: int) -> list[tuple[Run, str, Placement]]:
    """Every run of the engagement in creation order, with its scenario id and its dating placement."""
    from sqlmodel import select

    from app.evidence.dating import rules_for

    rules = rules_for(get_engagement(db, engagement_id), windows_of(db, engagement_id))
    query = (select(Run, Scenario.scenario_id).join(Scenario, Scenario.id == Run.scenario_pk)  # type: ignore[arg-type]
             .where(Run.engagement_id == engagement_id).order_by(Run.created_at, Run.id))  # type: ignore[arg-type]
    return [(run, scenario_id, rules.place(run.started_at or run.created_at, run.window_id, run.retest_of))
            for run, scenario_id in db.exec(query).all()]


def latest_verdicts(db: Session, engagement_id: int) -> dict[tuple[str, int | None], str]:
    """(scenario id, window id) -> worst, across systems, of each system's latest finished verdict.

    Windows are the ones runs count in by the dating rule (:func:`grid_column`),
    not merely the ones they were tagged with: a run back-filled into an ended
    window lands in the OUTSIDE column (None) and the window stays untested.
    """
    latest: dict[tuple[str, int, int | None], str] = {}
    for run, scenario_id, placement in placed_runs(db, engagement_id):
        shown, window_id = grid_column(placement)
        if not run.verdict or not shown:
            continue
        key = (scenario_id, run.system_id, window_id)
        if placement.kind == "retest" and key not in latest:
            continue  # a re-test verifies a remediation; it is not the window's sample
        latest[key] = run.verdict  # later rows overwrite earlier ones
    merged: dict[tuple[str, int | None], list[str]] = {}
    for (scenario_id, _system, window_id), verdict in latest.items():
        merged.setdefault((scenario_id, window_id), []).append(verdict)
    return {key: worst(values) for key, values in merged.items()}


def control_status(db: Session, engagement_id: int, *, catalog: Any = None) -> ControlStatus:
    """Per criterion in the control matrix (in matrix order): controls, scenarios, results by window."""
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    get_engagement(db, engagement_id)
    windows = windows_of(db, engagement_id)
    verdicts = latest_verdicts(db, engagement_id)
    columns: list[tuple[str, int | None]] = [(w.name, w.id) for w in windows]
    if any(window_id is None for _scenario, window_id in verdicts):
        columns.append((OUTSIDE, None))
    grouped: dict[str, tuple[list[tuple[str, str]], list[str]]] = {}
    for row in rows_of(db, engagement_id):
        controls, scenarios = grouped.setdefault(row.criterion, ([], []))
        if row.client_ref or row.activity:
            controls.append((row.client_ref, row.activity))
        scenarios.extend(s for s in row.scenarios if s not in scenarios)
    criteria = []
    for criterion, (controls, scenarios) in grouped.items():
        results = []
        for name, window_id in columns:
            seen = {s: verdicts[(s, window_id)] for s in scenarios if (s, window_id) in verdicts}
            results.append(WindowResult(name, worst(seen.values()), len(seen), len(scenarios), seen))
        criteria.append(CriterionStatus(criterion, _name(catalog, criterion), tuple(controls),
                                        tuple(scenarios), tuple(results)))
    return ControlStatus(tuple(name for name, _ in columns), tuple(criteria))


def _name(catalog: Any, item_id: str) -> str:
    try:
        item = catalog.get(item_id)
    except (KeyError, LookupError):
        return ""
    if item is None:
        return ""
    return str(getattr(item, "name", "") or getattr(item, "objective", ""))
