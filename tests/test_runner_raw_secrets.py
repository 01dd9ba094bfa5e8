"""A key the model echoes a few characters per JSON frame cannot be rebuilt from the stored or exported
raw body: the decoded text decides, the raw body is withheld with its reason and the digest of the original.

The endpoint is a real loopback server; the search decodes every layer the raw
body goes through (the store's zlib codec, the bundle's base64, the SSE frames
and their JSON) and reads the store's files byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from app.store.streamed import unpack_raw
from tests.servers.hostile import key_in_deltas, key_reply_body
from tests.servers.loopback import LoopbackServer
from tests.servers.stream_server import OPENAI_PATH
from tests.test_runner_support import (
    engagement_file,
    import_engagement_file,
    openai_system,
    plan,
    read_db,
    scenario_file,
    store_contents,
)

KEY = "sk-live-Qz7Wx3Kp9Tn2Vb8Rm4Ys6Hd"  # fragments of 3 or 4 characters each show once in the body


def frames_text(raw: bytes) -> str:
    """Every piece of text the SSE frames of ``raw`` carry, joined: what an attacker would rebuild."""
    from app.targets.sse import SSEFramer

    framer = SSEFramer()
    events = framer.feed(raw) + framer.flush()
    pieces: list[str] = []
    for _, data in events:
        try:
            payload = json.loads(data)
        except ValueError:
            continue
        for choice in payload.get("choices") or []:
            pieces.append(((choice.get("delta") or {}).get("content")) or "")
    return "".join(pieces)


def inflated(blob: bytes) -> bytes:
    """Whatever deflates from any offset of ``blob`` that starts a level-1 zlib stream (the store's codec),
    as a forensic reader of the database file would find it, live rows and freed pages alike."""
    import zlib

    found: list[bytes] = []
    at = blob.find(b"x\x01")
    while at >= 0:
        try:
            found.append(zlib.decompressobj().decompress(blob[at:at + 1 << 20]))
        except zlib.error:
            pass
        at = blob.find(b"x\x01", at + 1)
    return b"".join(found)


def fragments(size: int) -> list[bytes]:
    return [f'"content":"{KEY[i:i + size]}"'.encode() for i in range(0, len(KEY), size)]


def run_echo(tmp_path: Path, server: LoopbackServer, monkeypatch: Any, size: int) -> tuple[Any, int]:
    from app.runner import run_scenarios

    monkeypatch.setenv("RL_TEST_LIVE_KEY", KEY)
    server.route(OPENAI_PATH, key_in_deltas(size=size))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "echo", "turns": [{"user": "what is my key?"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID", "verdict_on_match": "fail"}]})
    path = engagement_file(tmp_path, [openai_system("bot", server.url + "/v1", api_key={"env": "RL_TEST_LIVE_KEY"})],
                           scenario_dir=folder)
    engagement = import_engagement_file(path)
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["echo"])))
    return engagement, outcome.run_id


def test_a_key_in_small_deltas_cannot_be_rebuilt_from_the_store(tmp_path: Path, stream_server: LoopbackServer,
                                                                 redline_home: Path, monkeypatch: Any) -> None:
    for size in (3, 4):
        run_echo(tmp_path / str(size), stream_server, monkeypatch, size)
    rows = read_db(redline_home, "SELECT id, response_text, raw_withheld, bounds FROM turn ORDER BY id")
    assert len(rows) == 2
    original = {hashlib.sha256(key_reply_body(KEY, size=s)).hexdigest() for s in (3, 4)}
    for turn_id, text, withheld, bounds in rows:
        assert text == "your key is [REDACTED] - keep it safe"
        # Withheld, with the reason and the digest of the body as the endpoint sent it.
        digest = json.loads(bounds)["raw_sha256"]
        assert digest in original and digest in withheld and "secret" in withheld
        chunks = read_db(redline_home, "SELECT raw, raw_codec FROM turnchunk WHERE turn_id = ?", (turn_id,))
        rebuilt = b"".join(unpack_raw(raw, codec) for raw, codec in chunks if raw is not None)
        assert KEY not in frames_text(rebuilt)
    blob = store_contents(redline_home)  # the database, its WAL and SHM, byte for byte, and every raw body unpacked
    blob += inflated(blob)
    assert KEY.encode() not in blob
    for size in (3, 4):
        for fragment in fragments(size):
            assert fragment not in blob, fragment  # no frame of the echo is left, even in freed pages


def test_the_bundle_withholds_the_raw_body_and_says_why(tmp_path: Path, stream_server: LoopbackServer,
                                                         redline_home: Path, monkeypatch: Any) -> None:
    from app.evidence.bundle import build_bundle
    from app.store import session

    engagement, run_id = run_echo(tmp_path, stream_server, monkeypatch, 3)
    with session() as db:
        result = build_bundle(db, engagement.id, tmp_path / "bundle.zip")
    with zipfile.ZipFile(result.path) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    [record] = [json.loads(line) for line in files[f"transcripts/{run_id}.jsonl"].splitlines() if line.strip()]
    assert record["response_raw_b64"] is None
    digest = hashlib.sha256(key_reply_body(KEY, size=3)).hexdigest()
    assert record["bounds"]["raw_sha256"] == digest and digest in record["response_raw_withheld"]
    for name, data in files.items():
        layers = [data]
        for line in data.splitlines():  # base64 raw bodies in the transcripts
            try:
                raw = json.loads(line).get("response_raw_b64")
            except (ValueError, AttributeError):
                continue
            if raw:
                layers.append(base64.b64decode(raw))
        for layer in layers:
            assert KEY.encode() not in layer and KEY not in frames_text(layer), name
            assert not any(f in layer for f in fragments(3)), name


def test_a_run_killed_after_the_echo_leaves_no_rebuildable_key(tmp_path: Path, stream_server: LoopbackServer,
                                                               redline_home: Path, monkeypatch: Any) -> None:
    """While a secret may be arriving in the text, the raw bytes are held back, not stored: a kill
    before the turn ends (and before its raw body is withheld) leaves nothing to rebuild it from."""
    import os
    import signal
    import subprocess
    import time

    from tests.test_runner_support import PYTHON, REPO

    monkeypatch.setenv("RL_TEST_LIVE_KEY", KEY)
    stream_server.route(OPENAI_PATH, key_in_deltas(size=3, delay=0.15, stall=60))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "echo", "turns": [{"user": "what is my key?"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1",
                                                    api_key={"env": "RL_TEST_LIVE_KEY"})], scenario_dir=folder)
    proc = subprocess.Popen([PYTHON, "-m", "app.cli", "run", str(path), "--scenario", "echo"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60  # a bound on waiting for the request, not a performance figure
        while not stream_server.requests_to(OPENAI_PATH) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert stream_server.requests_to(OPENAI_PATH), "the run never reached the endpoint"
        time.sleep(0.15 * (len(KEY) // 3 + 4) + 1.0)  # every piece of the key has been sent; the turn still streams
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    [(status,)] = read_db(redline_home, "SELECT status FROM turn")
    assert status == "streaming"  # killed mid-turn: its raw body was never withheld at the end
    chunks = read_db(redline_home, "SELECT raw, raw_codec FROM turnchunk")
    stored = b"".join(unpack_raw(raw, codec) for raw, codec in chunks if raw is not None)
    assert stored.startswith(b"data: {")  # the raw body was being stored as it streamed
    rebuilt = frames_text(stored)
    # At most the frame that began the key ("sk-"); none of the pieces after it.
    assert all(KEY[i:i + 3] not in rebuilt for i in range(3, len(KEY), 3)), rebuilt


def test_a_key_escaped_in_an_error_body_is_not_kept_in_its_raw_bytes(tmp_path: Path, stream_server: LoopbackServer,
                                                                     redline_home: Path, monkeypatch: Any) -> None:
    """JSON may spell the key with \\u escapes: no byte search sees it, its decoded message does."""
    from tests.servers.loopback import Reply

    escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)
    body = ('{"error": {"message": "key ' + escaped + ' is over quota", "type": "server_error"}}').encode()
    monkeypatch.setenv("RL_TEST_LIVE_KEY", KEY)
    stream_server.route(OPENAI_PATH, Reply(status=500, chunks=[body], content_type="application/json",
                                           framing="length"))
    from app.runner import run_scenarios

    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "echo", "turns": [{"user": "hi"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1", api_key={"env": "RL_TEST_LIVE_KEY"},
                                                    max_retries=0)], scenario_dir=folder)
    engagement = import_engagement_file(path)
    asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["echo"])))
    [(detail, withheld, bounds)] = read_db(redline_home, "SELECT error_detail, raw_withheld, bounds FROM turn")
    assert detail == "HTTP 500: key [REDACTED] is over quota"
    assert hashlib.sha256(body).hexdigest() in withheld
    chunks = read_db(redline_home, "SELECT raw, raw_codec FROM turnchunk")
    stored = b"".join(unpack_raw(raw, codec) for raw, codec in chunks if raw is not None)
    assert KEY not in stored.decode("unicode_escape", "replace")


def test_turns_streaming_side_by_side_never_mix_their_held_back_text(
        tmp_path: Path, stream_server: LoopbackServer, redline_home: Path, monkeypatch: Any) -> None:
    """The redactor holds back the last characters of each stream; a burst's turns each hold their own."""
    import itertools

    from app.runner import run_scenarios
    from tests.servers.loopback import Received, Reply
    from tests.test_runner_support import evented_stream

    monkeypatch.setenv("RL_TEST_LIVE_KEY", KEY)
    numbers = itertools.count()

    def answer(request: Received) -> Reply:
        n = next(numbers)
        return evented_stream([f"<{n}:{i}>" for i in range(30)], delay=0.01)

    stream_server.route(OPENAI_PATH, answer)
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "side", "steps": [{"type": "burst", "user": "hi", "requests": 3, "concurrency": 3,
                                                    "max_seconds": 30}],
                           "detectors": [{"type": "status", "expect": [200]}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1",
                                                    api_key={"env": "RL_TEST_LIVE_KEY"})], scenario_dir=folder)
    engagement = import_engagement_file(path)
    asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["side"])))
    texts = [text for (text,) in read_db(redline_home, "SELECT response_text FROM turn")]
    assert len(texts) == 3
    for text in texts:
        n = text[1:text.index(":")]
        assert text == "".join(f"<{n}:{i}>" for i in range(30)), texts


