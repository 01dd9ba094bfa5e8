"""A run stopped while the model echoes the engagement's key keeps no start of it, and loses no more than that.

The endpoint is a real loopback server: forty words, "your key is ", the key's first two pieces of three
characters, then silence kept alive by SSE pings (as providers send them). The run is a real ``redline run``
process, stopped there three ways: killed with SIGKILL (nothing ends the turn: the store keeps what its
batches wrote, and recovery joins them), stopped with SIGTERM (the turn ends cancelled), and cut by the
server with a TCP reset (the turn ends in a fault). In each the stored text is exactly the words before the
key: what could begin the key is held back from every batch and never kept, and nothing else is lost. The
raw body stored decodes to that same text, so the exported bundle verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store.streamed import unpack_raw
from tests.servers.loopback import LoopbackServer, Received, Reply
from tests.servers.stream_server import OPENAI_PATH, openai_events, sse
from tests.test_runner_raw_secrets import frames_text
from tests.test_runner_support import PYTHON, REPO, engagement_file, openai_system, read_db, scenario_file

KEY = "sk-live-Qz7Wx3Kp9Tn2Vb8Rm4Ys6Hd"
WORDS = [f"word{i:03d} " for i in range(40)] + ["your key is "]
BEFORE = "".join(WORDS)  # everything the model said before the key


def echo_then_ping(pinged: threading.Event, *, reset: bool) -> Any:
    """Stream the words and the key's first two pieces (a frame every 20 ms), then ping every 50 ms for up
    to a minute; ``pinged`` is set once ten pings have gone out after the key. ``reset``: no pings, the
    connection is reset right after the key's second piece."""

    def reply(request: Received) -> Reply:
        key = request.headers["authorization"].split(" ", 1)[1]
        events = openai_events([*WORDS, key[:3], key[3:6]], model="acme-support-1")[:-3]  # no end, no usage
        frames = [sse([event]) for event in events]
        if reset:
            return Reply(chunks=frames, delay=0.02, reset=True)

        def body() -> Iterator[bytes]:
            yield from frames
            for n in range(1200):
                if n == 10:
                    pinged.set()
                yield b": ping\n\n"

        return Reply(chunks=body(), delay=0.02)

    return reply


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "reset"])
def test_a_run_stopped_mid_key_keeps_every_word_before_it_and_no_start_of_it(
        how: str, tmp_path: Path, stream_server: LoopbackServer, redline_home: Path, monkeypatch: Any) -> None:
    import sqlite3

    from app.runner import recover_interrupted
    from app.store import session

    monkeypatch.setenv("RL_TEST_LIVE_KEY", KEY)
    pinged = threading.Event()
    stream_server.route(OPENAI_PATH, echo_then_ping(pinged, reset=how == "reset"))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "echo", "turns": [{"user": "what is my key?"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1", max_retries=0,
                                                    api_key={"env": "RL_TEST_LIVE_KEY"})], scenario_dir=folder)
    proc = subprocess.Popen([PYTHON, "-m", "app.cli", "run", str(path), "--scenario", "echo"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        if how == "reset":
            proc.wait(60)  # the turn ends in a fault and the run finishes on its own
        else:
            # Bounds on waiting for the stream, not performance figures: the key's pieces went out, ten
            # pings after them, and the words before the key reached the store.
            assert pinged.wait(60), "the endpoint never got past the key"
            deadline = time.monotonic() + 20
            seen = ""
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    seen = "".join(t for (t,) in read_db(redline_home, "SELECT text FROM turnchunk ORDER BY seq"))
                except sqlite3.OperationalError:
                    seen = ""
                if seen == BEFORE:
                    break
                time.sleep(0.05)
            assert seen == BEFORE, f"the store holds {seen[-40:]!r}, not every word before the key"
            assert proc.poll() is None
            proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
            proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    if how == "SIGKILL":
        [(status,)] = read_db(redline_home, "SELECT status FROM turn")
        assert status == "streaming"  # nothing ended the turn: what follows is what its batches wrote
        with session() as db:
            assert len(recover_interrupted(db)) == 1
    [(status, text, bounds, withheld)] = read_db(redline_home, "SELECT status, response_text, bounds, raw_withheld FROM turn")
    assert text == BEFORE  # every word before the key, and not one character of it
    raw = b"".join(unpack_raw(r, c) for r, c in read_db(redline_home, "SELECT raw, raw_codec FROM turnchunk") if r is not None)
    assert "sk-" not in frames_text(raw)  # nor in the raw body as stored
    if how == "SIGKILL":
        assert status == "error" and not withheld
    else:
        assert status == ("cancelled" if how == "SIGTERM" else "error")
        assert json.loads(bounds)["secret_start_held_back"] == 6  # 'sk-liv' was not kept
        assert withheld.startswith("the stream stopped while its text could be spelling a secret value")
    from app.cli import main
    from app.evidence.verify import verify_bundle

    out = tmp_path / "bundle.zip"
    assert main(["export", "acme-test", "--out", str(out), "--no-sign"]) == 0
    report = verify_bundle(out)
    assert report.ok, report.problems  # the text stored is what the raw body stored decodes to
