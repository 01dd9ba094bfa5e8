"""A text-drawn calendar strip: the test windows laid against the audit period.

It shows at a glance whether testing is spread through the period (what a
Type II auditor looks for) or bunched at its end. Drawn with plain characters
so it fits any width from about 30 columns up, including 80×24.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from app.alignment.windows import WindowPlan

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _column(day: date, start: date, end: date, width: int) -> int:
    total = max(1, (end - start).days)
    offset = min(max((day - start).days, 0), total)
    return round(offset / total * (width - 1))


def _place(line: list[str], label: str, at: int) -> bool:
    """Write ``label`` at ``at`` if it fits without touching another label."""
    if len(label) > len(line):
        return False
    at = max(0, min(at, len(line) - len(label)))
    lo, hi = max(0, at - 1), min(len(line), at + len(label) + 1)
    if any(ch != " " for ch in line[lo:hi]):
        return False
    line[at:at + len(label)] = list(label)
    return True


def today_marker(column: int, width: int) -> str:
    """``▲ today`` with the arrow exactly at ``column``; the word goes left of it near the right edge.

    Shifting the whole label to fit (as names are) would move the arrow off the
    day it points at, into the wrong window.
    """
    line = [" "] * width
    label = "▲ today" if column + len("▲ today") <= width else "today ▲"
    at = column if label.startswith("▲") else column - len("today ")
    if at < 0:  # narrower than the label: the arrow alone
        line[column] = "▲"
        return "".join(line)
    line[at:at + len(label)] = list(label)
    return "".join(line)


def strip_lines(start: date, end: date, windows: Sequence[WindowPlan], width: int,
                today: date | None = None) -> list[Text]:
    """Month ruler, the period bar with windows as blocks, window names, and a today marker."""
    width = max(12, width)
    months = [" "] * width
    first_of_month = date(start.year, start.month, 1)
    while first_of_month <= end:
        label = _MONTHS[first_of_month.month - 1] if width >= 48 else _MONTHS[first_of_month.month - 1][0]
        if first_of_month.month == 1 and first_of_month > start:
            label = str(first_of_month.year)  # a period across years marks where the year turns
        _place(months, label, _column(max(first_of_month, start), start, end, width))
        year, month = divmod(first_of_month.month, 12)
        first_of_month = date(first_of_month.year + year, month + 1, 1)
    bar = Text("─" * width, style="dim")
    names = [" "] * width
    ordered = sorted(windows, key=lambda w: (w.start, w.name))
    for window in ordered:
        lo = _column(window.start, start, end, width)
        hi = max(lo, _column(window.end, start, end, width))
        inside = window.start >= start and window.end <= end
        bar = bar[:lo] + Text("█" * (hi - lo + 1), style="bold green" if inside else "bold red") + bar[hi + 1:]
        _place(names, window.name, (lo + hi) // 2 - len(window.name) // 2)
    lines = [Text("".join(months), style="dim"), bar, Text("".join(names))]
    if today is not None and start <= today <= end:
        lines.append(Text(today_marker(_column(today, start, end, width), width), style="cyan"))
    else:
        lines.append(Text(""))
    return lines


class CalendarStrip(Widget):
    """The period and its windows; call :meth:`show` with the plan to draw."""

    DEFAULT_CSS = """
    CalendarStrip { height: 4; width: 1fr; }
    """
    plan: reactive[tuple[date | None, date | None, tuple[WindowPlan, ...], date | None]] = reactive(
        (None, None, (), None))

    def show(self, start: date | None, end: date | None, windows: Sequence[WindowPlan],
             today: date | None = None) -> None:
        self.plan = (start, end, tuple(windows), today)

    def render(self) -> Text:
        start, end, windows, today = self.plan
        if start is None or end is None or end < start:
            return Text("set the audit period to see the windows against it", style="dim")
        return Text("\n").join(strip_lines(start, end, windows, self.size.width, today))
