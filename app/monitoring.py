"""Type II monitoring: per criterion and test window, did the control hold, and is testing on schedule?

A Type II report covers a period, and the test windows are its samples. For
each criterion this computes, per window, the latest result of its scenarios
(the rule of :mod:`app.alignment.status`: latest run per scenario, system and
window, the worst result speaks), how many runs failed there before any
re-test, and a trend across the period. Alongside: which windows ran, are due,
overdue or missed; which runs break a dating rule (outside the period or
their window, the rules of :mod:`app.evidence.dating`); possible unapproved
model changes (:mod:`app.changes`); and how runs spread over the months.

The result is plain data: ``redline monitor`` prints it, the cockpit draws it,
and the evidence bundle may embed :meth:`Monitoring.to_json`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from app.alignment.status import NOT_TESTED, OUTSIDE, grid_column, latest_verdicts, placed_runs, worst
from app.evidence.dating import DatingRules, PlacedRun, rules_for, sampling, spread
from app.store.models import AISystem, Engagement, Scenario, TestWindow

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.changes import ChangeFlag

REMEDIATED = "remediated"  # the latest run passes, after a failure in the same window
MARKS: dict[str, str] = {"pass": "✓", "fail": "✗", REMEDIATED: "↻", "review": "?", "error": "!", NOT_TESTED: "·"}
LEGEND = "✓ pass  ✗ fail  ↻ remediated (failed, then re-tested and passed)  ? review  ! error  · not tested"
_SCORE = {"pass": 2, REMEDIATED: 2, "fail": 0}  # review and error say nothing about a trend
BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Cell:
    """One criterion in one window."""

    window: str
    result: str  # pass | fail | review | error | not tested (the latest results, worst first)
    tested: int  # scenarios with a finished run here
    total: int  # scenarios that test the criterion
    failed_runs: int = 0  # runs that failed here, including ones a later re-test superseded

    @property
    def state(self) -> str:
        """``result``, except a pass that followed a failure here reads ``remediated``."""
        return REMEDIATED if self.result == "pass" and self.failed_runs else self.result

    @property
    def mark(self) -> str:
        return MARKS.get(self.state, "?")


@dataclass(frozen=True)
class CriterionRow:
    criterion: str
    name: str
    in_matrix: bool  # False: only scenarios that declare it tested it
    scenarios: tuple[str, ...]
    cells: tuple[Cell, ...]
    trend: str  # improving | regressing | steady | one sample | not tested

    @property
    def strip(self) -> str:
        """One mark per window, e.g. ``✗↻··``: the criterion's story across the period at a glance."""
        return "".join(c.mark for c in self.cells)


@dataclass(frozen=True)
class WindowState:
    name: str
    start: date | None
    end: date | None
    status: str  # ran | due | overdue | missed | upcoming | flagged (the column of runs outside every window)
    runs: int  # operating-effectiveness samples (the OUTSIDE column: runs that count for no window)
    # Runs tagged to this window that are not its samples: (run id, late | early | cancelled | interrupted ...)
    not_counted: tuple[tuple[int, str], ...] = ()

    @property
    def note(self) -> str:
        note = {"ran": f"ran ({self.runs} run{'s' if self.runs != 1 else ''})", "due": "due now, no run yet",
                "overdue": "ended with no run; the period is still open", "missed": "ended with no run",
                "upcoming": "upcoming",
                "flagged": f"{self.runs} run(s) counted in no window (late, early or unplanned)"
                }.get(self.status, self.status)
        if self.not_counted:
            runs = ", ".join(f"run {run} ({kind})" for run, kind in self.not_counted)
            note += f"; {runs} tagged {self.name}, not counted"
        return note


