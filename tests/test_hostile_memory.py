"""Peak memory of a real ``redline run`` against hostile loopback endpoints stays bounded by the limits.

Each attack runs the CLI in a child process that reports its own peak RSS
(tests/servers/peak.py); the figures are printed with the test run's output.
Small limits keep each attack to a few seconds; one run with the default
limits checks the 500 MB ceiling. The bound on each is a fixed multiple of the
limit that applies, over the peak of the same command on an ordinary answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.servers.hostile import endless_line, endless_stream, gzip_bomb
from tests.servers.loopback import LoopbackServer
from tests.servers.peak import Peak, run_with_peak
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.test_runner_support import REPO, engagement_file, openai_system, read_db, scenario_file

MB = 1024 * 1024
# Peak over the baseline run, per byte of the limit that stops the attack. Measured as the child's own
# VmHWM: 25-51 MB over a 74 MB baseline for a 4 MB limit (the text, its raw frames, which are several
# times larger than the text they carry, and the store's batches); 16 leaves room for a busy machine.
MULTIPLE = 16
CEILING_MB = 500  # with the default limits


def attack(tmp_path: Path, server: LoopbackServer, script: Any, limits: dict[str, int] | None) -> Peak:
    server.route(OPENAI_PATH, script)
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "hostile", "turns": [{"user": "say something"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID", "verdict_on_match": "fail"}]})
    target: dict[str, Any] = {"timeouts": {"connect": 5, "read": 10, "total": 60}}
    if limits:
        target["limits"] = limits
    path = engagement_file(tmp_path, [openai_system("bot", server.url + "/v1", **target)], scenario_dir=folder)
    return run_with_peak(["run", str(path), "--scenario", "hostile"], cwd=REPO, ceiling_mb=1500, timeout=90)


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The peak of the same command on an ordinary short answer: the interpreter and its libraries."""
    import os

    home = tmp_path_factory.mktemp("baseline")
    old = os.environ.get("REDLINE_HOME")
    os.environ["REDLINE_HOME"] = str(home / "redline-home")
    try:
        with LoopbackServer() as server:
            peak = attack(home, server, openai_stream(["a short, ordinary answer"]), None)
    finally:
        if old is not None:
            os.environ["REDLINE_HOME"] = old
    assert peak.returncode == 0 and not peak.killed, peak.stderr[-2000:]
    print(f"\nbaseline: peak RSS {peak.peak_mb:.0f} MB in {peak.seconds:.1f}s")
    return peak.peak_mb


def the_turn(home: Path) -> tuple[str, str, dict[str, Any]]:
    [(status, error_type, bounds)] = read_db(home, "SELECT status, error_type, bounds FROM turn")
    return status, error_type, json.loads(bounds)


def report(capsys: pytest.CaptureFixture[str], name: str, peak: Peak, limit: str, value: int,
           baseline: float) -> None:
    shown = f"{value / MB:.2f} MB" if limit.endswith("bytes") else f"{value}:1"
    with capsys.disabled():
        print(f"\n{name}: peak RSS {peak.peak_mb:.0f} MB (baseline {baseline:.0f} MB; stopped by {limit} = {shown}) "
              f"in {peak.seconds:.1f}s", end="")


@pytest.mark.parametrize("name, script, limits, limit", [
    ("endless stream", endless_stream, {"text_bytes": 4 * MB}, "text_bytes"),
    ("endless line", endless_line, {"line_bytes": 1 * MB}, "line_bytes"),
    ("gzip bomb (1 GiB unpacked)", lambda: gzip_bomb(1024 * MB)[0],
     {"decompressed_bytes": 4 * MB, "text_bytes": 64 * MB, "compression_ratio": 100_000}, "decompressed_bytes"),
])
def test_an_attack_stops_at_its_limit_with_bounded_memory(name: str, script: Any, limits: dict[str, int], limit: str,
                                                          tmp_path: Path, fault_server: LoopbackServer,
                                                          redline_home: Path, baseline_mb: float,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    peak = attack(tmp_path, fault_server, script(), limits)
    report(capsys, name, peak, limit, limits[limit], baseline_mb)
    assert not peak.killed, f"{name}: passed {peak.peak_mb:.0f} MB and was killed"
    assert peak.returncode in (1, 3), peak.stderr[-2000:]  # the run is inconclusive, not a crash
    status, error_type, bounds = the_turn(redline_home)
    assert (status, error_type, bounds["stopped_by"]) == ("error", "too_large", limit)
    assert bounds["limits"][limit] == limits[limit] and bounds["bytes_received"] > 0
    assert peak.peak_mb - baseline_mb < MULTIPLE * limits[limit] / MB


@pytest.mark.parametrize("name, script, stopped_by", [
    ("endless stream", endless_stream, {"text_bytes"}),
    ("endless line", endless_line, {"line_bytes"}),
    ("gzip bomb (1 GiB unpacked)", lambda: gzip_bomb(1024 * MB)[0], {"compression_ratio"}),
])
def test_with_the_default_limits_no_attack_passes_500_mb(name: str, script: Any, stopped_by: set[str],
                                                         tmp_path: Path, fault_server: LoopbackServer,
                                                         redline_home: Path, baseline_mb: float,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from app.formats.engagement import Limits

    peak = attack(tmp_path, fault_server, script(), None)
    status, error_type, bounds = the_turn(redline_home)
    limit = bounds["stopped_by"]
    report(capsys, f"{name}, default limits", peak, limit, bounds["limits"].get(limit, 0), baseline_mb)
    assert not peak.killed and peak.returncode in (1, 3), peak.stderr[-2000:]
    assert error_type == "too_large" and limit in stopped_by
    assert bounds["limits"] == Limits().model_dump()
    assert peak.peak_mb < CEILING_MB
