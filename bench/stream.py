"""How much does Redline cost per streamed chunk? Ratios against raw httpx on the same stream.

A loopback server streams 100,000 small OpenAI-style SSE chunks. The same
stream is consumed five ways, in the same run, and each wall time is printed
with its ratio to (a):

  (a) raw httpx: ``aiter_lines()`` over the response, nothing else;
  (a2) the same plus ``json.loads`` of each event: the floor for any client that reads the text;
  (b) the official ``openai`` SDK streaming it (skipped, with a note, if not installed);
  (c) the Redline adapter alone: ``make_target(...).stream_chat`` events drained;
  (d) Redline end to end: runner + adapter + store (text and raw body stored
      while streaming by the store writer thread, detectors, the run's records),
      with a counting ``on_event``. A ticker task beside it reports the longest
      stall of the event loop, which is what the cockpit's screen would feel.

The target is (d) within 1.5x of (a). Run: ``python bench/stream.py [--chunks N] [--repeat R]``.
Each figure is the median of R runs; the store lives in a temporary data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIECE = "tok "


def sse_body(chunks: int) -> bytes:
    """The whole reply body: a role chunk, ``chunks`` content chunks, a usage chunk, [DONE]."""
    base = '{"id":"c1","object":"chat.completion.chunk","created":0,"model":"bench-1","system_fingerprint":"fp_b",'
    head = base + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
    item = base + '"choices":[{"index":0,"delta":{"content":' + json.dumps(PIECE) + '},"finish_reason":null}]}'
    tail = base + f'"choices":[],"usage":{{"prompt_tokens":5,"completion_tokens":{chunks},"total_tokens":{chunks + 5}}}}}'
    events = [head] + [item] * chunks + [tail, "[DONE]"]
    return "".join(f"data: {e}\n\n" for e in events).encode()


class StreamServer:
    """A loopback HTTP/1.1 server answering every request with the same SSE body, chunked."""

    def __init__(self, body: bytes):
        self.body = body
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._serve, daemon=True).start()
        self._ready.wait(10)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                step = 64 * 1024
                for i in range(0, len(self.body), step):
                    piece = self.body[i:i + step]
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


REQUEST = {"model": "bench-1", "messages": [{"role": "user", "content": "go"}], "stream": True}


async def raw_httpx(url: str) -> int:
    import httpx

    lines = 0
    async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
        async with client.stream("POST", url + "/chat/completions", json=REQUEST) as response:
            async for _line in response.aiter_lines():
                lines += 1
    return lines


async def raw_httpx_json(url: str) -> int:
    """(a) plus the one thing any client must do per chunk: decode its JSON."""
    import httpx

    loads, events = json.loads, 0
    async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
        async with client.stream("POST", url + "/chat/completions", json=REQUEST) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    loads(line[6:])
                    events += 1
    return events


async def openai_sdk(url: str) -> int:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    chunks = 0
    stream = await client.chat.completions.create(model="bench-1", messages=[{"role": "user", "content": "go"}],
                                                  stream=True)
    async for _chunk in stream:
        chunks += 1
    await client.close()
    return chunks


async def adapter_only(url: str) -> int:
    from app.formats.engagement import TargetSpec
    from app.targets.base import ChatRequest, TextDelta
    from app.targets.factory import make_target

    target = make_target(TargetSpec(kind="openai", base_url=url, model="bench-1", max_retries=0))
    deltas = 0
    async for event in target.stream_chat(ChatRequest(messages=[{"role": "user", "content": "go"}])):
        if type(event) is TextDelta:
            deltas += 1
    await target.aclose()
    return deltas


def prepare_redline(url: str, home: Path) -> tuple[int, list[Any]]:
    """An engagement with one system and a one-turn scenario, in a fresh data dir."""
    import yaml

    os.environ["REDLINE_HOME"] = str(home)
    from app.engagements import import_engagement, load_engagement_file
    from app.runner import plan_runs
    from app.store import dispose_all, session

    dispose_all()
    folder = home / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench-stream.yaml").write_text(yaml.safe_dump({
        "id": "bench-stream", "title": "Benchmark stream", "category": "security", "controls": ["CC6.6"],
        "severity": "low", "turns": [{"user": "go"}],
        "detectors": [{"type": "contains", "text": "NEVER-SAID"}]}))
    file = home / "bench.yaml"
    file.write_text(yaml.safe_dump({
        "name": "bench", "audit": {"type": "type1", "as_of": time.strftime("%Y-%m-%d")},
        "systems": [{"name": "bench", "target": {"kind": "openai", "base_url": url, "model": "bench-1",
                                                 "max_retries": 0}}],
        "scenario_paths": [str(folder)]}))
    with session() as db:
        engagement = import_engagement(db, load_engagement_file(file), file)
        plan = plan_runs(db, engagement, scenario_ids=["bench-stream"])
    return engagement.id, plan


LOOP_STALLS: list[float] = []  # per (d) run: the longest time the event loop could not run anything else


async def redline_end_to_end(engagement_id: int, plan: list[Any]) -> int:
    """(d), with a ticker beside it measuring the event loop's longest stall, as a screen would feel it."""
    from app.runner import run_scenarios

    counted = [0]
    longest = [0.0]

    def on_event(event: Any) -> None:
        counted[0] += 1

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest[0] = max(longest[0], now - last)
            last = now

    ticking = asyncio.ensure_future(ticker())
    try:
        [outcome] = await run_scenarios(engagement_id, plan, on_event=on_event)
    finally:
        ticking.cancel()
    assert outcome.status == "finished", outcome
    LOOP_STALLS.append(longest[0])
    return counted[0]


