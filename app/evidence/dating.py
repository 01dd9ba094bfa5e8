"""Type I and Type II dating rules: which tests count, and how they spread across the period.

Type II evidence from outside the audit period does not count, and a test
should fall inside the window it was planned for; a Type I test must be dated
on or near the "as of" date. The bundle flags every run that breaks a rule
rather than dropping it: the auditor decides, but must be told. Dates compare
in UTC, the store's timezone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# More than this share of the period's runs in its final month reads as testing bunched at the end.
BUNCHED_SHARE = 0.5


@dataclass(frozen=True)
class WindowDates:
    id: int
    name: str
    start: date
    end: date

    def label(self) -> str:
        return f"{self.name} ({self.start.isoformat()} to {self.end.isoformat()})"


@dataclass(frozen=True)
class Placement:
    """Where one run's evidence counts (see :meth:`DatingRules.place`)."""

    kind: str  # sample | retest | late | early | unplanned | outside period | undated
    window_id: int | None  # the window the run ran inside (a sample or a re-test there); else None
    tagged_id: int | None  # the window the run was tagged with

    @property
    def is_sample(self) -> bool:
        """An operating-effectiveness sample: inside its window's dates, and not a re-test."""
        return self.kind == "sample"


@dataclass(frozen=True)
class DatingRules:
    """The engagement's dating facts, enough to judge any run's timestamp."""

    audit_type: str  # type1 | type2
    period_start: date | None
    period_end: date | None
    as_of: date | None
    tolerance_days: int
    windows: tuple[WindowDates, ...]

    def flags(self, at: datetime | None, window_id: int | None) -> list[str]:
        """Every dating rule a test run at ``at`` (tagged with ``window_id``) breaks; empty when it counts."""
        if at is None:
            return []
        day = at.date()
        found: list[str] = []
        if self.audit_type == "type2" and self.period_start and self.period_end:
            if not self.period_start <= day <= self.period_end:
                found.append(f"outside the audit period ({self.period_start.isoformat()} to "
                             f"{self.period_end.isoformat()})")
        if self.audit_type == "type1" and self.as_of:
            distance = abs((day - self.as_of).days)
            if distance > self.tolerance_days:
                found.append(f"{distance} days from the as-of date {self.as_of.isoformat()} "
                             f"(tolerance {self.tolerance_days} days)")
        window = self.window(window_id)
        if window is not None:
            if day > window.end:
                found.append(f"outside its test window {window.label()}: late, run on {day.isoformat()} after "
                             f"the window ended; not counted as {window.name}'s sample")
            elif day < window.start:
                found.append(f"outside its test window {window.label()}: early, run on {day.isoformat()} before "
                             f"the window began; not counted as {window.name}'s sample")
        elif self.windows:
            found.append("not in any planned test window")
        return found

    def place(self, at: datetime | None, window_id: int | None, retest_of: int | None = None) -> Placement:
        """Which window a run counts for, and as what: the one rule every Type II view follows.

        A run is a window's operating-effectiveness sample only if it ran inside
        that window's dates (and the audit period) and is not a re-test. A run
        tagged to a window it ran after or before is late or early: recorded,
        flagged, never counted, so a back-filled window stays missed. A re-test
        inside its window is remediation verification for that window, not a
        sample of it.
        """
        window = self.window(window_id)
        tagged = window.id if window is not None else None
        if at is None:
            return Placement("retest" if retest_of is not None else "undated", None, tagged)
        day = at.date()
        in_period = not (self.audit_type == "type2" and self.period_start and self.period_end
                         and not self.period_start <= day <= self.period_end)
        inside = window is not None and window.start <= day <= window.end and in_period
        if retest_of is not None:
            return Placement("retest", tagged if inside else None, tagged)
        if inside:
            return Placement("sample", tagged, tagged)
        if window is not None and day > window.end:
            return Placement("late", None, tagged)
        if window is not None and day < window.start:
            return Placement("early", None, tagged)
        if not in_period:
            return Placement("outside period", None, tagged)
        if self.windows:
            return Placement("unplanned", None, None)
        return Placement("sample" if not self.flags(at, None) else "outside period", None, None)

    def window(self, window_id: int | None) -> WindowDates | None:
        return next((w for w in self.windows if w.id == window_id), None)

    def describe(self) -> str:
        """One sentence for the report's header."""
        if self.audit_type == "type1":
            when = self.as_of.isoformat() if self.as_of else "(no as-of date set)"
            return f"Type I, as of {when}; tests count within {self.tolerance_days} days of that date."
        if self.period_start and self.period_end:
            return (f"Type II, period {self.period_start.isoformat()} to {self.period_end.isoformat()}; "
                    "tests outside the period or their window are flagged.")
        return "Type II (no period set)."


