"""Shared set-up for the runner tests: engagement and scenario files, real servers, store readers.

Everything here is real: engagement files go through the real loader and
importer, scenarios through the real library, targets are the demo AI system
or the loopback stream/fault servers on 127.0.0.1.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.loopback import Reply
from tests.servers.stream_server import openai_events, sse

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def engagement_file(folder: Path, systems: list[dict[str, Any]], *, name: str = "acme-test",
                    controls: list[dict[str, Any]] | None = None, scenario_dir: Path | None = None) -> Path:
    """A Type II engagement whose period and window ``W-now`` contain today, written as YAML."""
    today = date.today()
    spec: dict[str, Any] = {
        "name": name, "client": "Acme Corp",
        "audit": {"type": "type2", "period": {"start": str(today - timedelta(days=60)),
                                               "end": str(today + timedelta(days=60))}},
        "systems": systems,
        "windows": [{"name": "W-past", "start": str(today - timedelta(days=50)),
                     "end": str(today - timedelta(days=40))},
                    {"name": "W-now", "start": str(today - timedelta(days=5)),
                     "end": str(today + timedelta(days=5))}],
        "controls": controls or [],
    }
    if scenario_dir is not None:
        spec["scenario_paths"] = [str(scenario_dir)]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def openai_system(name: str, base_url: str, **target: Any) -> dict[str, Any]:
    return {"name": name, "target": {"kind": "openai", "base_url": base_url, "model": "acme-support-1",
                                     "max_retries": 0, **target},
            "models": ["acme-support-1"], "canaries": ["RL-CANARY-7f3a91"]}


def scenario_file(folder: Path, spec: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    full = {"title": f"Test scenario {spec['id']}", "category": "security", "controls": ["CC6.6"],
            "severity": "medium", "rationale": "test", "expected": "test", "remediation": "test", **spec}
    path = folder / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(full, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def import_engagement_file(path: Path) -> Any:
    from app.engagements import import_engagement, load_engagement_file
    from app.store import session

    with session() as db:
        return import_engagement(db, load_engagement_file(path), path)


def plan(engagement: Any, **options: Any) -> list[Any]:
    from app.runner import plan_runs
    from app.store import session

    with session() as db:
        return plan_runs(db, engagement, **options)


def evented_stream(texts: Sequence[str], *, delay: float = 0.0, model: str = "acme-support-1") -> Reply:
    """An OpenAI stream whose every SSE event is its own HTTP chunk, ``delay`` seconds apart."""
    return Reply(chunks=[sse([event]) for event in openai_events(texts, model=model)], delay=delay)


def db_file(home: Path) -> Path:
    return home / "redline.db"


def read_db(home: Path, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows read through a separate sqlite3 connection, as another process would see them."""
    conn = sqlite3.connect(f"file:{db_file(home)}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def streamed_raw(home: Path, where: str = "1", params: Sequence[Any] = ()) -> bytes:
    """The raw body bytes of the chunks matching ``where`` (over ``turnchunk c``), unpacked, in order."""
    from app.store.streamed import unpack_raw

    rows = read_db(home, f"SELECT c.raw, c.raw_codec FROM turnchunk c JOIN turn t ON t.id = c.turn_id "
                         f"WHERE c.raw IS NOT NULL AND ({where}) ORDER BY c.turn_id, c.seq", params)
    return b"".join(unpack_raw(raw, codec) for raw, codec in rows)


def store_contents(home: Path) -> bytes:
    """Everything the store holds, for greps: its files' bytes, and every streamed raw body unpacked
    (a packed body would hide a leaked key from a grep of the file)."""
    from app.store import dispose_all

    dispose_all()
    files = b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.name.startswith(db_file(home).name))
    return files + streamed_raw(home)


@pytest.fixture(scope="module")
def demo_pair() -> Iterator[tuple[Any, Any]]:
    """A vulnerable and a hardened demo AI system, streaming with no artificial delay."""
    from app.demo.server import start_demo_server

    vulnerable = start_demo_server(chunk_delay=0, service_time=0)
    hardened = start_demo_server(hardened=True, chunk_delay=0, service_time=0)
    yield vulnerable, hardened
    vulnerable.stop()
    hardened.stop()
