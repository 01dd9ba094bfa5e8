"""How fast does each store take a streamed turn? SQLite and PostgreSQL side by side, as a ratio.

The runner's own write path is measured, nothing else: the store writer thread
(:class:`app.runner.writer.StoreWriter`) opening turns, appending their
``TurnChunk`` batches (text plus the raw SSE body, packed as the runner packs
it) and writing each turn's final row, each job its own transaction, exactly
as a live run does. No network and no detectors: the figure is the store's.

SQLite is a fresh file in a temp data dir. PostgreSQL is ``--database-url``
(its password from ``REDLINE_KEY_DATABASE`` or the keyring entry
``database``), else a throwaway server started with ``initdb``/``pg_ctl`` in a
temp dir on a loopback port (as ``nobody`` when run as root), stopped after.

Run: ``python bench/store.py [--turns N] [--batches B] [--database-url URL]``.
Prints each backend's figures, then one summary line with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIECE = "tok "


def sse_batch(pieces: int) -> tuple[str, bytes]:
    """One batch as the runner would flush it: the text of ``pieces`` deltas and their raw SSE frames."""
    frame = ('data: {"id":"c1","object":"chat.completion.chunk","model":"bench-1","choices":[{"index":0,'
             '"delta":{"content":' + json.dumps(PIECE) + '},"finish_reason":null}]}\n\n')
    return PIECE * pieces, (frame * pieces).encode()


def measure(turns: int, batches: int, pieces: int) -> tuple[float, int]:
    """Seconds to store ``turns`` streamed turns of ``batches`` batches each, and the raw bytes they held."""
    from app.runner.record import append_batch, open_turn, update_turn
    from app.runner.writer import StoreWriter
    from app.store import dispose_all, get_engine, session
    from app.store.models import AISystem, Engagement, Run, Scenario, utcnow

    dispose_all()
    with session() as db:
        engagement = Engagement(name=f"bench-{time.time_ns()}")
        db.add(engagement)
        db.flush()
        system = AISystem(engagement_id=engagement.id or 0, name="bench")
        scenario = Scenario(scenario_id=f"bench-{time.time_ns()}", sha256="0" * 64)
        db.add(system)
        db.add(scenario)
        db.flush()
        run = Run(engagement_id=engagement.id or 0, system_id=system.id or 0, scenario_pk=scenario.id or 0)
        db.add(run)
        db.flush()
        run_id = run.id or 0
    text, raw = sse_batch(pieces)
    writer = StoreWriter(get_engine())
    started = time.perf_counter()
    try:
        for step in range(turns):
            turn_id, _ = writer.submit(partial(open_turn, run_id=run_id, step=step, sample=0, kind="chat",
                                               identity="")).result()
            for seq in range(batches):
                writer.submit(partial(append_batch, turn_id=turn_id, seq=seq, text=text, raw=raw,
                                      at_ms=float(seq), chunk_count=(seq + 1) * pieces, ttft_ms=1.0))
            final = writer.submit(partial(update_turn, turn_id=turn_id, status="done", finished_at=utcnow(),
                                          response_text=text * batches))
        final.result()
    finally:
        writer.close()
    elapsed = time.perf_counter() - started
    dispose_all()
    return elapsed, turns * batches * len(raw)


def _server_url() -> tuple[str | None, object | None, str]:
    """A URL for a throwaway PostgreSQL server (and the server, to stop), or None and why not."""
    from tests.servers.postgres import PASSWORD, PostgresServer, server_binaries

    folder, why = server_binaries()
    if folder is None:
        return None, None, why
    uid = None
    if os.geteuid() == 0:
        import pwd

        uid = pwd.getpwnam("nobody").pw_uid
    server = PostgresServer(folder, Path(tempfile.mkdtemp(prefix="redline-pg-bench-")), uid=uid).start()
    os.environ["REDLINE_KEY_DATABASE"] = PASSWORD
    return server.url(server.create_database()), server, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--batches", type=int, default=50, help="batches per turn (the runner flushes every 100 ms)")
    parser.add_argument("--pieces", type=int, default=64, help="deltas per batch")
    parser.add_argument("--database-url", default="", help="a PostgreSQL store to measure (default: a temporary one)")
    args = parser.parse_args()

    os.environ["REDLINE_HOME"] = tempfile.mkdtemp(prefix="redline-bench-store-")
    os.environ.pop("REDLINE_DATABASE_URL", None)
    figures: dict[str, tuple[float, int]] = {"SQLite": measure(args.turns, args.batches, args.pieces)}
    server = None
    url = args.database_url
    if not url:
        url, server, why = _server_url()
        if url is None:
            print(f"PostgreSQL skipped: {why}")
    try:
        if url:
            os.environ["REDLINE_DATABASE_URL"] = url
            figures["PostgreSQL"] = measure(args.turns, args.batches, args.pieces)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    jobs = args.turns * (args.batches + 2)
    rates = {}
    for name, (seconds, raw_bytes) in figures.items():
        rates[name] = args.turns * args.batches / seconds
        print(f"{name:<11} {args.turns} turns x {args.batches} batches in {seconds:6.2f} s: "
              f"{rates[name]:7.0f} batches/s, {raw_bytes / seconds / 1e6:6.1f} MB/s of raw body, "
              f"{jobs / seconds:7.0f} transactions/s")
    if "PostgreSQL" in rates:
        print(f"streamed-turn write throughput: SQLite {rates['SQLite']:.0f} batches/s, PostgreSQL "
              f"{rates['PostgreSQL']:.0f} batches/s; PostgreSQL/SQLite = {rates['PostgreSQL'] / rates['SQLite']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