def stored_bodies() -> str:
    """How the (d) runs' raw bodies sit in the store: bytes received against bytes stored."""
    from sqlalchemy import func, select

    from app.store import dispose_all, session
    from app.store.models import TurnChunk
    from app.store.streamed import streamed_bodies

    with session() as db:
        turn_ids = list(db.scalars(select(TurnChunk.turn_id).distinct()))
        packed = db.scalar(select(func.sum(func.length(TurnChunk.raw)))) or 0
        received = sum(len(body) for body in streamed_bodies(db, turn_ids).values())
    dispose_all()
    return (f"(d) raw bodies: {received / 1e6:.1f} MB received over {len(turn_ids)} turns, "
            f"{packed / 1e6:.2f} MB stored")


def measure_all(repeat: int, cases: list[tuple[str, Callable[[], Awaitable[int]]]]) -> dict[str, list[float]]:
    """Wall times per case, interleaved round-robin so a busy machine slows every case alike."""
    times: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(repeat):
        for label, work in cases:
            start = time.perf_counter()
            asyncio.run(work())
            times[label].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    server = StreamServer(sse_body(args.chunks))
    url = server.base_url
    print(f"stream: {args.chunks:,} content chunks, {len(server.body) / 1e6:.1f} MB of SSE, "
          f"median of {args.repeat} runs each")

    cases: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        ("(a) raw httpx aiter_lines", lambda: raw_httpx(url)),
        ("(a2) raw httpx + json.loads per event", lambda: raw_httpx_json(url)),
    ]
    notes: list[str] = []
    try:
        import openai  # noqa: F401
    except ImportError:
        notes.append("(b) openai SDK: skipped, the openai package is not installed (pip install '.[bench]')")
    else:
        cases.append(("(b) openai SDK", lambda: openai_sdk(url)))
    cases.append(("(c) Redline adapter only", lambda: adapter_only(url)))
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as tmp:
        engagement_id, plan = prepare_redline(url, Path(tmp))
        cases.append(("(d) Redline runner + adapter + store", lambda: redline_end_to_end(engagement_id, plan)))
        times = measure_all(args.repeat, cases)
        stored = stored_bodies()

    median = {label: statistics.median(values) for label, values in times.items()}
    baseline = median["(a) raw httpx aiter_lines"]
    for label, _ in cases:
        print(f"{label:<40} {median[label] * 1000:8.0f} ms (min {min(times[label]) * 1000:6.0f})"
              f"   {median[label] / baseline:6.2f}x of (a)")
    for note in notes:
        print(note)
    adapter, e2e = median["(c) Redline adapter only"], median["(d) Redline runner + adapter + store"]
    print(f"runner + store on top of the adapter: (d)/(c) = {e2e / adapter:.2f}x "
          f"(+{(e2e - adapter) * 1000:.0f} ms for {args.chunks:,} chunks)")
    print(stored)
    print(f"(d) longest event-loop stall: median {statistics.median(LOOP_STALLS) * 1000:.1f} ms "
          f"(max {max(LOOP_STALLS) * 1000:.1f}); the cockpit cannot redraw during a stall")
    verdict = "within" if e2e / baseline <= 1.5 else "OVER"
    print(f"target: (d) <= 1.5x of (a): {verdict} ({e2e / baseline:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
