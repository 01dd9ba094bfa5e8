"""Headless output as a tester meets it in a shell: closed pipes, pipes that are not terminals, error reasons.

Every test runs the real ``redline`` in a subprocess whose stdout is a pipe, as
``redline ... | head`` or a CI log would give it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.servers.loopback import closed_port
from tests.test_runner_support import PYTHON, REPO, engagement_file, openai_system


def redline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def closed_reader(*args: str) -> tuple[int, str]:
    """Run ``redline`` with stdout a pipe whose reader is already gone, as after ``| head -1``."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write gets EPIPE
    try:
        proc = subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=REPO, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=os.environ.copy())
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


def test_a_closed_pipe_ends_quietly_the_unix_way() -> None:
    for argv in (("catalog", "--json"), ("engagement", "list", "--json"), ("scenarios", "list")):
        code, stderr = closed_reader(*argv)
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, (argv, stderr)
        assert stderr == "", (argv, stderr)
        assert code == 141, (argv, code)  # 128 + SIGPIPE, what a shell reports for `yes | head -1`


def test_a_pipe_is_not_squeezed_to_80_columns() -> None:
    listed = redline("scenarios", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = [s["id"] for s in json.loads(listed.stdout)]
    assert any(len(i) > 24 for i in ids)
    table = redline("scenarios", "list")
    assert table.returncode == 0, table.stderr
    assert "…" not in table.stdout
    for scenario_id in ids:
        assert scenario_id in table.stdout, scenario_id


def test_the_run_summary_keeps_ids_whole_and_says_why_a_run_errored(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{closed_port()}/v1"
    path = engagement_file(tmp_path, [openai_system("a-system-with-a-rather-long-name", down)])
    result = redline("run", str(path), "--scenario", "sysprompt-summary-request", "--no-probe")
    assert result.returncode == 3, result.stderr
    assert "sysprompt-summary-request" in result.stdout and "a-system-with-a-rather-long-name" in result.stdout
    assert "…" not in result.stdout
    # The reason is the runner's own, naming the turns and the fault, not a fixed phrase.
    flat = " ".join(result.stdout.split())
    assert "! sysprompt-summary-request @ a-system-with-a-rather-long-name: inconclusive" in flat, result.stdout
    assert "(step 1: connect)" in flat


def test_a_passing_run_prints_no_error_reason(tmp_path: Path) -> None:
    from app.demo import start_demo_server

    server = start_demo_server(chunk_delay=0, service_time=0, hardened=True)
    try:
        path = engagement_file(tmp_path, [openai_system("hard", server.base_url, api_key={"env": "RL_DEMO_KEY"})])
        env_key = os.environ.get("RL_DEMO_KEY")
        os.environ["RL_DEMO_KEY"] = "demo-key"
        try:
            result = redline("run", str(path), "--scenario", "pi-direct-override", "--no-probe")
        finally:
            if env_key is None:
                os.environ.pop("RL_DEMO_KEY", None)
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "never answered" not in result.stdout and "why" not in result.stdout


def test_export_and_verify_count_the_same_files(tmp_path: Path) -> None:
    import re
    import zipfile

    assert redline("run", "demo", "--scenario", "pi-direct-override", "--no-probe").returncode == 1
    out = tmp_path / "demo.zip"
    exported = redline("export", "demo", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    verified = redline("verify", str(out))
    assert verified.returncode == 0, verified.stdout
    wrote = int(re.search(r"\((\d+) files", exported.stdout).group(1))  # type: ignore[union-attr]
    matched = int(re.search(r"(\d+) files match", verified.stdout).group(1))  # type: ignore[union-attr]
    with zipfile.ZipFile(out) as archive:
        listed = len(json.loads(archive.read("manifest.json"))["files"])
        entries = len(archive.namelist())
    assert wrote == matched == listed == entries - 1  # every file but the manifest, which lists them
    assert "plus manifest.json" in exported.stdout


def test_runs_lists_ids_states_and_verdicts_so_resume_has_something_to_point_at(tmp_path: Path) -> None:
    import sqlite3

    assert redline("run", "demo", "--scenario", "pi-direct-override", "--no-probe").returncode == 1
    empty = redline("runs", "demo")
    assert empty.returncode == 0, empty.stderr
    # A crash leaves a run `running`; the next command marks it interrupted (the runner's rule).
    db = sqlite3.connect(Path(os.environ["REDLINE_HOME"]) / "redline.db")
    db.execute("UPDATE run SET status = 'running', verdict = '' WHERE id = 1")
    db.commit()
    db.close()
    listed = redline("runs", "demo", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row == {"run_id": 1, "scenario_id": "pi-direct-override", "strategy": "", "system": "support-bot",
                   "window": row["window"], "status": "interrupted", "verdict": "", "resumable": True,
                   "resume": "redline run demo --resume 1"}
    table = redline("runs", "demo")
    assert "interrupted" in table.stdout and "--resume 1" in table.stdout
    resumed = redline("run", "demo", "--resume", "1", "--no-probe")
    assert resumed.returncode == 1, resumed.stderr
    [after] = json.loads(redline("runs", "demo", "--json").stdout)
    assert after["status"] == "finished" and after["verdict"] == "fail" and after["resumable"] is False
    assert after["resume"] is None
    assert "--resume" not in redline("runs", "demo").stdout
    unknown = redline("runs", "no-such-engagement")
    assert unknown.returncode == 2 and "no-such-engagement" in unknown.stderr
