"""The cockpit under load: 8 live streams through the real Run screen, against the same streams through raw httpx.

A loopback server (``tests/servers/loopback.py``, in its own process so its
work is never counted) streams OpenAI-style SSE replies slowly: every HTTP
chunk carries a few events and comes 5 ms after the one before. Eight systems
of one engagement point at it, and one scenario runs against all eight at once.
Each sample is a fresh interpreter; the samples of every kind are interleaved,
so the machine's load falls on all of them alike:

- ``raw``: the 8 streams read with ``httpx`` ``aiter_lines()``, nothing else (the floor);
- ``runner``: ``run_scenarios`` alone, headless (adapter, detectors, store), no UI;
- ``cockpit``: the Run screen in a headless Pilot queues the 8 runs (``r`` would);
  while they stream, a ticker on the event loop records every stall, and the
  Help key is pressed a few times; once idle, it is pressed again. Then one
  turn of ``--long-chunks`` tiny chunks streams alone, and the longest stall
  is read again, end of turn included (the final render of a long reply);
- ``bare``: the same Help screen, with the same keys, opened in a bare Textual app.

Printed: CPU seconds (process time, every thread) of each kind with its ratio
to raw httpx, p99 and max loop stall, the Help key's latency busy, idle and in
the bare app, and one summary line. Goals: CPU <= 1.8x raw, p99 <= 33 ms,
max <= 100 ms, Help busy <= 1.2x idle, idle <= 1.5x bare.

    python bench/cockpit_load.py [--repeat N] [--streams 8] [--long-chunks 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVER = r"""
import json, sys, time
from tests.servers.loopback import LoopbackServer, Reply

per_chunk, chunks, delay, long_chunks = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "load-1"}

def event(delta, finish=None):
    return "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"

def body(events_per_chunk, count, piece):
    item = event({"content": piece})
    head = event({"role": "assistant", "content": ""})
    tail = event({}, "stop") + "data: [DONE]\n\n"
    return [(head + item * events_per_chunk).encode()] + [(item * events_per_chunk).encode()] * (count - 1) + [tail.encode()]

