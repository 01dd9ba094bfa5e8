"""How much does building an evidence bundle cost? A big engagement against a plain zip of the same bytes.

A temporary store gets one engagement with 10,000 turns (1,000 runs of 10
turns, each with a verdict, about 1 KB of text and raw bytes) and 500
findings, 100 of them with a management response. Then, each in a fresh
child process so peak memory is its own:

  (a) baseline: the finished bundle's files, unpacked to disk, written into a
      new zip with ``zipfile`` (deflate), nothing else;
  (b) ``build_bundle`` on the store: the whole export.

Each is run ``--repeat`` times (default 3), interleaved (a, b, a, b, ...), and
the medians are compared, so a machine busy with other work slows both alike.

Printed: wall time and peak RSS of each, the bundle's size, the ratios (b)/(a),
where the export's time goes (loading the evidence, then each kind of file, by
the export's own progress steps), and one summary line. Peak memory matters as
well: the export shares one read of the turns between its files up to a
budget (``app.evidence.turns.TURNS_KEPT``) and streams the rest.
Run: ``python bench/export.py [--turns N] [--findings N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TURNS_PER_RUN = 10


def build_store(turns: int, findings: int) -> int:
    """Fill the store in ``$REDLINE_HOME`` and return the engagement id."""
    from datetime import date, datetime, timedelta

    from app.findings import create_finding
    from app.store import audit, session
    from app.store.models import (
        AISystem,
        ControlMapping,
        Engagement,
        ManagementResponse,
        Run,
        Scenario,
        TestWindow,
        Turn,
        Verdict,
    )

    start = datetime(2025, 2, 10, 9, tzinfo=UTC)
    with session() as db:
        eng = Engagement(name="bench", client="Bench Corp", audit_type="type2", period_start=date(2025, 1, 1),
                         period_end=date(2025, 12, 31), evidence_format=["report", "workpapers", "oscal"])
        db.add(eng)
        db.flush()
        eid = eng.id
        system = AISystem(engagement_id=eid, name="support-bot", target={"kind": "demo"})
        db.add(system)
        windows = [TestWindow(engagement_id=eid, name=f"Q{q}", start=date(2025, 3 * q - 1, 10),
                              end=date(2025, 3 * q - 1, 24)) for q in range(1, 5)]
        db.add_all(windows)
        scenarios = [Scenario(scenario_id=f"bench-{i}", sha256=f"{i:064x}", title=f"Bench scenario {i}",
                              category="security", severity="high", controls=["CC6.6", "AI-SEC-01"],
                              yaml_text=f"id: bench-{i}\n") for i in range(10)]
        db.add_all(scenarios)
        db.add(ControlMapping(engagement_id=eid, criterion="CC6.6", client_ref="SEC-1", activity="Injection screening",
                              scenarios=[s.scenario_id for s in scenarios]))
        db.flush()
        runs = []
        for index in range(max(1, turns // TURNS_PER_RUN)):
            window = windows[index % 4]
            at = datetime.combine(window.start, start.timetz()) + timedelta(minutes=index)
            runs.append(Run(engagement_id=eid, system_id=system.id, scenario_pk=scenarios[index % 10].id,
                            window_id=window.id, status="finished", verdict="fail" if index % 2 else "pass",
                            tool_version="0.1.0", model_id="bench-1", started_at=at, finished_at=at,
                            created_at=at))
        db.add_all(runs)
        db.flush()
        reply = "The answer, at some length. " * 22
        raw = b"data: " + reply.encode() + b"\n\n"
        for run in runs:
            for step in range(TURNS_PER_RUN):
                turn = Turn(run_id=run.id, step=step, status="done", response_text=reply, response_raw=raw,
                            request={"method": "POST", "url": "http://127.0.0.1:9/v1/chat/completions",
                                     "body": {"messages": [{"role": "user", "content": f"probe {step}"}]}},
                            http_status=200, ttft_ms=200.0, total_ms=900.0, started_at=run.started_at,
                            finished_at=run.finished_at)
                db.add(turn)
            db.flush()
            db.add_all(Verdict(run_id=run.id, turn_id=t.id, detector="regex", outcome=run.verdict, reason="bench")
                       for t in db.exec(__import__("sqlmodel").select(Turn).where(Turn.run_id == run.id)).all())
        audit.record(db, engagement_id=eid, action="bench.seeded", payload={"runs": len(runs)})
        failing = [r for r in runs if r.verdict == "fail"]
        for index in range(findings):
            run = failing[index % len(failing)]
            finding = create_finding(db, engagement_id=eid, title=f"Bench finding {index}", severity="high",
                                     controls=["CC6.6"], run_id=run.id, status="open", actor="bench")
            if index % 5 == 0:
                db.add(ManagementResponse(finding_id=finding.id, response="Will fix.", remediation="Filter."))
        return int(eid)


def child(mode: str, engagement_id: int, source: str, out: str) -> None:
    """Runs in a fresh process: do one thing, print its time and peak RSS as JSON."""
    if mode == "export":
        import jinja2  # noqa: F401  (imports count as start-up, not as the export's working memory)
        import openpyxl  # noqa: F401

        from app.evidence.bundle import build_bundle
        from app.store import session
    before = rss_mb()
    began = time.perf_counter()
    phases: dict[str, float] = {}
    if mode == "export":
        import app.evidence.bundle as bundle_module

        load = bundle_module.load_evidence
        mark = [began]

        def timed_load(*args: object, **kwargs: object) -> object:
            found = load(*args, **kwargs)  # type: ignore[arg-type]
            phases["load evidence"] = time.perf_counter() - mark[0]
            mark[0] = time.perf_counter()
            return found

        def progress(step: object) -> None:
            now = time.perf_counter()
            phase = _phase(step.path)
            phases[phase] = phases.get(phase, 0.0) + now - mark[0]
            mark[0] = now

        bundle_module.load_evidence = timed_load  # type: ignore[assignment]
        with session() as db:
            build_bundle(db, engagement_id, Path(out), on_progress=progress)
    else:
        folder = Path(source)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "peak_mb": _status("VmHWM"), "start_mb": before, "phases": phases}))


def _phase(path: str) -> str:
    """The kind of file a progress step wrote (its time includes the work before it, e.g. a POA&M's set-up)."""
    if path.startswith(("transcripts/", "data/", "oscal/")):
        return path.split("/", 1)[0] + "/"
    return path


def rss_mb() -> float:
    return _status("VmRSS")


def _status(field: str) -> float:
    """This process's own (peak) RSS in MB. Linux's VmHWM starts afresh at exec; ru_maxrss can carry
    the parent's peak across fork+exec, so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(mode: str, engagement_id: int, source: str, out: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(engagement_id), source, out],
                          check=True, capture_output=True, text=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--findings", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each; medians are compared")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, eid, source, out = args.child
        child(mode, int(eid), source, out)
        return
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as tmp:
        os.environ["REDLINE_HOME"] = str(Path(tmp) / "home")
        began = time.perf_counter()
        eid = build_store(args.turns, args.findings)
        from app.store.engine import dispose_all

        dispose_all()
        print(f"store: {args.turns:,} turns, {args.findings} findings, built in {time.perf_counter() - began:.1f} s")
        bundle = Path(tmp) / "bundle.zip"
        unpacked = Path(tmp) / "unpacked"
        exports: list[dict] = []
        baselines: list[dict] = []
        for index in range(max(1, args.repeat)):
            exports.append(measure("export", eid, "", str(bundle)))
            if index == 0:
                with zipfile.ZipFile(bundle) as archive:
                    archive.extractall(unpacked)
                    raw_bytes = sum(i.file_size for i in archive.infolist())
                    files = len(archive.infolist())
            baselines.append(measure("zip", eid, str(unpacked), str(Path(tmp) / "baseline.zip")))
        exported, baseline = _median(exports), _median(baselines)
        print(f"bundle: {files} files, {raw_bytes / 1e6:.1f} MB uncompressed, {bundle.stat().st_size / 1e6:.1f} MB zipped")
        print(f"medians of {len(exports)} interleaved runs each")
        grown = {m: r["peak_mb"] - r["start_mb"] for m, r in (("a", baseline), ("b", exported))}
        print(f"(a) plain zipfile of the same bytes: {baseline['seconds']:.2f} s, peak RSS {baseline['peak_mb']:.0f} MB "
              f"({grown['a']:.0f} MB above its start)")
        print(f"(b) redline export:                  {exported['seconds']:.2f} s, peak RSS {exported['peak_mb']:.0f} MB "
              f"({grown['b']:.0f} MB above its start, after imports)")
        phases = {name: statistics.median(r["phases"].get(name, 0.0) for r in exports) for name in exports[0]["phases"]}
        for name, seconds in sorted(phases.items(), key=lambda item: -item[1]):
            print(f"    {name:<28} {seconds:6.2f} s  {seconds / baseline['seconds']:5.1f}x the baseline")
        ratio = exported["seconds"] / baseline["seconds"]
        print(f"ratio (b)/(a): time {ratio:.1f}x, "
              f"peak RSS {exported['peak_mb'] / baseline['peak_mb']:.1f}x; the export's working memory is "
              f"{grown['b'] / (raw_bytes / 1e6):.2f}x the bundle's uncompressed size")
        print(f"SUMMARY export {args.turns:,} turns / {args.findings} findings: {exported['seconds']:.2f} s vs plain zip "
              f"{baseline['seconds']:.2f} s = {ratio:.1f}x (goal <= 8x), peak RSS {exported['peak_mb']:.0f} MB")


def _median(runs: list[dict]) -> dict:
    """The run with the median time (its memory figures with it)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[len(ordered) // 2]


if __name__ == "__main__":
    main()
