"""The bundle does not change: every file of five exports of a frozen store hashes as recorded.

The store and the hashes are in ``tests/data/golden_bundle`` (see
``tests/golden_bundle.py`` for how they were made and when to record them
again). Only the manifest's export time and exporter are left out; the
manifest's file list, with every file's hash, is compared with the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden_bundle import CANARY, CANARY_ENV, EXPECTED, VARIANTS, export_hashes, file_hashes, use_store


def test_every_export_variant_writes_the_recorded_bytes(redline_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CANARY_ENV, CANARY)
    use_store(redline_home)
    expected = json.loads(EXPECTED.read_text())
    assert set(expected) == set(VARIANTS)
    found = export_hashes(redline_home, tmp_path)
    for variant, files in expected.items():
        assert list(found[variant]) == list(files), f"{variant}: the bundle's files or their order changed"
        changed = [path for path, digest in files.items() if found[variant][path] != digest]
        assert not changed, f"{variant}: these files no longer match the recorded bytes: {changed}"


def test_turns_are_read_from_the_store_once_for_every_sink(redline_home: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Both reports, the CSV, the XLSX, OSCAL and the transcripts share one read of the turns."""
    monkeypatch.setenv(CANARY_ENV, CANARY)
    use_store(redline_home)
    reads = _count_turn_reads(redline_home, tmp_path, "bulk")
    assert reads == 1


def test_past_the_memory_budget_each_sink_reads_again_and_the_bundle_is_the_same(
        redline_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.evidence import turns

    monkeypatch.setenv(CANARY_ENV, CANARY)
    monkeypatch.setattr(turns, "TURNS_KEPT", 0)
    use_store(redline_home)
    assert _count_turn_reads(redline_home, tmp_path, "bulk") > 1
    expected = json.loads(EXPECTED.read_text())["bulk"]
    assert file_hashes(tmp_path / "bulk.zip") == expected


def _count_turn_reads(home: Path, out: Path, variant: str) -> int:
    """How many statements read the turns' request column while one variant is exported."""
    from sqlalchemy import event

    from app.evidence.bundle import build_bundle
    from app.evidence.collect import find_engagement_id
    from app.store import session
    from app.store.engine import get_engine

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        engagement, options = VARIANTS[variant]
        with session() as db:
            build_bundle(db, find_engagement_id(db, engagement), out / f"{variant}.zip", sign=False, **options)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return sum(1 for s in statements if "turn.request" in s and "FROM turn" in s)
