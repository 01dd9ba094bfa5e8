"""The engagements list, read with plain ``sqlite3``: the one reading both the list command and Home use.

Home shows its rows in the cockpit's first frames. Reading them through the
ORM would wait for sqlmodel, pydantic and the schema check to import and run
(a quarter of a second and more), so the list is read here with the standard
library alone, on any ``sqlite3`` connection: the store session's own
connection for :func:`app.engagements.list_engagements`, or a read-only one
opened by :func:`glance` before the store is ready. Nothing here writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from app.lifecycle import OPEN_STATUSES


@dataclass(frozen=True)
class EngagementSummary:
    """One line of the engagements list: what it is, and what needs attention."""

    name: str
    client: str
    audit_type: str
    period_start: date | None
    period_end: date | None
    as_of: date | None
    systems_in_scope: int
    windows: int
    next_window: str | None  # the current or next window, by name
    next_window_start: date | None
    next_window_end: date | None
    open_findings: int
    open_by_severity: dict[str, int]
    is_demo: bool
    engagement_id: int = 0  # for the screens that open it; not part of the list's JSON

    def to_json(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.__dict__.items() if k != "engagement_id"}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _day(value: str | date | None) -> date | None:
    """A stored date: text from SQLite, a date from PostgreSQL's driver."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value[:10]) if value else None


def summaries(conn: sqlite3.Connection, today: date) -> list[EngagementSummary]:
    """Every engagement by name, with its scope, next test window and open findings."""
    systems: dict[int, int] = dict(conn.execute(
        "SELECT engagement_id, SUM(CASE WHEN in_scope THEN 1 ELSE 0 END) FROM aisystem GROUP BY engagement_id").fetchall())
    windows: dict[int, list[tuple[date, str, date]]] = {}
    for engagement_id, name, start, end in conn.execute(
            'SELECT engagement_id, name, start, "end" FROM testwindow'):
        windows.setdefault(engagement_id, []).append((_day(start) or date.min, name, _day(end) or date.min))
    open_by: dict[int, dict[str, int]] = {}
    # The statuses are Redline's own constants, written into the query so that it has no placeholder:
    # sqlite3 and PostgreSQL's driver spell placeholders differently, and this reading serves both.
    statuses = ",".join(f"'{status}'" for status in OPEN_STATUSES if status.isidentifier())
    for engagement_id, severity in conn.execute(
            f"SELECT engagement_id, severity FROM finding WHERE status IN ({statuses}) ORDER BY id"):
        counts = open_by.setdefault(engagement_id, {})
        counts[severity] = counts.get(severity, 0) + 1
    out: list[EngagementSummary] = []
    for eid, name, client, audit_type, start, end, as_of, is_demo in conn.execute(
            "SELECT id, name, client, audit_type, period_start, period_end, as_of, is_demo FROM engagement "
            "ORDER BY name"):
        planned = sorted(windows.get(eid, []), key=lambda w: (w[0], w[1]))
        upcoming = next((w for w in planned if w[2] >= today), None)
        by_severity = open_by.get(eid, {})
        out.append(EngagementSummary(
            name=name, client=client, audit_type=audit_type, period_start=_day(start), period_end=_day(end),
            as_of=_day(as_of), systems_in_scope=int(systems.get(eid) or 0), windows=len(planned),
            next_window=upcoming[1] if upcoming else None, next_window_start=upcoming[0] if upcoming else None,
            next_window_end=upcoming[2] if upcoming else None, open_findings=sum(by_severity.values()),
            open_by_severity=by_severity, is_demo=bool(is_demo), engagement_id=int(eid)))
    return out


def glance(path: Path, today: date) -> list[EngagementSummary] | None:
    """The list read from the store file at ``path`` without the store layer; None when it cannot be read yet.

    The file is opened read-only and never created. A store that is missing,
    locked for long, or older than the tables read here gives None: the
    caller waits for the store to open, as it would have anyway.
    """
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error:
        return None
    try:
        return summaries(conn, today)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def window_countdown(name: str, start: date, today: date) -> str:
    """``Q2 now`` once the window has started (the caller passes the current or next one), else ``Q2 in 12d``."""
    return f"{name} now" if start <= today else f"{name} in {(start - today).days}d"


def period_label(start: date | None, end: date | None) -> str:
    """A compact period: ``2026`` for a calendar year, ``2026-01..12`` within a year, else both dates."""
    if start is None or end is None:
        return "–"
    if start == date(start.year, 1, 1) and end == date(start.year, 12, 31):
        return str(start.year)
    if start.year == end.year and start.day == 1 and (end + timedelta(days=1)).day == 1:
        return f"{start.year}-{start.month:02d}..{end.month:02d}"
    return f"{start.isoformat()}..{end.isoformat()}"