def rules_for(engagement: Any, windows: Iterable[Any]) -> DatingRules:
    """The dating rules of an engagement row and its test window rows (the one way they are built)."""
    return DatingRules(engagement.audit_type, engagement.period_start, engagement.period_end, engagement.as_of,
                       engagement.type1_tolerance_days,
                       tuple(WindowDates(w.id or 0, w.name, w.start, w.end) for w in windows))


@dataclass(frozen=True)
class PlacedRun:
    """The facts about one run that the sampling table needs."""

    run_id: int
    scenario_id: str
    system_id: int
    placement: Placement
    status: str = "finished"  # a cancelled or interrupted run tested nothing to a conclusion: no sample

    @property
    def counts(self) -> bool:
        return self.placement.is_sample and self.status == "finished"


def sampling(rules: DatingRules, runs: Iterable[PlacedRun], data_as_of: date | None,
             scheduled: set[tuple[str, int]] | None = None) -> list[dict[str, Any]]:
    """Per planned window: the population, the sample that ran, what did not count, and the status.

    The population is the scheduled runs (``scheduled``: the control matrix's
    scenarios x in-scope systems, the same plan for every window). The sample
    is the runs that ran inside the window's dates and are not re-tests
    (:meth:`DatingRules.place`) and finished. Late or early runs tagged to the
    window, runs there that were cancelled or interrupted, and re-tests run
    there are listed apart and never make the window "ran". A
    window without a sample reads "missed" once it ended before the evidence's
    own as-of date (the last recorded audit event), else "not yet due": the
    bundle never asks the clock, so the same data always reads the same way.
    """
    placed = list(runs)
    rows: list[dict[str, Any]] = []
    for window in rules.windows:
        sample = [r for r in placed if r.counts and r.placement.window_id == window.id]
        late = [r for r in placed if r.placement.tagged_id == window.id and (
            r.placement.kind in ("late", "early", "outside period") or (r.placement.is_sample and not r.counts))]
        retests = [r for r in placed if r.placement.kind == "retest" and r.placement.tagged_id == window.id]
        pairs = {(r.scenario_id, r.system_id) for r in sample}
        if sample:
            status = "ran"
        elif data_as_of is not None and window.end < data_as_of:
            status = "missed"
        else:
            status = "not yet due"
        rows.append({"window": window.name, "window_id": window.id, "start": window.start.isoformat(),
                     "end": window.end.isoformat(), "runs": len(sample), "status": status,
                     "population": len(scheduled) if scheduled is not None else None,
                     "sampled": len(pairs & scheduled) if scheduled is not None else len(pairs),
                     "unscheduled": len(pairs - scheduled) if scheduled is not None else 0,
                     "not_counted": [{"run": r.run_id, "kind": r.placement.kind if not r.placement.is_sample
                                      else r.status} for r in late],
                     "retests": [r.run_id for r in retests]})
    return rows


def _months(start: date, end: date) -> list[str]:
    months: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def spread(rules: DatingRules, timestamps: Iterable[datetime]) -> dict[str, object]:
    """Runs per month across the period, and whether testing was bunched at its end.

    Months are the natural unit for a 6-12 month period; runs outside the
    period are counted apart (they are flagged per run already).
    """
    stamps = [t.date() for t in timestamps]
    if not (rules.audit_type == "type2" and rules.period_start and rules.period_end):
        return {"months": [], "outside": 0, "months_tested": 0, "months_in_period": 0, "bunched_at_end": False,
                "note": "Spread across a period applies to Type II engagements."}
    months = _months(rules.period_start, rules.period_end)
    counts = dict.fromkeys(months, 0)
    outside = 0
    for day in stamps:
        if rules.period_start <= day <= rules.period_end:
            counts[f"{day.year:04d}-{day.month:02d}"] += 1
        else:
            outside += 1
    inside = sum(counts.values())
    last = counts[months[-1]] if months else 0
    bunched = len(months) > 1 and inside > 0 and last / inside > BUNCHED_SHARE
    tested = sum(1 for m in months if counts[m])
    if not inside:
        note = "No test in the period."
    elif bunched:
        note = f"{last} of {inside} runs fall in the final month ({months[-1]}): testing is bunched at the end."
    else:
        note = f"Tests fall in {tested} of {len(months)} months of the period."
    return {"months": [{"month": m, "runs": counts[m]} for m in months], "outside": outside,
            "months_tested": tested, "months_in_period": len(months), "bunched_at_end": bunched, "note": note}
