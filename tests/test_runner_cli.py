"""``redline run`` and ``redline findings`` in subprocesses: exit codes, JUnit, kill-safety and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.servers.loopback import LoopbackServer, closed_port
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.test_runner_support import (  # noqa: F401
    PYTHON,
    REPO,
    demo_pair,
    engagement_file,
    evented_stream,
    openai_system,
    read_db,
    scenario_file,
    streamed_raw,
)


def redline(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=os.environ.copy())


def test_exit_codes_junit_and_findings(tmp_path: Path, demo_pair: Any, monkeypatch: Any) -> None:
    vulnerable, hardened = demo_pair
    monkeypatch.setenv("RL_TEST_DEMO_KEY", "demo-key")
    key = {"api_key": {"env": "RL_TEST_DEMO_KEY"}}
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "t-password", "turns": [{"user": "How do I reset my password?"}],
                           "detectors": [{"type": "canary", "from_context": True}]})
    path = engagement_file(tmp_path, [openai_system("vuln", vulnerable.base_url, **key),
                                      openai_system("hard", hardened.base_url, **key),
                                      openai_system("down", f"http://127.0.0.1:{closed_port()}/v1")],
                           scenario_dir=folder)
    junit = tmp_path / "out" / "redline.xml"

    mixed = redline("run", str(path), "--scenario", "pi-direct-override", "--scenario", "t-password",
                    "--junit", str(junit))
    assert mixed.returncode == 1, mixed.stderr
    assert "pi-direct-override" in mixed.stdout and "fail" in mixed.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6", "failures": "1", "errors": "2", "skipped": "0"}
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    failed = cases[("acme-test.vuln", "pi-direct-override")]
    assert failed.find("failure") is not None and "RL-CANARY-7f3a91" in (failed.findtext("system-out") or "")
    assert cases[("acme-test.down", "t-password")].find("error") is not None
    assert cases[("acme-test.hard", "pi-direct-override")].find("failure") is None

    assert redline("run", "acme-test", "--scenario", "pi-direct-override", "--system", "hard").returncode == 0
    down = redline("run", "acme-test", "--scenario", "t-password", "--system", "down")
    assert down.returncode == 3, down.stderr
    unknown = redline("run", "acme-test", "--scenario", "no-such-scenario")
    assert unknown.returncode == 2 and "no-such-scenario" in unknown.stderr

    listed = redline("findings", "acme-test", "--json")
    assert listed.returncode == 0, listed.stderr
    [finding] = json.loads(listed.stdout)
    assert (finding["status"], finding["severity"], finding["scenario"]) == ("draft", "high", "pi-direct-override")
    assert finding["controls"] == ["CC6.6", "AI-SEC-01"] and finding["run"] and finding["created_at"]
    table = redline("findings", "acme-test")
    assert table.returncode == 0 and "pi-direct-override" in table.stdout
    assert redline("findings", "no-such-engagement").returncode == 2


def test_a_killed_run_keeps_its_text_and_resumes_without_redoing_turns(
        tmp_path: Path, stream_server: LoopbackServer, redline_home: Path) -> None:
    from sqlmodel import select

    from app.runner import recover_interrupted
    from app.store import session
    from app.store.models import Run, Turn

    slow = [f"part{i:03d} " for i in range(300)]
    stream_server.route(OPENAI_PATH, openai_stream(["first answer"]), evented_stream(slow, delay=0.02),
                        openai_stream(slow))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "kill-me", "turns": [{"user": "first"}, {"user": "second"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1")], scenario_dir=folder)

    proc = subprocess.Popen([PYTHON, "-m", "app.cli", "run", str(path), "--scenario", "kill-me"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    seen = 0
    deadline = time.monotonic() + 60  # a bound on waiting for the stream, not a performance assertion
    try:
        while seen < 200 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                rows = read_db(redline_home, "SELECT sum(length(c.text)) FROM turnchunk c JOIN turn t "
                                             "ON t.id = c.turn_id WHERE t.step = 1 AND t.status = 'streaming'")
            except sqlite3.OperationalError:  # the child has not created the store yet
                continue
            seen = max([seen] + [n for (n,) in rows if n is not None])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert seen >= 200, "the stream never showed up in the store"

    full = "".join(slow)
    [(run_id, status)] = read_db(redline_home, "SELECT id, status FROM run")
    assert status == "running"
    [(on_row, turn_status)] = read_db(redline_home, "SELECT response_text, status FROM turn WHERE step = 1")
    kept = "".join(t for (t,) in read_db(redline_home, "SELECT c.text FROM turnchunk c JOIN turn t "
                                                       "ON t.id = c.turn_id WHERE t.step = 1 ORDER BY c.seq"))
    # The text so far is in the turn's chunks; its row gets the whole text only when the turn ends.
    assert turn_status == "streaming" and on_row == ""
    assert len(kept) >= seen and full.startswith(kept) and kept != full
    # The raw body was stored with the text, batch by batch, so it survived the kill too.
    kept_raw = streamed_raw(redline_home, "t.step = 1")
    assert kept_raw.startswith(b"data: ") and all(word.encode() in kept_raw for word in kept.split())

    with session() as db:
        assert recover_interrupted(db) == [run_id]
    with session() as db:
        assert db.get(Run, run_id).status == "interrupted"  # type: ignore[union-attr]
        cut = db.exec(select(Turn).where(Turn.run_id == run_id, Turn.step == 1)).one()
        assert (cut.status, cut.error_type, cut.response_text) == ("error", "stream_error", kept)
        first_id = db.exec(select(Turn).where(Turn.run_id == run_id, Turn.step == 0)).one().id

    resumed = redline("run", "acme-test", "--resume", str(run_id))
    assert resumed.returncode == 0, resumed.stderr
    with session() as db:
        run = db.get(Run, run_id)
        assert run is not None and (run.status, run.verdict) == ("finished", "pass")
        turns = db.exec(select(Turn).where(Turn.run_id == run_id).order_by(Turn.step)).all()
        assert [(t.step, t.status) for t in turns] == [(0, "done"), (1, "done")]
        assert turns[0].id == first_id and turns[0].response_text == "first answer"
        assert turns[1].response_text == full
        assert turns[1].retries[-1]["partial_text"] == kept
    # step 0 was sent once; step 1 twice (killed, then resumed)
    assert [r.json()["messages"][-1]["content"] for r in stream_server.requests_to(OPENAI_PATH)] == [
        "first", "second", "second"]
    # The chain covered the turns as recovered, then as resumed; the store still matches its latest digests.
    from app.store.coverage import check_store

    closing = [(action, json.loads(payload)) for action, payload in read_db(
        redline_home, f"SELECT action, payload FROM auditevent WHERE entity = 'run:{run_id}' ORDER BY seq")
        if action in ("run.interrupted", "run.finished")]
    assert [a for a, _ in closing] == ["run.interrupted", "run.finished"]
    assert all(len(p["evidence"]["turns"]) == 2 for _, p in closing)
    assert closing[0][1]["evidence"]["turns"][1] != closing[1][1]["evidence"]["turns"][1]  # the redone turn
    with session() as db:
        assert check_store(db, run.engagement_id).problems == []
