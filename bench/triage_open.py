"""Opening a long transcript in triage: time to the first frame and peak memory, for 0.1, 1 and 10 MB.

A real run of the demo engagement is stored, then its first turn's response is
replaced by model-like prose of the wanted size (paragraphs, a code block with
tabs now and then, a few escape sequences and bidi marks: the text the
preparation must make safe). Each sample is a fresh interpreter that opens the
cockpit headless, waits for the store, then opens triage on that run:

- first frame: from asking for the triage screen to the first refresh after it
  mounted (what the tester waits for);
- peak memory: the process's peak RSS once the whole transcript is prepared,
  minus the peak of the same process that never opened triage (the baseline,
  measured in the same run), per character of the transcript.

The baseline for time is the 0.1 MB transcript; each size prints its ratio to it.

    python bench/triage_open.py [--repeat N] [--sizes 0.1,1,10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = r"""
import asyncio, resource, sys, time
from screens.app import RedlineApp
from screens.triage import TriageScreen

engagement_id, run_id, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
frame = {}
mounted = TriageScreen.on_mount

def on_mount(self):
    mounted(self)
    self.call_after_refresh(lambda: frame.setdefault("t", time.perf_counter()))

TriageScreen.on_mount = on_mount

async def main():
    app = RedlineApp()
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.store_ready:
            await asyncio.sleep(0.01)
        await pilot.pause()
        start = time.perf_counter()
        if mode == "triage":
            app.push_screen_for("triage", engagement_id, run_id=run_id)
            while "t" not in frame:
                await asyncio.sleep(0.001)
            from screens.widgets.transcript import Transcript
            transcript = app.screen.query_one(Transcript)
            # The whole transcript prepared (the peak counts everything, not only the first screen).
            while not (getattr(transcript, "prepared", True) and getattr(app.screen.run, "complete", True)):
                await asyncio.sleep(0.005)
        await pilot.pause()
    took = frame.get("t", start) - start
    print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

asyncio.run(main())
"""

PARAGRAPH = ("Sure. Here is what the policy says about refunds, step by step, with the caveats the support team "
             "should know before promising anything to a customer. [bold]Refunds[/bold] above $500 need a human "
             "agent, and the agent must record why.\n")
CODE = "```\nif refund > 500:\n\tescalate(ticket)\n\treturn\n```\n"
ODD = "\x1b[31mred\x1b[0m and \u202eevil\u202c then\r\n"


def prose(size: int) -> str:
    """Model-like text of ``size`` characters: mostly prose, a code block with tabs per ~2 KB, rare escapes."""
    block = PARAGRAPH * 8 + CODE + PARAGRAPH * 4
    out, length, index = [], 0, 0
    while length < size:
        piece = block + (ODD if index % 16 == 15 else "")
        out.append(piece)
        length += len(piece)
        index += 1
    return "".join(out)[:size]


async def make_runs(sizes: list[float]) -> tuple[int, list[int]]:
    from sqlalchemy import update
    from sqlmodel import select

    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import Turn

    with session() as db:
        eid = ensure_demo_engagement(db).id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    run_ids = []
    for size in sizes:
        [outcome] = await run_scenarios(eid, plan)
        assert outcome.run_id is not None
        with session() as db:
            first = min(db.exec(select(Turn.id).where(Turn.run_id == outcome.run_id)).all())
            db.exec(update(Turn).where(Turn.id == first).values(response_text=prose(int(size * 1_000_000))))
            db.commit()
        run_ids.append(outcome.run_id)
    dispose_all()
    return eid, run_ids


def sample(home: str, eid: int, run_id: int, mode: str) -> tuple[float, int]:
    env = dict(os.environ, REDLINE_HOME=home, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", CHILD, str(eid), str(run_id), mode], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    took, peak = done.stdout.split()[-2:]
    return float(took), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="0.1,1,10", help="transcript sizes in MB")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as home:
        os.environ["REDLINE_HOME"] = home
        eid, run_ids = asyncio.run(make_runs(sizes))
        times: dict[float, list[float]] = {s: [] for s in sizes}
        peaks: dict[float, list[int]] = {s: [] for s in sizes}
        base: list[int] = []
        for _ in range(args.repeat):  # interleaved: the machine's load falls on every size alike
            base.append(sample(home, eid, run_ids[0], "none")[1])
            for size, run_id in zip(sizes, run_ids, strict=True):
                took, peak = sample(home, eid, run_id, "triage")
                times[size].append(took)
                peaks[size].append(peak)
    floor = statistics.median(base)
    first = statistics.median(times[sizes[0]])
    print(f"triage open, median of {args.repeat} interleaved fresh processes (100x30, headless)")
    print(f"  process without triage: peak {floor / 1e6:.0f} MB")
    summary = []
    for size in sizes:
        took, peak = statistics.median(times[size]), statistics.median(peaks[size])
        chars = int(size * 1_000_000)
        per_char = (peak - floor) / chars
        print(f"  {size:5.1f} MB: first frame {took * 1000:7.0f} ms ({took / first:5.2f}x the {sizes[0]} MB one)"
              f" · peak {peak / 1e6:6.0f} MB, +{per_char:5.1f} bytes per character")
        summary.append(f"{size:g} MB {took * 1000:.0f} ms +{per_char:.1f} B/char")
    print("summary: triage first frame / peak memory: " + "; ".join(summary)
          + " (goal: <= 300 ms and <= +4 B/char at every size)")


if __name__ == "__main__":
    main()