@dataclass(frozen=True)
class RunFlag:
    run_id: int
    scenario_id: str
    system: str
    window: str
    at: datetime | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Monitoring:
    engagement_id: int
    engagement: str
    audit_type: str
    period_start: date | None
    period_end: date | None
    today: date
    windows: tuple[WindowState, ...]
    criteria: tuple[CriterionRow, ...]
    run_flags: tuple[RunFlag, ...] = ()
    changes: tuple[ChangeFlag, ...] = ()
    spread: dict[str, Any] = field(default_factory=dict)

    def flags(self) -> list[str]:
        """Everything an auditor would query, one sentence each, the weightiest first: model changes,
        windows overdue or missed, testing bunched at the end, then each run dated outside its window."""
        lines = [c.message for c in self.changes]
        lines += [f"window {w.name} ({_span(w)}) {w.note}" for w in self.windows if w.status in ("overdue", "missed")]
        if self.spread.get("bunched_at_end"):
            lines.append(str(self.spread.get("note", "")))
        for f in self.run_flags:
            lines.append(f"run {f.run_id} ({f.scenario_id} @ {f.system}): {'; '.join(f.problems)}")
        return lines

    def spread_strip(self) -> str:
        """Runs per month of the period as block characters (``·`` for a month with none)."""
        months = [int(m["runs"]) for m in self.spread.get("months", [])]
        top = max(months, default=0)
        return "".join("·" if not n else BLOCKS[min(len(BLOCKS) - 1, (n * len(BLOCKS) - 1) // top)] for n in months)

    def to_json(self) -> dict[str, Any]:
        return {
            "engagement": self.engagement, "audit_type": self.audit_type,
            "period": [_iso(self.period_start), _iso(self.period_end)], "today": self.today.isoformat(),
            "windows": [{"name": w.name, "start": _iso(w.start), "end": _iso(w.end), "status": w.status,
                         "runs": w.runs, "not_counted": [{"run": r, "kind": k} for r, k in w.not_counted]}
                        for w in self.windows],
            "criteria": [{"criterion": c.criterion, "name": c.name, "in_matrix": c.in_matrix,
                          "scenarios": list(c.scenarios), "trend": c.trend, "strip": c.strip,
                          "windows": [{"window": x.window, "result": x.result, "state": x.state, "tested": x.tested,
                                       "total": x.total, "failed_runs": x.failed_runs} for x in c.cells]}
                         for c in self.criteria],
            "run_flags": [{"run": f.run_id, "scenario": f.scenario_id, "system": f.system, "window": f.window,
                           "at": f.at.isoformat() if f.at else None, "problems": list(f.problems)}
                          for f in self.run_flags],
            "changes": [c.to_json() for c in self.changes],
            "spread": self.spread, "flags": self.flags(),
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _span(window: WindowState) -> str:
    return f"{_iso(window.start)} to {_iso(window.end)}" if window.start else "no dates"


def dating_rules(engagement: Engagement, windows: list[TestWindow]) -> DatingRules:
    """The engagement's dating rules, as the evidence bundle applies them."""
    return rules_for(engagement, windows)


def _window_states(rules: DatingRules, engagement: Engagement, placed: list[PlacedRun],
                   today: date) -> list[WindowState]:
    """Each window's schedule state from its samples alone (late runs and re-tests never make it "ran")."""
    by_name = {w.name: w for w in rules.windows}
    states = []
    for row in sampling(rules, placed, today):
        w = by_name[str(row["window"])]
        status = str(row["status"])
        if status == "missed" and engagement.period_end is not None and today <= engagement.period_end:
            status = "overdue"
        elif status == "not yet due":
            status = "due" if w.start <= today <= w.end else "upcoming"
        states.append(WindowState(w.name, w.start, w.end, status, int(row["runs"]),
                                  tuple((int(x["run"]), str(x["kind"])) for x in row["not_counted"])))
    outside = sum(1 for r in placed if r.placement.kind != "retest" and grid_column(r.placement)[1] is None)
    if outside:
        states.append(WindowState(OUTSIDE, None, None, "flagged", outside))
    return states


def trend_of(cells: list[Cell]) -> str:
    """Compare the last two windows with a conclusive result (pass, remediated or fail)."""
    scores = [_SCORE[c.state] for c in cells if c.state in _SCORE]
    if not scores:
        return "not tested"
    if len(scores) == 1:
        return "one sample"
    last, previous = scores[-1], scores[-2]
    return "improving" if last > previous else "regressing" if last < previous else "steady"


def monitoring(db: Session, engagement_id: int, *, today: date | None = None, catalog: Any = None) -> Monitoring:
    """The Type II monitoring picture of one engagement as of ``today`` (default: today in UTC)."""
    from sqlmodel import select

    from app.alignment import get_engagement, rows_of, windows_of
    from app.changes import change_flags
    from app.runner.plan import today_utc

    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    engagement = get_engagement(db, engagement_id)
    today = today or today_utc()
    windows = windows_of(db, engagement_id)
    rules = dating_rules(engagement, windows)
    placed = placed_runs(db, engagement_id)
    controls_of = {s.id: s.controls for s in db.exec(select(Scenario).where(Scenario.id.in_(  # type: ignore[union-attr]
        sorted({run.scenario_pk for run, _s, _p in placed})))).all()}
    runs = [(run, scenario_id, controls_of.get(run.scenario_pk) or []) for run, scenario_id, _p in placed]
    systems = {s.id: s.name for s in db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id)).all()}
    window_names = {w.id: w.name for w in windows}

    # Which scenarios test which criterion: the client's matrix, then what each scenario run declares.
    tested_by: dict[str, list[str]] = {}
    in_matrix: set[str] = set()
    for row in rows_of(db, engagement_id):
        in_matrix.add(row.criterion)
        tested_by.setdefault(row.criterion, [])
        tested_by[row.criterion] += [s for s in row.scenarios if s not in tested_by[row.criterion]]
    declared: dict[str, set[str]] = {}
    for _run, scenario_id, controls in runs:
        for control in controls or []:
            declared.setdefault(control, set()).add(scenario_id)
    for control in sorted(declared):
        scenarios = tested_by.setdefault(control, [])
        scenarios += sorted(s for s in declared[control] if s not in scenarios)

    verdicts = latest_verdicts(db, engagement_id)
    # Failures are counted per column as the grid places them; a failed re-test is remediation, not a sample.
    failed = Counter((scenario_id, grid_column(p)[1]) for run, scenario_id, p in placed
                     if run.verdict == "fail" and p.kind != "retest")
    columns: list[tuple[str, int | None]] = [(w.name, w.id) for w in windows]
    if any(p.kind != "retest" and grid_column(p)[1] is None for _r, _s, p in placed):
        columns.append((OUTSIDE, None))
    criteria = []
    for criterion, scenarios in tested_by.items():
        cells = []
        for name, window_id in columns:
            seen = [verdicts[(s, window_id)] for s in scenarios if (s, window_id) in verdicts]
            cells.append(Cell(name, worst(seen), len(seen), len(scenarios),
                              sum(failed[(s, window_id)] for s in scenarios)))
        planned = [c for c in cells if c.window != OUTSIDE]
        criteria.append(CriterionRow(criterion, _name(catalog, criterion), criterion in in_matrix, tuple(scenarios),
                                     tuple(cells), trend_of(planned)))

    run_flags = []
    for run, scenario_id, _controls in runs:
        problems = rules.flags(run.started_at or run.created_at, run.window_id)
        if problems:
            run_flags.append(RunFlag(run.id or 0, scenario_id, systems.get(run.system_id, "?"),
                                     window_names.get(run.window_id, "") if run.window_id else "",
                                     run.started_at or run.created_at, tuple(problems)))
    facts = [PlacedRun(run.id or 0, scenario_id, run.system_id, p, run.status) for run, scenario_id, p in placed]
    return Monitoring(
        engagement_id=engagement_id, engagement=engagement.name, audit_type=engagement.audit_type,
        period_start=engagement.period_start, period_end=engagement.period_end, today=today,
        windows=tuple(_window_states(rules, engagement, facts, today)), criteria=tuple(criteria),
        run_flags=tuple(run_flags), changes=tuple(change_flags(db, engagement_id)),
        spread=spread(rules, [run.started_at or run.created_at for run, _s, _c in runs]),
    )


def _name(catalog: Any, ident: str) -> str:
    item = catalog.get(ident) if catalog is not None else None
    return str(getattr(item, "name", "") or getattr(item, "objective", "")) if item is not None else ""


__all__ = ["LEGEND", "MARKS", "Cell", "CriterionRow", "Monitoring", "RunFlag", "WindowState", "monitoring", "trend_of"]
