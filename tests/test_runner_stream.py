"""Persisting while streaming, byte-exact text, faults mid-run, cancellation and concurrency,
against the scripted loopback servers (tests/servers/)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from app.events import ChunkReceived, RunStarted
from tests.servers.fault_server import reset_mid_stream
from tests.servers.loopback import LoopbackServer, Received, Reply
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.test_runner_support import (
    engagement_file,
    evented_stream,
    import_engagement_file,
    openai_system,
    plan,
    read_db,
    scenario_file,
    store_contents,
    streamed_raw,
)


def _setup(tmp_path: Path, server: LoopbackServer, scenarios: list[dict[str, Any]], **target: Any) -> Any:
    folder = tmp_path / "scenarios"
    for spec in scenarios:
        scenario_file(folder, spec)
    path = engagement_file(tmp_path, [openai_system("bot", server.url + "/v1", **target)], scenario_dir=folder)
    return import_engagement_file(path)


def _turns(run_id: int) -> list[Any]:
    from sqlmodel import select

    from app.store import session
    from app.store.models import Turn

    with session() as db:
        return list(db.exec(select(Turn).where(Turn.run_id == run_id).order_by(Turn.sample, Turn.step)).all())


CONTAINS_NOTHING = [{"type": "contains", "text": "NEVER-SAID", "verdict_on_match": "fail"}]


def test_text_is_in_the_store_while_the_turn_still_streams(tmp_path: Path, stream_server: LoopbackServer,
                                                          redline_home: Path) -> None:
    from app.runner import run_scenarios

    pieces = [f"word{i:03d} " for i in range(50)]
    stream_server.route(OPENAI_PATH, evented_stream(pieces, delay=0.03))
    engagement = _setup(tmp_path, stream_server, [{"id": "slow-one", "turns": [{"user": "hello"}],
                                                   "detectors": CONTAINS_NOTHING}])
    seen: list[tuple[str, int]] = []  # (turn status, stored text length), read from another connection
    stored_length = ("SELECT t.status, (SELECT coalesce(sum(length(c.text)), 0) FROM turnchunk c "
                     "WHERE c.turn_id = t.id) FROM turn t")

    async def watch(done: asyncio.Event) -> None:
        while not done.is_set():
            rows = await asyncio.to_thread(read_db, redline_home, stored_length)
            seen.extend((status, length) for status, length in rows)
            await asyncio.sleep(0.05)

    async def main() -> Any:
        done = asyncio.Event()
        watcher = asyncio.create_task(watch(done))
        outcomes = await run_scenarios(engagement.id, plan(engagement, scenario_ids=["slow-one"]))
        done.set()
        await watcher
        return outcomes

    [outcome] = asyncio.run(main())
    streaming_lengths = sorted({length for status, length in seen if status == "streaming"})
    # Two different non-empty lengths while the turn was still streaming: it grew in the store.
    assert len([n for n in streaming_lengths if n > 0]) >= 2
    # ...and part of it was there before the whole answer had arrived. (The whole text may
    # also be stored while the turn still streams: the body bytes after it, [DONE], can
    # close a batch before the turn's final row is written.)
    assert min(n for n in streaming_lengths if n > 0) < len("".join(pieces))
    [turn] = _turns(outcome.run_id)
    assert (turn.status, turn.response_text, turn.chunk_count) == ("done", "".join(pieces), 50)
    chunks = read_db(redline_home, "SELECT text FROM turnchunk WHERE turn_id = ? ORDER BY seq", (turn.id,))
    assert len(chunks) > 1 and "".join(c for (c,) in chunks) == turn.response_text
    assert turn.ttft_ms is not None and turn.total_ms is not None and turn.ttft_ms <= turn.total_ms
    assert turn.token_count == 50 and turn.usage["completion_tokens"] == 50
    assert outcome.verdict == "pass"


HOSTILE = (
    "e\u0301 n\u0303 \U0001F600\U0001F469\u200d\U0001F4BB \u05e9\u05dc\u05d5\u05dd \u202eevil\u202c "
    "\x00\x01\x07\x08\x0b\x0c\x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \r\n\t"
    + "x" * 5000 + "\n" + "\u00e9" * 5000 + "\n[bold]not markup[/bold] <script>alert(1)</script> =1+1"
)


def test_stored_text_equals_what_the_server_sent(tmp_path: Path, stream_server: LoopbackServer,
                                                 redline_home: Path) -> None:
    from app.runner import run_scenarios

    pieces = [HOSTILE[i:i + 37] for i in range(0, len(HOSTILE), 37)]
    reply = openai_stream(pieces, pieces=97)
    stream_server.route(OPENAI_PATH, reply)
    engagement = _setup(tmp_path, stream_server, [{"id": "bytes", "turns": [{"user": "x"}],
                                                   "detectors": CONTAINS_NOTHING}])
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["bytes"])))
    [turn] = _turns(outcome.run_id)
    assert turn.response_text == HOSTILE
    assert turn.chunk_count == len(pieces)  # stream chunks, however many arrived per network read
    [(stored,)] = read_db(redline_home, "SELECT response_text FROM turn WHERE id = ?", (turn.id,))
    assert stored == HOSTILE
    chunks = read_db(redline_home, "SELECT text FROM turnchunk WHERE turn_id = ? ORDER BY seq", (turn.id,))
    assert "".join(c for (c,) in chunks) == HOSTILE
    # The raw body, stored batch by batch with the text, is exactly what the server sent.
    assert streamed_raw(redline_home, "c.turn_id = ?", (turn.id,)) == b"".join(reply.chunks)
    from app.store import session
    from app.store.streamed import raw_body, streamed_bodies

    with session() as db:
        assert raw_body(turn.response_raw, streamed_bodies(db, [turn.id]), turn.id) == b"".join(reply.chunks)


def test_a_fault_mid_run_types_the_turn_and_the_run_goes_on(tmp_path: Path, stream_server: LoopbackServer) -> None:
    from app.runner import run_scenarios

    stream_server.route(OPENAI_PATH, openai_stream(["first answer"]), reset_mid_stream(["half an ans"]),
                        openai_stream(["third answer"]))
    engagement = _setup(tmp_path, stream_server, [{
        "id": "three-steps", "turns": [{"user": "one"}, {"user": "two"}, {"user": "three"}],
        "detectors": [{"type": "contains", "text": "answer", "verdict_on_match": "pass"}]}])
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["three-steps"])))
    first, second, third = _turns(outcome.run_id)
    assert (first.status, first.response_text) == ("done", "first answer")
    assert (second.status, second.error_type, second.response_text) == ("error", "stream_error", "half an ans")
    assert (third.status, third.response_text) == ("done", "third answer")
    # The unanswered exchange is not part of the conversation the third request carries.
    sent = [r.json()["messages"] for r in stream_server.requests_to(OPENAI_PATH)]
    assert [m["content"] for m in sent[2]] == ["one", "first answer", "three"]
    assert (outcome.status, outcome.errors, outcome.turns) == ("finished", 1, 3)
    # Two answered turns passed, but the faulted one was never judged: inconclusive, never a pass.
    assert outcome.verdict == "error" and [e["step"] for e in outcome.metrics["inconclusive"]] == [1]


def test_cancel_stops_streaming_turns_and_keeps_their_text(tmp_path: Path, stream_server: LoopbackServer) -> None:
    from app.runner import run_scenarios

    stream_server.route(OPENAI_PATH, evented_stream([f"t{i} " for i in range(200)], delay=0.02))
    engagement = _setup(tmp_path, stream_server, [{"id": "long", "turns": [{"user": "a"}, {"user": "b"}],
                                                   "detectors": CONTAINS_NOTHING}])

    async def main() -> Any:
        cancel = asyncio.Event()
        received = 0

        def on_event(event: Any) -> None:
            nonlocal received
            if isinstance(event, ChunkReceived):
                received += 1
                if received == 10:
                    cancel.set()

        return await run_scenarios(engagement.id, plan(engagement, scenario_ids=["long"]), on_event=on_event,
                                   cancel=cancel)

    [outcome] = asyncio.run(main())
    [turn] = _turns(outcome.run_id)  # the second step never started
    assert turn.status == "cancelled" and turn.response_text.startswith("t0 t1 t2 ")
    assert outcome.status == "cancelled" and outcome.finding_ids == []


def test_two_runs_stream_at_once(tmp_path: Path, stream_server: LoopbackServer) -> None:
    from app.runner import run_scenarios

    stream_server.route(OPENAI_PATH, evented_stream([f"w{i} " for i in range(15)], delay=0.02))
    engagement = _setup(tmp_path, stream_server, [
        {"id": "alpha", "turns": [{"user": "a"}], "detectors": CONTAINS_NOTHING},
        {"id": "beta", "turns": [{"user": "b"}], "detectors": CONTAINS_NOTHING}])
    order: list[int] = []

    def on_event(event: Any) -> None:
        if isinstance(event, (ChunkReceived, RunStarted)):
            order.append(event.run_id)

    outcomes = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["alpha", "beta"]),
                                         concurrency=2, on_event=on_event))
    first, second = (o.run_id for o in outcomes)
    # Interleaved: the second run's chunks arrive before the first run's last chunk.
    assert order.index(second) < len(order) - 1 - order[::-1].index(first)
    assert [o.verdict for o in outcomes] == ["pass", "pass"]


def test_an_echoed_api_key_is_redacted_everywhere(tmp_path: Path, stream_server: LoopbackServer,
                                                  redline_home: Path, monkeypatch: Any) -> None:
    from app.runner import run_scenarios

    key = "sk-canary-4f9b2c7d1e8a6350ffee"
    monkeypatch.setenv("RL_TEST_ECHO_KEY", key)

    def echo(request: Received) -> Reply:
        # A hostile endpoint that streams the caller's key back, split across chunks.
        auth = request.headers["authorization"].split(" ", 1)[1]
        return evented_stream(["your key is ", auth[:9], auth[9:20], auth[20:], " ok"])

    stream_server.route(OPENAI_PATH, echo)
    engagement = _setup(tmp_path, stream_server, [{"id": "echo", "turns": [{"user": "show my key"}],
                                                   "detectors": CONTAINS_NOTHING}],
                        api_key={"env": "RL_TEST_ECHO_KEY"})
    events: list[Any] = []
    [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["echo"]),
                                          on_event=events.append))
    [turn] = _turns(outcome.run_id)
    assert turn.response_text == "your key is [REDACTED] ok"
    assert key not in json.dumps(turn.request)
    shown = "".join(e.text for e in events if isinstance(e, ChunkReceived))
    assert shown == turn.response_text
    blob = store_contents(redline_home)
    assert key.encode() not in blob and b"[REDACTED]" in blob
