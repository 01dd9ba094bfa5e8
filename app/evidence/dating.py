"""Type I and Type II dating rules: which tests count, and how they spread across the period.

Type II evidence from outside the audit period does not count, and a test
should fall inside the window it was planned for; a Type I test must be dated
on or near the "as of" date. The bundle flags every run that breaks a rule
rather than dropping it: the auditor decides, but must be told. Dates compare
in UTC, the store's timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Optional

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
class DatingRules:
    """The engagement's dating facts, enough to judge any run's timestamp."""

    audit_type: str  # type1 | type2
    period_start: Optional[date]
    period_end: Optional[date]
    as_of: Optional[date]
    tolerance_days: int
    windows: tuple[WindowDates, ...]

    def flags(self, at: Optional[datetime], window_id: Optional[int]) -> list[str]:
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
            if not window.start <= day <= window.end:
                found.append(f"outside its test window {window.label()}")
        elif self.windows:
            found.append("not in any planned test window")
        return found

    def window(self, window_id: Optional[int]) -> Optional[WindowDates]:
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


def sampling(rules: DatingRules, runs_per_window: dict[int, int], data_as_of: Optional[date]) -> list[dict[str, object]]:
    """Windows planned, ran and missed: the Type II sample, one row per planned window.

    A window with no runs is "missed" once it has ended before the evidence's
    own as-of date (the last recorded audit event), else "not yet due": the
    bundle never asks the clock, so the same data always reads the same way.
    """
    rows: list[dict[str, object]] = []
    for window in rules.windows:
        count = runs_per_window.get(window.id, 0)
        if count:
            status = "ran"
        elif data_as_of is not None and window.end < data_as_of:
            status = "missed"
        else:
            status = "not yet due"
        rows.append({"window": window.name, "start": window.start.isoformat(), "end": window.end.isoformat(),
                     "runs": count, "status": status})
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
