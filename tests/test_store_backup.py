"""``redline backup`` and ``redline restore`` in real processes, while a run streams and another reader is open."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from tests.servers.loopback import LoopbackServer
from tests.servers.stream_server import OPENAI_PATH
from tests.test_runner_support import (
    PYTHON,
    REPO,
    engagement_file,
    evented_stream,
    openai_system,
    read_db,
    scenario_file,
)


def redline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())


def _wait_for_chunks(home: Path, proc: subprocess.Popen[bytes], at_least: int) -> None:
    deadline = time.monotonic() + 60  # a bound on waiting for the stream, not a performance assertion
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if read_db(home, "SELECT count(*) FROM turnchunk")[0][0] >= at_least:
                return
        except sqlite3.OperationalError:  # the child has not created the store yet
            pass
        time.sleep(0.05)
    raise AssertionError("the run never streamed into the store")


def test_backup_and_restore_while_a_run_streams_and_a_reader_is_open(
        tmp_path: Path, stream_server: LoopbackServer, redline_home: Path) -> None:
    slow = [f"part{i:03d} " for i in range(400)]
    release = threading.Event()  # the stream stays open until the restore has been refused
    stream_server.route(OPENAI_PATH, dataclasses.replace(evented_stream(slow, delay=0.01), hold_last=release))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "long-answer", "turns": [{"user": "talk"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1")], scenario_dir=folder)
    run = subprocess.Popen([PYTHON, "-m", "app.cli", "run", str(path), "--scenario", "long-answer", "--no-probe"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    reader: sqlite3.Connection | None = None
    try:
        _wait_for_chunks(redline_home, run, 20)
        # The cockpit's part: another connection, with a read transaction open while the copy is taken.
        reader = sqlite3.connect(redline_home / "redline.db", timeout=10)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM turnchunk").fetchone()

        out = tmp_path / "backups" / "store.db"
        backed = redline("backup", "--out", str(out))
        assert backed.returncode == 0, backed.stderr
        assert "schema" in backed.stdout and "1 runs" in backed.stdout
        assert oct(out.stat().st_mode & 0o777) == oct(0o600)
        copy = sqlite3.connect(out)
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        [(status,)] = copy.execute("SELECT status FROM run").fetchall()
        chunks_in_copy = copy.execute("SELECT count(*) FROM turnchunk").fetchone()[0]
        copy.close()
        assert status == "running" and chunks_in_copy >= 20

        refused = redline("restore", str(out))
        assert refused.returncode == 2
        assert "being run by another Redline process" in refused.stderr and "Traceback" not in refused.stderr
        release.set()
        assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
    finally:
        release.set()
        if run.poll() is None:
            run.kill()
            run.wait()
        if reader is not None:
            reader.rollback()
    assert reader is not None

    # The run finished after the copy; restoring the copy brings back the store as it was at the copy.
    assert read_db(redline_home, "SELECT status FROM run") == [("finished",)]
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM run").fetchone()
    restored = redline("restore", str(out))
    reader.rollback()
    reader.close()
    assert restored.returncode == 0, restored.stderr
    assert read_db(redline_home, "PRAGMA integrity_check") == [("ok",)]
    assert read_db(redline_home, "SELECT count(*) FROM turnchunk") == [(chunks_in_copy,)]
    [(payload,)] = read_db(redline_home, "SELECT payload FROM auditevent WHERE action = 'store.restored'")
    assert '"runs":1' in payload.replace(" ", "")
    # The restored run was mid-stream in the copy; the next evidence read recovers it.
    listed = redline("findings", "acme-test")
    assert listed.returncode == 0 and "was interrupted" in listed.stderr, listed.stderr
    assert read_db(redline_home, "SELECT status FROM run") == [("interrupted",)]


def test_restore_refuses_what_is_not_an_intact_store_this_redline_reads(tmp_path: Path) -> None:
    from app.store.schema import CURRENT_VERSION

    assert redline("engagement", "list").returncode == 0
    good = tmp_path / "good.db"
    assert redline("backup", "--out", str(good)).returncode == 0

    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("just text")
    newer = tmp_path / "newer.db"
    newer.write_bytes(good.read_bytes())
    with sqlite3.connect(newer) as con:
        con.execute(f"PRAGMA user_version={CURRENT_VERSION + 1}")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE t (x)")
    torn = tmp_path / "torn.db"
    with sqlite3.connect(good) as con:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        [(root,)] = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'run'").fetchall()
    con.close()
    data = bytearray(good.read_bytes())
    start = (root - 1) * page_size
    data[start:start + 64] = b"\xff" * 64  # the run table's b-tree page overwritten
    torn.write_bytes(bytes(data))

    for path, expected in [(not_sqlite, "not a readable SQLite database"),
                           (newer, f"written by a newer Redline (schema version {CURRENT_VERSION + 1}"),
                           (foreign, "not a Redline store"),
                           (torn, "malformed"),
                           (tmp_path / "absent.db", "no such file")]:
        result = redline("restore", str(path))
        assert result.returncode == 2 and expected in result.stderr, (path.name, result.stderr)
        assert "Traceback" not in result.stderr
    assert redline("restore", str(good)).returncode == 0
