"""Scheduled Type II runs: a ready cron table, systemd timer or GitHub Actions workflow for an engagement.

A Type II report needs samples spread across the period, one or more per test
window; a person remembering to run the library in each window is the weak
link. :func:`plan_dates` turns the engagement's windows into the days a run
should start (once in each window, or every ``every_days`` days inside each),
and the printers write the same days in each scheduler's own syntax, all in
UTC, the store's timezone. Every form runs the same command,
``redline run ENGAGEMENT --scheduled``.

A scheduled run started outside every window (a machine that was off, a
timer that caught up) is not silently counted: :func:`scheduled_window` tags
it with the window it was meant for, so the dating rules
(:mod:`app.evidence.dating`) record it as late (or early), and the run says
so before it starts. Nothing here judges a run; that stays the dating rules'.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import UsageError

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Engagement, TestWindow

FORMS = ("cron", "systemd", "github-actions")


@dataclass(frozen=True)
class PlannedDay:
    window: str
    day: date


@dataclass(frozen=True)
class ScheduleSpec:
    engagement: str
    days: tuple[PlannedDay, ...]
    skipped: tuple[str, ...]  # windows left out, each with the reason
    hour: int
    minute: int
    redline: str  # the executable to call
    home: str  # the data dir the runs write to

    def command(self) -> list[str]:
        """``redline --home HOME run ENGAGEMENT --scheduled`` as arguments."""
        return [self.redline, "--home", self.home, "run", self.engagement, "--scheduled"]

    def shell(self) -> str:
        return " ".join(shlex.quote(a) for a in self.command())


def _windows(db: Session, engagement: Engagement) -> list[tuple[str, date, date]]:
    from sqlmodel import select

    from app.store.models import TestWindow

    rows = list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement.id)
                        .order_by(TestWindow.start)).all())  # type: ignore[arg-type]
    if rows:
        return [(w.name, w.start, w.end) for w in rows]
    if engagement.audit_type == "type1" and engagement.as_of is not None:
        return [("as-of", engagement.as_of, engagement.as_of)]
    raise UsageError(f"engagement '{engagement.name}' has no test windows (and no as-of date) to schedule runs in; "
                     "plan them in the wizard's Timing step or the engagement file")


def plan_dates(windows: list[tuple[str, date, date]], today: date,
               every_days: int | None = None) -> tuple[list[PlannedDay], list[str]]:
    """The days a scheduled run starts: each window's first day from ``today`` on, then every ``every_days``
    days while inside the window. A window that has ended is skipped, with the reason."""
    if every_days is not None and every_days < 1:
        raise UsageError("--every must be at least 1 day")
    days: list[PlannedDay] = []
    skipped: list[str] = []
    for name, start, end in windows:
        if end < today:
            skipped.append(f"{name} ({start} to {end}) ended before {today}")
            continue
        day = max(start, today)
        while day <= end:
            days.append(PlannedDay(name, day))
            if every_days is None:
                break
            day += timedelta(days=every_days)
    if not days:
        raise UsageError("every test window has ended; there is nothing left to schedule"
                         + (f" ({'; '.join(skipped)})" if skipped else ""))
    return days, skipped


def build_spec(db: Session, engagement: Engagement, *, today: date, at: str = "06:00",
               every_days: int | None = None, redline: str | None = None,
               home: Path | None = None) -> ScheduleSpec:
    """Everything a printer needs: the days, the time (UTC) and the command."""
    import shutil
    import sys

    from app.paths import home_dir

    try:
        hour, minute = (int(part) for part in at.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError
    except ValueError:
        raise UsageError(f"--at wants a UTC time as HH:MM, not {at!r}") from None
    days, skipped = plan_dates(_windows(db, engagement), today, every_days)
    exe = redline or shutil.which("redline") or str(Path(sys.executable).with_name("redline"))
    return ScheduleSpec(engagement.name, tuple(days), tuple(skipped), hour, minute, str(Path(exe).expanduser()),
                        str((home or home_dir(create=False)).expanduser().resolve()))


def _by_month(days: tuple[PlannedDay, ...]) -> dict[tuple[int, int], list[PlannedDay]]:
    groups: dict[tuple[int, int], list[PlannedDay]] = {}
    for planned in days:
        groups.setdefault((planned.day.year, planned.day.month), []).append(planned)
    return groups


def _header(spec: ScheduleSpec, comment: str) -> list[str]:
    lines = [f"{comment} Redline: scheduled Type II runs of engagement {spec.engagement} (times in UTC).",
             f"{comment} Each run tags itself with the test window it falls in; one started outside every window",
             f"{comment} is recorded as late (or early) and counts for no window."]
    lines += [f"{comment} Not scheduled: {reason}" for reason in spec.skipped]
    return lines


def cron_table(spec: ScheduleSpec) -> str:
    """A crontab: one line per month holding run days, guarded by year (cron has no year field)."""
    lines = _header(spec, "#") + ["# CRON_TZ is honoured by cronie; elsewhere the machine's clock must be UTC.",
                                  "CRON_TZ=UTC"]
    for (year, month), planned in _by_month(spec.days).items():
        windows = ", ".join(dict.fromkeys(p.window for p in planned))
        days = ",".join(str(p.day.day) for p in planned)
        # `%` ends a cron command unless escaped.
        guard = f'[ "$(date -u +\\%Y)" = {year} ]'
        lines.append(f"# {windows}")
        lines.append(f"{spec.minute} {spec.hour} {days} {month} * {guard} && {spec.shell().replace('%', chr(92) + '%')}")
    return "\n".join(lines) + "\n"


def systemd_units(spec: ScheduleSpec, unit: str = "") -> dict[str, str]:
    """A oneshot service and its timer; the timer names each run day exactly, and catches up after downtime."""
    name = unit or f"redline-{_unit_safe(spec.engagement)}"
    service = "\n".join([
        *_header(spec, "#"),
        "[Unit]",
        f"Description=Redline scheduled run of engagement {_systemd_text(spec.engagement)}",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={' '.join(_systemd_arg(a) for a in spec.command())}",
        "",
    ])
    calendar = [f"OnCalendar={p.day.isoformat()} {spec.hour:02d}:{spec.minute:02d}:00 UTC" for p in spec.days]
    timer = "\n".join([
        *_header(spec, "#"),
        "[Unit]",
        f"Description=Redline scheduled runs of engagement {_systemd_text(spec.engagement)}",
        "",
        "[Timer]",
        *calendar,
        "# A day missed while the machine was off runs at boot; the run then says whether it is late.",
        "Persistent=true",
        f"Unit={name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])
    return {f"{name}.service": service, f"{name}.timer": timer}


def github_workflow(spec: ScheduleSpec, runner: str = "self-hosted") -> str:
    """A workflow whose schedule names each run day; it runs where the store lives (a self-hosted runner)."""
    import json

    crons = [f"{spec.minute} {spec.hour} {','.join(str(p.day.day) for p in planned)} {month} *"
             for (_, month), planned in _by_month(spec.days).items()]
    # cron has no year: a scheduled start on a day that is not a planned run day (next year's same date) stops
    # here; a start by hand (workflow_dispatch) always runs, and a late one is recorded as late.
    planned = "|".join(p.day.isoformat() for p in spec.days)
    script = ('if [ "$GITHUB_EVENT_NAME" = schedule ]; then\n'
              f'  case "$(date -u +%F)" in {planned}) ;; *) echo "not a planned run day: nothing to run"; exit 0;; '
              'esac\n'
              'fi\n'
              f"{spec.shell()}\n")
    lines = [*_header(spec, "#"),
             "# The store lives on the runner's machine, so the runner is self-hosted by default.",
             f"name: {json.dumps(f'Redline scheduled runs: {spec.engagement}')}",
             "\"on\":",
             "  workflow_dispatch: {}",
             "  schedule:"]
    lines += [f"    - cron: {json.dumps(c)}" for c in crons]
    lines += ["jobs:",
              "  redline-run:",
              f"    runs-on: {json.dumps(runner)}",
              "    steps:",
              "      - name: Run the engagement's library (tags the run with its test window)",
              "        shell: bash",
              "        run: |"]
    lines += [f"          {line}" for line in script.splitlines()]
    return "\n".join(lines) + "\n"


def scheduled_window(db: Session, engagement: Engagement, today: date) -> tuple[TestWindow | None, str]:
    """The window a scheduled run made ``today`` belongs to, and what to tell the tester ("" when it counts).

    Inside a window: that window. Outside every window: the latest window
    that has ended (the run is late for it), else the next one (early), so
    the dating rules record exactly what happened instead of an unplanned run.
    """
    from sqlmodel import select

    from app.runner.plan import window_for
    from app.store.models import TestWindow

    inside = window_for(db, engagement, on=today)
    if inside is not None:
        return inside, ""
    rows = list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement.id)
                        .order_by(TestWindow.start)).all())  # type: ignore[arg-type]
    ended = [w for w in rows if w.end < today]
    if ended:
        window = ended[-1]
        return window, (f"this scheduled run started on {today}, outside every test window: it is recorded as late "
                        f"for {window.name} (which ended {window.end}) and counts for no window")
    upcoming = [w for w in rows if w.start > today]
    if upcoming:
        window = upcoming[0]
        return window, (f"this scheduled run started on {today}, before any test window: it is recorded as early "
                        f"for {window.name} (which starts {window.start}) and counts for no window")
    return None, ""


def _unit_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "engagement"


def _systemd_text(text: str) -> str:
    return "".join(c for c in text if c.isprintable()).replace("%", "%%")


def _systemd_arg(arg: str) -> str:
    """One ExecStart argument: quoted when it holds a space or quote; ``%`` and ``$`` escaped for systemd."""
    escaped = arg.replace("\\", "\\\\").replace("%", "%%").replace("$", "$$").replace('"', '\\"')
    return f'"{escaped}"' if any(c in arg for c in " \t\"'") or not arg else escaped


__all__ = ["FORMS", "PlannedDay", "ScheduleSpec", "build_spec", "cron_table", "github_workflow", "plan_dates",
           "scheduled_window", "systemd_units"]