slow = Reply(chunks=body(per_chunk, chunks, "word "), delay=delay)
# The long turn: many tiny chunks, packed into 64 KB HTTP chunks, as fast as the reader takes them.
item = event({"content": "tok "}).encode()
per = max(1, 65536 // len(item))
packed = [item * per] * (long_chunks // per) + [item * (long_chunks % per)]
fast = Reply(chunks=[event({"role": "assistant", "content": ""}).encode()] + packed
             + [(event({}, "stop") + "data: [DONE]\n\n").encode()])
# The change-detection probes that follow a batch get a short answer: they are not what is measured.
short = Reply(chunks=[(event({"role": "assistant", "content": "ok"}) + event({}, "stop") + "data: [DONE]\n\n").encode()])

def measured(reply):
    return lambda request: reply if b"refund policy" in request.body or b'"go"' in request.body else short

server = LoopbackServer()
server.route("/slow/v1/chat/completions", measured(slow))
server.route("/fast/v1/chat/completions", measured(fast))
server.start()
print(server.url, flush=True)
sys.stdin.read()
"""

SCENARIO = """\
id: load-check
title: A long answer, streamed slowly
category: security
controls: [CC6.6]
severity: low
turns:
  - user: Tell me everything about the refund policy.
detectors:
  - type: regex
    name: instructions echoed
    pattern: 'never reveal these instructions'
"""

CHILD = r"""
import asyncio, json, statistics, sys, time
mode, url, streams, long_chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
engagement_id = int(sys.argv[5]) if len(sys.argv) > 5 and mode != "bare" else 0
REQUEST = {"model": "load-1", "messages": [{"role": "user", "content": "go"}], "stream": True}
result = {}


class Ticker:
    # Records how late the loop woke a 5 ms sleeper: the time the UI could not answer.
    def __init__(self):
        self.stalls, self.task = [], None
    async def run(self):
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            self.stalls.append(max(0.0, loop.time() - before - 0.005))
    def start(self):
        self.stalls = []
        self.task = asyncio.ensure_future(self.run())
    def stop(self):
        self.task.cancel()
        ordered = sorted(self.stalls) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


async def raw():
    import httpx
    async def one(client):
        async with client.stream("POST", url + "/slow/v1/chat/completions", json=REQUEST) as response:
            async for _line in response.aiter_lines():
                pass
    async with httpx.AsyncClient(timeout=120, trust_env=False) as client:
        cpu = time.process_time()
        await asyncio.gather(*(one(client) for _ in range(streams)))
        result["cpu"] = time.process_time() - cpu


async def runner():
    from app.alignment import get_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import session
    with session() as db:
        plan = plan_runs(db, get_engagement(db, engagement_id), scenario_ids=["load-check"])
    events = [0]
    cpu = time.process_time()
    await run_scenarios(engagement_id, plan, concurrency=streams, on_event=lambda e: events.__setitem__(0, events[0] + 1))
    result["cpu"] = time.process_time() - cpu


def run_screen_ready(app):
    from screens.widgets.picker import ScenarioPicker
    try:
        return type(app.screen).__name__ == "RunScreen" and app.screen.query_one(ScenarioPicker).source is not None
    except Exception:  # not composed yet
        return False


def help_frames():
    # Time from the key to the first frame of the Help screen, for each press.
    from screens.help import HelpScreen
    drawn = []
    def on_mount(self):
        self.call_after_refresh(lambda: drawn.append(time.perf_counter()))
    HelpScreen.on_mount = on_mount
    return drawn


async def press_help(app, drawn):
    from screens.help import HelpScreen
    before, start = len(drawn), time.perf_counter()
    app.simulate_key("question_mark")
    while len(drawn) == before:
        await asyncio.sleep(0.001)
    took = drawn[-1] - start
    while not isinstance(app.screen, HelpScreen):
        await asyncio.sleep(0.001)
    app.pop_screen()
    await asyncio.sleep(0.2)
    return took


async def cockpit():
    from screens.app import RedlineApp
    from screens.widgets import run_queue
    from screens.widgets.picker import ScenarioPicker
    run_queue.CONCURRENCY = streams  # every stream at once, as the raw floor reads them
    drawn = help_frames()
    app = RedlineApp()
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.store_ready:
            await asyncio.sleep(0.01)
        app.push_screen_for("run", engagement_id)
        while not run_screen_ready(app):
            await asyncio.sleep(0.01)
        await pilot.pause()
        screen = app.screen
        await asyncio.sleep(1.0)  # idle: the screen's own loading (the scenario library, the run list) is over
        idle = [await press_help(app, drawn) for _ in range(3)]
        ticker = Ticker()
        ticker.start()
        cpu = time.process_time()
        screen.queue_scenarios(["load-check"])
        while len([e for e in screen.entries.values() if e.live]) < streams:
            await asyncio.sleep(0.01)
        live = [e for e in screen.entries.values() if e.live]
        while not all(e.status == "streaming" for e in live):
            await asyncio.sleep(0.01)
        busy = []
        for _ in range(3):
            await asyncio.sleep(0.3)
            if all(e.status in ("streaming", "running") for e in live):
                busy.append(await press_help(app, drawn))
        while any(e.running for e in live):
            await asyncio.sleep(0.01)
        result["cpu"] = time.process_time() - cpu
        result["p99"], result["max"] = ticker.stop()
        result["busy"], result["idle"] = statistics.median(busy or [float("nan")]), statistics.median(idle)
        while screen.queue.counts()[0]:  # the change-detection probes after the batch
            await asyncio.sleep(0.05)
        if long_chunks:
            from app.store.engine import session
            from app.store.models import AISystem
            from sqlmodel import select
            ticker.start()
            screen.queue_scenarios(["load-check"], system="long")
            while not [e for e in screen.entries.values() if e.live and e.system == "long"]:
                await asyncio.sleep(0.01)
            entry = [e for e in screen.entries.values() if e.live and e.system == "long"][0]
            screen._fill_table(select=entry.key)
            while entry.running:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.1)  # the last frame after the end of the turn
            result["long_max"] = ticker.stop()[1]


async def keys():
    # The Run screen's help rows, for the bare app to show the same table.
    from screens.app import RedlineApp
    from screens.help import keys_of
    app = RedlineApp()
    async with app.run_test(size=(120, 36)) as pilot:
        while not app.store_ready:
            await asyncio.sleep(0.01)
        app.push_screen_for("run", engagement_id)
        while not run_screen_ready(app):
            await asyncio.sleep(0.01)
        result["keys"] = [(k.key, k.description) for k in keys_of(app.screen)]


async def bare():
    from textual.app import App
    from textual.screen import Screen
    from textual.widgets import Footer, Header, Static
    from screens.help import HelpScreen, KeyHelp
    from app.resources import assets_dir
    keys = [KeyHelp("this screen", k, d) for k, d in json.loads(sys.argv[5])]
    drawn = help_frames()

    class Plain(Screen):
        def compose(self):
            yield Header(); yield Static("run"); yield Footer()

    class Bare(App):
        CSS_PATH = [assets_dir() / "tcss" / "app.tcss", assets_dir() / "tcss" / "help.tcss"]
        BINDINGS = [("question_mark", "help", "Help")]
        def on_mount(self):
            self.push_screen(Plain())
        def action_help(self):
            self.push_screen(HelpScreen("run", keys, "The same help, in a bare app."))

    app = Bare()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        result["idle"] = statistics.median([await press_help(app, drawn) for _ in range(3)])


asyncio.run({"raw": raw, "runner": runner, "cockpit": cockpit, "bare": bare, "keys": keys}[mode]())
print(json.dumps(result))
"""


def make_engagement(url: str, streams: int) -> int:
    from app import alignment
    from app.store.engine import dispose_all, session

    folder = Path(os.environ["REDLINE_HOME"]) / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "load-check.yaml").write_text(SCENARIO, encoding="utf-8")
    with session() as db:
        engagement = alignment.create_engagement(db, "load-2026", "Load Corp")
        engagement.scenario_paths = [str(folder)]
        db.add(engagement)
        eid = engagement.id or 0
        for index in range(streams):
            alignment.save_system(db, eid, alignment.system_spec(
                name=f"bot-{index + 1}", kind="openai", base_url=url + "/slow/v1", model="load-1"))
        alignment.save_system(db, eid, alignment.system_spec(
            name="long", kind="openai", base_url=url + "/fast/v1", model="load-1", in_scope=False))
        alignment.save_row(db, eid, criterion="CC6.6", scenarios=["load-check"])
    dispose_all()
    return eid


def run(code: str, argv: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    if done.returncode:
        raise SystemExit(done.stderr[-4000:])
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=1000, help="HTTP chunks per stream, 5 ms apart")
    parser.add_argument("--events", type=int, default=1, help="SSE events per HTTP chunk")
    parser.add_argument("--long-chunks", type=int, default=1_000_000, help="chunks of the one long turn (0: none)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.events), str(args.chunks), "0.005",
                               str(args.long_chunks)], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as home:
            os.environ["REDLINE_HOME"] = home
            sys.path.insert(0, str(REPO))
            eid = make_engagement(url, args.streams)
            base = [url, str(args.streams), str(args.long_chunks)]
            keys = json.dumps(json.loads(run(CHILD, ["keys", *base, str(eid)]))["keys"])
            samples: dict[str, list[dict[str, float]]] = {"raw": [], "runner": [], "cockpit": [], "bare": []}
            for _ in range(args.repeat):
                samples["raw"].append(json.loads(run(CHILD, ["raw", *base])))
                samples["runner"].append(json.loads(run(CHILD, ["runner", *base, str(eid)])))
                samples["cockpit"].append(json.loads(run(CHILD, ["cockpit", *base, str(eid)])))
                samples["bare"].append(json.loads(run(CHILD, ["bare", *base, keys])))
    finally:
        server.terminate()
        server.wait(10)

    def med(kind: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[kind] if key in s)

    raw, runner, cockpit = med("raw", "cpu"), med("runner", "cpu"), med("cockpit", "cpu")
    p99, worst = med("cockpit", "p99") * 1000, med("cockpit", "max") * 1000
    busy, idle, bare = med("cockpit", "busy") * 1000, med("cockpit", "idle") * 1000, med("bare", "idle") * 1000
    events = args.streams * args.chunks * args.events
    print(f"{args.streams} streams x {args.chunks * args.events} events ({events} in all), 5 ms between HTTP chunks;"
          f" medians of {args.repeat} interleaved fresh processes")
    print(f"  CPU raw httpx      {raw:6.2f} s   1.00x")
    print(f"  CPU runner alone   {runner:6.2f} s   {runner / raw:4.2f}x raw")
    print(f"  CPU cockpit        {cockpit:6.2f} s   {cockpit / raw:4.2f}x raw (goal <= 1.8x)")
    print(f"  loop stall         p99 {p99:5.1f} ms, max {worst:5.1f} ms (goal p99 <= 33, max <= 100)")
    print(f"  Help key           busy {busy:5.0f} ms, idle {idle:5.0f} ms: {busy / idle:4.2f}x idle (goal <= 1.2x)")
    print(f"  Help key, bare app idle {bare:5.0f} ms: cockpit idle {idle / bare:4.2f}x bare (goal <= 1.5x)")
    summary = (f"summary: CPU {cockpit / raw:.2f}x raw httpx, stall p99 {p99:.0f} ms max {worst:.0f} ms, "
               f"Help busy {busy / idle:.2f}x idle, idle {idle / bare:.2f}x bare")
    if args.long_chunks:
        long_max = med("cockpit", "long_max") * 1000
        print(f"  one turn of {args.long_chunks} chunks: longest stall {long_max:6.0f} ms, its end included"
              " (goal <= 100)")
        summary += f", {args.long_chunks}-chunk turn max stall {long_max:.0f} ms"
    print(summary)


if __name__ == "__main__":
    main()