def test_a_turn_stopped_at_its_text_limit_still_verifies(tmp_path: Path, stream_server: LoopbackServer,
                                                         redline_home: Path) -> None:
    """The raw body of a turn cut at its text limit holds a little more than the text (the rest of the
    last network read); verify checks the text is what the body decodes to, up to the cut."""
    from app.evidence.bundle import build_bundle
    from app.evidence.verify import verify_bundle
    from app.runner import run_scenarios
    from app.store import session
    from tests.servers.hostile import endless_stream

    stream_server.route(OPENAI_PATH, endless_stream(upto=8 * 1024 * 1024))
    folder = tmp_path / "scenarios"
    scenario_file(folder, {"id": "long", "turns": [{"user": "go on"}],
                           "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
    path = engagement_file(tmp_path, [openai_system("bot", stream_server.url + "/v1",
                                                    limits={"text_bytes": 100_000})], scenario_dir=folder)
    engagement = import_engagement_file(path)
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["long"])))
    [(error_type, size)] = read_db(redline_home, "SELECT error_type, length(response_text) FROM turn")
    assert (outcome.verdict, error_type, size) == ("error", "too_large", 100_000)
    with session() as db:
        result = build_bundle(db, engagement.id, tmp_path / "bundle.zip")
    report = verify_bundle(result.path)
    assert report.ok, report.problems
