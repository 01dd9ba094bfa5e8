"""The runner's pure parts: planning, streaming redaction, percentiles, exit codes and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.errors import UsageError
from app.junit import junit_xml
from app.runner import RunOutcome, TurnLog
from app.runner.console import exit_code
from app.runner.record import SecretScrubber
from app.runner.stats import burst_summary, latency_summary, percentile
from tests.test_runner_support import engagement_file, import_engagement_file, openai_system, plan, scenario_file


def _engagement(tmp_path: Path, **options: Any) -> Any:
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "local-one", "turns": [{"user": "hi"}],
                           "detectors": [{"type": "contains", "text": "x"}]})
    systems = [openai_system("bot-a", "http://127.0.0.1:9/v1"), openai_system("bot-b", "http://127.0.0.1:9/v1"),
               {**openai_system("legacy", "http://127.0.0.1:9/v1"), "in_scope": False}]
    path = engagement_file(tmp_path, systems, scenario_dir=folder, **options)
    return import_engagement_file(path)


def test_plan_follows_the_control_matrix_and_tags_the_current_window(tmp_path: Path) -> None:
    engagement = _engagement(tmp_path, controls=[
        {"criterion": "CC6.6", "scenarios": ["pi-direct-override", "local-one"]},
        {"criterion": "AI-SEC-01", "scenarios": ["pi-direct-override"]}])
    planned = plan(engagement)
    assert [(p.scenario.spec.id, p.system.name) for p in planned] == [
        ("pi-direct-override", "bot-a"), ("pi-direct-override", "bot-b"), ("local-one", "bot-a"), ("local-one", "bot-b")]
    assert {p.window.name for p in planned} == {"W-now"}
    assert [p.system.name for p in plan(engagement, scenario_ids=["local-one"], system="legacy")] == ["legacy"]
    assert [p.window.name for p in plan(engagement, scenario_ids=["local-one"], window="W-past")] == ["W-past"] * 2
    everything = plan(engagement, all_=True, system="bot-a")
    ids = {p.scenario.spec.id for p in everything}
    assert {"local-one", "pi-direct-override"} <= ids and len(ids) > 2


def test_plan_refuses_what_it_cannot_run(tmp_path: Path) -> None:
    engagement = _engagement(tmp_path)
    with pytest.raises(UsageError, match="maps no scenarios"):
        plan(engagement)
    with pytest.raises(UsageError, match="unknown scenario id.*nope"):
        plan(engagement, scenario_ids=["nope"])
    with pytest.raises(UsageError, match="no system 'ghost'.*bot-a"):
        plan(engagement, scenario_ids=["local-one"], system="ghost")
    with pytest.raises(UsageError, match="no test window 'Q9'.*W-now"):
        plan(engagement, scenario_ids=["local-one"], window="Q9")


def test_secrets_are_redacted_even_when_split_across_deltas() -> None:
    scrubber = SecretScrubber(["sk-live-1234567890", "abc"])  # "abc" is too short to hunt for
    pieces = ["the key sk-li", "ve-12345", "67890 and abc", " again sk-live-1234567890!"]
    shown = "".join(scrubber.feed(p) for p in pieces) + scrubber.finish()
    assert shown == "the key [REDACTED] and abc again [REDACTED]!"
    plain = SecretScrubber([])
    assert not plain and plain.whole("sk-live-1234567890") == "sk-live-1234567890"


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([10, 20, 30, 40], 50) == 25.0
    assert latency_summary(range(1, 101)) == {"p50": 50.5, "p95": 95.0, "p99": 99.0}  # rounded to 0.1 ms

    def turn(status: str, total: float) -> TurnLog:
        return TurnLog(0, 0, "burst", "primary", "go", status=status, total_ms=total)

    summary = burst_summary(0, 0, 5, 2, [turn("done", 10), turn("done", 30), turn("error", 1), turn("done", 20)])
    assert (summary["count"], summary["errors"], summary["error_rate"], summary["stopped_early"]) == (4, 1, 0.25, True)
    assert summary["latency_ms"]["p50"] == 20.0


def _outcome(verdict: str, status: str = "finished", **extra: Any) -> RunOutcome:
    return RunOutcome(run_id=1, scenario_id="s", system="bot", window=None, status=status, verdict=verdict, **extra)


def test_exit_codes() -> None:
    assert exit_code([_outcome("pass"), _outcome("review")]) == 0
    assert exit_code([_outcome("pass"), _outcome("error"), _outcome("fail")]) == 1
    assert exit_code([_outcome("pass"), _outcome("error")]) == 3
    assert exit_code([_outcome("", status="not_started")]) == 0


def test_junit_survives_hostile_model_output() -> None:
    hostile = "]]> </system-out><x>&amp; \x00\x01\x1b[31mred\x1b[0m \ufffe \uffff \u202e done"
    log = [TurnLog(0, 0, "chat", "primary", "say <b>&</b>", status="done", response=hostile)]
    outcomes = [_outcome("fail", reason=f"regex: matched {hostile}", title="Leak <title>", transcript=log,
                         finding_ids=[4]),
                _outcome("error", reason="the target never answered: connect"),
                _outcome("pass"), _outcome("review"), _outcome("", status="not_started")]
    document = junit_xml(outcomes, suite="acme & co")
    root = ET.fromstring(document.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "redline.acme & co"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "1", "errors": "1", "skipped": "2"}
    first = suite.find("testcase")
    assert first is not None
    out = first.findtext("system-out") or ""
    assert "]]> </system-out><x>&amp;" in out and "say <b>&</b>" in out and "draft finding(s): 4" in out
    assert "\x1b" not in out and "\x00" not in out and "␀" in out
    failure = first.find("failure")
    assert failure is not None and "\x1b" not in (failure.get("message") or "")


def test_progress_shows_names_literally_in_plain_and_terminal_modes() -> None:
    import io

    from rich.console import Console

    from app.events import ChunkReceived, RunFinished, RunStarted, TurnFinished, TurnStarted
    from app.runner.console import ConsoleProgress

    events = [RunStarted(7, "pi-direct-override", "[bold red]bot\x1b[2J", None),
              TurnStarted(7, 1, 0, 0, "chat", "hi"), ChunkReceived(7, 1, "text"),
              TurnFinished(7, 1, "done"), RunFinished(7, "finished", "fail", [3])]
    for terminal in (False, True):
        sink = io.StringIO()
        with ConsoleProgress(Console(file=sink, force_terminal=terminal, width=100), total=1) as progress:
            for event in events:
                progress(event)
        shown = sink.getvalue()
        assert "[bold red]bot" in shown and "\x1b[2J" not in shown
        assert "pi-direct-override" in shown and "finding 3" in shown
        assert progress.chunks == 1 and progress.done == 1
