"""A scenario regex cannot hang a run: matches stop at a time limit, the turn is then inconclusive,
and the loader warns about the shapes that backtrack without end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.detectors import evaluate
from app.detectors.base import TurnObservation
from app.detectors.patterns import catastrophic
from app.formats.scenario import DetectorSpec
from tests.servers.loopback import LoopbackServer
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.test_runner_support import engagement_file, import_engagement_file, openai_system, plan, scenario_file

HOSTILE_ANSWER = "a" * 40 + "!"


def regex(pattern: str, text: str, **params: Any) -> Any:
    return evaluate(DetectorSpec(type="regex", pattern=pattern, **params), TurnObservation(text=text))


def test_the_pattern_from_the_report_no_longer_runs_for_minutes() -> None:
    # ``^(a+)+$`` on a×34 and "!" ran 578 s under Python's re; the regex module reads it without backtracking.
    assert regex(r"^(a+)+$", "a" * 34 + "!").outcome == "pass"
    assert regex(r"^(a+)+$", "a" * 34).outcome == "fail"


def test_a_match_past_its_time_limit_is_an_inconclusive_turn() -> None:
    result = regex(r"^(a|aa)+$", HOSTILE_ANSWER, timeout=0.2)
    assert result.outcome == "error"
    assert result.reason.startswith("detector timed out: the pattern ran past its time limit of 0.2s on 41 characters")


@pytest.mark.parametrize("value", [0, -1, 61, "fast", True])
def test_the_time_limit_is_checked(value: Any) -> None:
    from app.detectors import check_detector

    with pytest.raises(ValueError, match="parameter 'timeout' must be a number of seconds above 0 and at most 60"):
        check_detector(DetectorSpec(type="regex", pattern="x", timeout=value))


@pytest.mark.parametrize(("pattern", "shape"), [
    (r"^(a+)+$", "inside another"), (r"(.*)*x", "inside another"), (r"(\w+\s?)*$", "such as"),
    (r"^(a|aa)+$", "alternatives"), (r"(a|ab|b)+$", "alternatives"), (r"(x.?)+$", "alternatives"),
    (r"(ab?)+$", None), (r"(\w|\d)*x", None), (r"((ab|a)c)+", None),
    (r"(foo|bar)+", None), (r"\bconfirmed\b|guarantees? it", None), (r"(?:a++)+", None), (r"(x{1,3})+", None),
])
def test_the_loader_spots_catastrophic_shapes(pattern: str, shape: Any) -> None:
    why = catastrophic(pattern)
    assert (why is None) if shape is None else (shape in (why or "")), (pattern, why)


def test_scenarios_validate_warns_with_the_location_and_still_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = scenario_file(tmp_path, {"id": "slow", "turns": [{"user": "hi"}],
                                    "detectors": [{"type": "contains", "text": "x"},
                                                  {"type": "regex", "pattern": "^(a+)+$"}]})
    assert main(["scenarios", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}:" in err and "detectors[1].pattern" in err and "exponential time" in err


def test_a_run_with_a_runaway_regex_ends_inconclusive(tmp_path: Path, stream_server: LoopbackServer) -> None:
    from app.runner import run_scenarios

    stream_server.route(OPENAI_PATH, openai_stream([HOSTILE_ANSWER]))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "slow", "turns": [{"user": "say a lot of a"}],
                           "detectors": [{"type": "regex", "pattern": "^(a|aa)+$", "timeout": 0.2}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1")], scenario_dir=folder)
    engagement = import_engagement_file(path)
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["slow"])))
    assert outcome.verdict == "error"
    from sqlmodel import select

    from app.store import session
    from app.store.models import Verdict

    with session() as db:
        [verdict] = db.exec(select(Verdict).where(Verdict.run_id == outcome.run_id)).all()
    assert verdict.outcome == "error" and verdict.reason.startswith("detector timed out")
