"""Hostile endpoints: peak memory and time of a real ``redline run`` against each attack, beside its limit.

A loopback server plays three hostile AI endpoints (tests/servers/hostile.py):

  endless stream   content events without end, as fast as they are read;
  endless line     one ``data:`` line that never ends;
  gzip bomb        about 1 MB on the wire that unpacks to 1 GiB, sent compressed
                   although Redline asked for no compression.

Each is run with the default limits (app.formats.engagement.Limits) and, with
``--small``, with small ones too. For every run the child process reports its
own peak RSS as it exits (tests/servers/peak.py); the table prints it, the
wall time, the limit that stopped the read, the bytes received, and the same
command's peak on an ordinary answer (the baseline). A child that passes the
safety ceiling (``--ceiling``, default 1500 MB) is killed and shown as such.

Run: ``python bench/hostile.py [--small] [--ceiling MB]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers.hostile import endless_line, endless_stream, gzip_bomb  # noqa: E402
from tests.servers.loopback import LoopbackServer  # noqa: E402
from tests.servers.peak import Peak, run_with_peak  # noqa: E402
from tests.servers.stream_server import OPENAI_PATH, openai_stream  # noqa: E402
from tests.test_runner_support import engagement_file, openai_system, scenario_file  # noqa: E402

MB = 1024 * 1024


def one(script: Any, limits: dict[str, int] | None, ceiling: float) -> tuple[Peak, dict[str, Any]]:
    """One ``redline run`` in a fresh data dir against ``script``; its peak and the turn's bounds."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["REDLINE_HOME"] = str(folder / "home")
        scenario_file(folder / "scenarios", {"id": "hostile", "turns": [{"user": "say something"}],
                                             "detectors": [{"type": "contains", "text": "NEVER-SAID"}]})
        with LoopbackServer() as server:
            server.route(OPENAI_PATH, script)
            target: dict[str, Any] = {"timeouts": {"connect": 5, "read": 10, "total": 60}}
            if limits:
                target["limits"] = limits
            path = engagement_file(folder, [openai_system("bot", server.url + "/v1", **target)],
                                   scenario_dir=folder / "scenarios")
            peak = run_with_peak(["run", str(path), "--scenario", "hostile"], cwd=REPO, ceiling_mb=ceiling,
                                 timeout=120)
        bounds: dict[str, Any] = {}
        try:
            with sqlite3.connect(folder / "home" / "redline.db") as db:
                row = db.execute("SELECT bounds FROM turn").fetchone()
            bounds = json.loads(row[0]) if row and row[0] else {}
        except sqlite3.Error:
            pass
        return peak, bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="also run each attack with small limits")
    parser.add_argument("--ceiling", type=float, default=1500, help="kill a child past this many MB")
    args = parser.parse_args()

    base, _ = one(openai_stream(["a short, ordinary answer"]), None, args.ceiling)
    print(f"baseline (an ordinary answer): peak RSS {base.peak_mb:.0f} MB, {base.seconds:.2f} s")
    attacks: list[tuple[str, Callable[[], Any], str, dict[str, int]]] = [
        ("endless stream", endless_stream, "text_bytes", {"text_bytes": 4 * MB}),
        ("endless line", endless_line, "line_bytes", {"line_bytes": 256 * 1024}),
        ("gzip bomb 1 GiB", lambda: gzip_bomb(1024 * MB)[0], "compression_ratio",
         {"decompressed_bytes": 4 * MB, "compression_ratio": 100_000}),
    ]
    print(f"{'attack':<18} {'limits':<8} {'stopped by':<20} {'limit':>10} {'received':>12} {'peak RSS':>9} "
          f"{'over base':>9} {'time':>7}")
    for name, script, default_limit, small in attacks:
        for label, limits in [("default", None)] + ([("small", small)] if args.small else []):
            peak, bounds = one(script(), limits, args.ceiling)
            stopped = "KILLED at ceiling" if peak.killed else (bounds.get("stopped_by") or "-")
            field = bounds.get("stopped_by") or default_limit
            cap = (bounds.get("limits") or {}).get(field)
            cap_text = f"{cap / MB:.2f} MB" if isinstance(cap, int) and field.endswith("bytes") else str(cap)
            received = bounds.get("bytes_received")
            received_text = f"{received / MB:.2f} MB" if isinstance(received, int) else "-"
            print(f"{name:<18} {label:<8} {stopped:<20} {cap_text:>10} {received_text:>12} "
                  f"{peak.peak_mb:>6.0f} MB {peak.peak_mb - base.peak_mb:>6.0f} MB {peak.seconds:>6.2f}s")


if __name__ == "__main__":
    main()
