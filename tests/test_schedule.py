"""Scheduled Type II runs: the printed cron table, systemd units and GitHub workflow, checked as each scheduler
would read them; and a scheduled run started outside every window is recorded as late."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from tests.test_lifecycle_support import demo, make_engagement  # noqa: F401

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
ENV_LINE = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


def _field(text: str, name: str, low: int, high: int) -> set[int]:
    """One cron field, strictly: *, N, A-B, with an optional /STEP, comma-separated; anything else fails."""
    values: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        assert match, f"{name} field {text!r}: {part!r} is not cron syntax"
        span, step = match.group(1), int(match.group(2) or 1)
        assert step >= 1, f"{name}: step 0"
        if span == "*":
            start, end = low, high
        elif "-" in span:
            start, end = (int(x) for x in span.split("-"))
        else:
            start = end = int(span)
        assert low <= start <= end <= high, f"{name} field {text!r} is out of range {low}-{high}"
        values.update(range(start, end + 1, step))
    return values


def parse_cron(table: str) -> list[tuple[list[set[int]], str]]:
    """Every schedule line of a crontab as (five parsed fields, command); comments and VAR=value lines skipped."""
    entries = []
    for line in table.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ENV_LINE.match(line):
            continue
        parts = line.split(None, 5)
        assert len(parts) == 6, f"not five fields and a command: {line!r}"
        fields = [_field(text, *spec) for text, spec in zip(parts[:5], FIELDS, strict=True)]
        entries.append((fields, parts[5]))
    return entries


def _today() -> date:
    return datetime.now(UTC).date()


def _fires(entries: list[tuple[list[set[int]], str]]) -> list[date]:
    """The days of the coming year the table runs on, honouring each line's year guard."""
    days = []
    for fields, command in entries:
        year = int(re.search(r'= (\d{4}) \]', command).group(1))  # type: ignore[union-attr]
        for month in sorted(fields[3]):
            for day in sorted(fields[2]):
                try:
                    days.append(date(year, month, day))
                except ValueError:
                    pass
    return sorted(days)


def test_the_strict_cron_parser_refuses_what_cron_would() -> None:
    for bad in ("60 6 1 1 * x", "0 24 1 1 * x", "0 6 0 1 * x", "0 6 1 13 * x", "0 6 1-x 1 * x", "0 6 1 1 x"):
        with pytest.raises(AssertionError):
            parse_cron(bad)
    [(fields, command)] = parse_cron("5 6 1,15,20-22 3 * echo hi")
    assert fields[2] == {1, 15, 20, 21, 22} and command == "echo hi"


def test_cron_runs_once_in_each_window_or_every_n_days_inside_them(capsys: Any) -> None:
    make_engagement("http://127.0.0.1:9")  # W1 -3..3 (now), W2 +30..+40, W3 +70..+80
    assert main(["schedule", "acme", "--print", "cron", "--at", "07:30", "--redline", "/opt/redline/bin/redline"]) == 0
    table = capsys.readouterr().out
    entries = parse_cron(table)
    assert "CRON_TZ=UTC" in table.splitlines()
    assert _fires(entries) == [_today(), _today() + timedelta(days=30), _today() + timedelta(days=70)]
    for fields, command in entries:
        assert fields[0] == {30} and fields[1] == {7} and fields[4] == set(range(8))
        assert command.endswith("/opt/redline/bin/redline --home " + command.split("--home ")[1].split()[0]
                                + " run acme --scheduled")
        assert "\\%Y" in command  # `%` escaped, or cron would cut the command there

    assert main(["schedule", "acme", "--print", "cron", "--every", "5"]) == 0
    every = _fires(parse_cron(capsys.readouterr().out))
    assert every == [_today() + timedelta(days=d) for d in (0, 30, 35, 40, 70, 75, 80)]
    assert main(["schedule", "acme", "--print", "cron", "--at", "25:00"]) == 2
    assert "--at wants a UTC time as HH:MM" in capsys.readouterr().err


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path, capsys: Any) -> None:
    make_engagement("http://127.0.0.1:9")
    redline = Path(sys.executable).with_name("redline")
    assert main(["schedule", "acme", "--print", "systemd", "--every", "10", "--redline", str(redline),
                 "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    service, timer = tmp_path / "redline-acme.service", tmp_path / "redline-acme.timer"
    text = timer.read_text()
    calendar = re.findall(r"^OnCalendar=(\S+) 06:00:00 UTC$", text, re.M)
    assert calendar == [str(_today() + timedelta(days=d)) for d in (0, 30, 40, 70, 80)]
    assert f"ExecStart={redline} --home " in service.read_text()
    assert service.read_text().rstrip().endswith("run acme --scheduled")
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the units' calendar lines were checked above")
    done = subprocess.run([analyze, "verify", "--man=no", str(service), str(timer)], capture_output=True, text=True,
                          timeout=60)
    # systemd only warns about a calendar line it cannot read, so a clean verify also says nothing.
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    # The check can fail: a broken calendar line is reported.
    timer.write_text(text.replace(str(_today()), f"{_today().year}-13-01"))
    broken = subprocess.run([analyze, "verify", "--man=no", str(service), str(timer)], capture_output=True, text=True,
                            timeout=60)
    assert "Failed to parse calendar specification" in broken.stderr


def test_the_github_workflow_is_valid_yaml_with_the_expected_command(capsys: Any) -> None:
    make_engagement("http://127.0.0.1:9")
    assert main(["schedule", "acme", "--print", "github-actions", "--redline", "redline"]) == 0
    workflow = yaml.safe_load(capsys.readouterr().out)
    assert set(workflow) == {"name", "on", "jobs"}  # "on" quoted, so no YAML 1.1 reader takes it for True
    crons = [entry["cron"] for entry in workflow["on"]["schedule"]]
    fired = []
    for line in crons:
        [(fields, _)] = parse_cron(f"{line} true")
        fired += [(month, day) for month in fields[3] for day in fields[2]]
    expected = [_today() + timedelta(days=d) for d in (0, 30, 70)]
    assert sorted(fired) == sorted((d.month, d.day) for d in expected)
    [step] = workflow["jobs"]["redline-run"]["steps"]
    assert workflow["jobs"]["redline-run"]["runs-on"] == "self-hosted"
    assert re.search(r"^redline --home \S+ run acme --scheduled$", step["run"], re.M)
    assert f'case "$(date -u +%F)" in {"|".join(d.isoformat() for d in expected)})' in step["run"]
    if shutil.which("bash"):  # the guard as the runner's shell reads it: a syntax check, nothing run
        check = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr


def test_a_finished_period_has_nothing_to_schedule(capsys: Any) -> None:
    make_engagement("http://127.0.0.1:9", windows=(("W1", -30, -20),), period=(-60, -1))
    assert main(["schedule", "acme", "--print", "cron"]) == 2
    assert "every test window has ended" in capsys.readouterr().err


def test_a_scheduled_run_outside_every_window_says_so_and_is_recorded_late(demo: Any, tmp_path: Path,  # noqa: F811
                                                                           capsys: Any) -> None:
    make_engagement(demo.base_url, windows=(("W1", -20, -10), ("W2", 10, 20)))
    assert main(["run", "acme", "--scheduled", "--no-probe"]) == 1  # the vulnerable demo fails
    err = capsys.readouterr().err
    assert "outside every test window: it is recorded as late for W1" in err
    assert "late, run on" in err  # the dating rule's own words, said before the run starts
    out = tmp_path / "b.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        [run] = json.loads(archive.read("data/runs.json"))
    assert (run["window"], run["placement"], run["is_sample"], run["counted_window"]) == ("W1", "late", False, "")
