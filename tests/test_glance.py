"""The engagements list read with plain sqlite3: the same rows as through the store, without loading it."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from app.glance import glance
from tests.golden_bundle import STORE, use_store

ROOT = Path(__file__).resolve().parents[1]
DAYS = (date(2025, 1, 1), date(2025, 5, 20), date(2025, 9, 1), date(2026, 3, 1))


@pytest.mark.parametrize("today", DAYS)
def test_the_glance_reads_what_the_store_lists(redline_home: Path, today: date) -> None:
    from app.engagements import list_engagements
    from app.paths import db_path
    from app.store import session

    use_store(redline_home)
    with session() as db:
        listed = list_engagements(db, today=today)
    found = glance(db_path(), today)
    assert found == listed and [s.name for s in found] == ["acme-2026", "bulk-2025", "globex-type1"]
    assert found[0].windows == 3 and found[1].open_findings == 9
    assert "engagement_id" not in found[0].to_json()


def test_the_glance_loads_no_store_layer(tmp_path: Path) -> None:
    copy = tmp_path / "redline.db"
    shutil.copyfile(STORE, copy)
    code = ("import json, sys\nfrom datetime import date\nfrom pathlib import Path\nfrom app.glance import glance\n"
            f"rows = glance(Path({str(copy)!r}), date(2025, 5, 20))\n"
            "print(json.dumps([len(rows), sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlmodel', 'sqlalchemy', 'pydantic'))]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [3, []], done.stderr


def test_no_store_yet_or_an_unreadable_one_gives_none_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "redline.db"
    assert glance(missing, date(2025, 1, 1)) is None and not missing.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert glance(empty, date(2025, 1, 1)) is None  # no tables yet: the store opens and creates them
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    assert glance(tmp_path / "junk.db", date(2025, 1, 1)) is None
