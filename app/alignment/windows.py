"""Test windows: the Type II samples, suggested across the period and described for people.

Auditors want evidence spread through the period, not bunched at its end, so
the suggestion places one short window in the middle of each slice (quarter,
month or half) of the period. Everything here is pure date arithmetic: the
caller passes ``today`` so screens and snapshots stay deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from app.glance import period_label, window_countdown  # noqa: F401  (re-exported: Home reads them before the store)

Every = Literal["month", "quarter", "half"]
_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half": 6}
_PREFIX: dict[str, str] = {"month": "M", "quarter": "Q", "half": "H"}
DEFAULT_WINDOW_DAYS = 14


@dataclass(frozen=True)
class WindowPlan:
    """A window before it is stored (or as read back): name and inclusive dates."""

    name: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _add_months(day: date, months: int) -> date:
    """The same day-of-month ``months`` later, clamped to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def period_slices(start: date, end: date, every: Every = "quarter") -> list[tuple[date, date]]:
    """Consecutive slices of ``every`` starting at ``start``; the last one is cut at ``end``."""
    if every not in _MONTHS:
        raise ValueError(f"every must be one of {', '.join(_MONTHS)}, not {every!r}")
    if end < start:
        raise ValueError("the period ends before it starts")
    slices: list[tuple[date, date]] = []
    cursor, step = start, 0
    while cursor <= end:
        step += 1
        following = _add_months(start, _MONTHS[every] * step)
        slices.append((cursor, min(end, following - timedelta(days=1))))
        cursor = following
    return slices


def suggest_windows(period_start: date, period_end: date, every: Every = "quarter",
                    *, length_days: int = DEFAULT_WINDOW_DAYS, today: date | None = None) -> list[WindowPlan]:
    """One window of ``length_days`` centred in each slice of the period, named Q1, Q2… (or M1…, H1…).

    A slice shorter than the window gets a window as long as the slice, so every
    suggestion lies inside the period (the engagement file requires it).

    With ``today``, nothing is suggested that can no longer be run: a window
    that would start before today is centred instead in what is left of its
    slice, and a slice that has ended gets no window (it keeps its number, so
    Q4 is still Q4). A period that has ended leaves nothing to suggest, and
    that is an error the caller can show, not an empty plan.
    """
    if length_days < 1:
        raise ValueError("a window lasts at least one day")
    if today is not None and today > period_end:
        raise ValueError(f"the audit period ended on {period_end.isoformat()}; no window can still be run in it")
    plans: list[WindowPlan] = []
    for index, (first, last) in enumerate(period_slices(period_start, period_end, every), start=1):
        plan = _centred(f"{_PREFIX[every]}{index}", first, last, length_days)
        if today is not None and plan.start < today:
            if last < today:
                continue  # this slice is over
            plan = _centred(plan.name, today, last, length_days)
        plans.append(plan)
    return plans


def _centred(name: str, first: date, last: date, length_days: int) -> WindowPlan:
    """A window of ``length_days`` (or all of ``first``..``last`` if shorter) in the middle of that span."""
    span = (last - first).days + 1
    days = min(length_days, span)
    start = first + timedelta(days=(span - days) // 2)
    return WindowPlan(name, start, start + timedelta(days=days - 1))


def window_problems(windows: Sequence[WindowPlan], period_start: date | None,
                    period_end: date | None) -> list[str]:
    """Plain-words reasons a window plan cannot be saved; empty means it can."""
    problems: list[str] = []
    seen: set[str] = set()
    for window in windows:
        name = window.name.strip()
        if not name:
            problems.append("a window needs a name")
        elif name in seen:
            problems.append(f"window name '{name}' is used twice")
        seen.add(name)
        if window.end < window.start:
            problems.append(f"window '{name}' ends before it starts")
        if period_start and period_end and (window.start < period_start or window.end > period_end):
            problems.append(f"window '{name}' falls outside the audit period "
                            f"{period_start.isoformat()}..{period_end.isoformat()}")
    return problems


def window_at(windows: Iterable[WindowPlan], day: date) -> WindowPlan | None:
    """The window containing ``day``, if any (the earliest, should windows overlap)."""
    for window in sorted(windows, key=lambda w: (w.start, w.name)):
        if window.start <= day <= window.end:
            return window
    return None


def next_window_label(windows: Iterable[WindowPlan], today: date) -> str:
    """What Home shows: ``Q2 now``, ``Q2 in 12d``, ``done`` when all are past, ``–`` with none planned."""
    ordered = sorted(windows, key=lambda w: (w.start, w.name))
    if not ordered:
        return "–"
    upcoming = next((w for w in ordered if w.end >= today), None)
    return window_countdown(upcoming.name, upcoming.start, today) if upcoming else "done"




def calendar_year(today: date) -> tuple[date, date]:
    """The calendar year containing ``today`` (the demo engagement's period)."""
    return date(today.year, 1, 1), date(today.year, 12, 31)
