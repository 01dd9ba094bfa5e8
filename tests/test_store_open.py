"""Two real processes opening the same new store at once, twenty times: neither may crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Each process opens 20 fresh stores in turn; before each it waits at a barrier for its peer, so
# both reach the first open (and the schema upgrade) of the same new file together.
_OPEN_STORES = """
import os, sys, time
from pathlib import Path
from app.store.engine import dispose_all, get_engine
from app.store.models import Engagement
from sqlmodel import Session, select
base, me, peer = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for attempt in range(20):
    (base / f"ready-{attempt}-{me}").touch()
    while not (base / f"ready-{attempt}-{peer}").exists():
        time.sleep(0.0005)
    try:
        with Session(get_engine(base / f"home-{attempt}" / "redline.db")) as db:
            db.exec(select(Engagement)).all()
        print(f"{attempt} opened", flush=True)
    except Exception as exc:
        import traceback
        traceback.print_exc()
        print(f"{attempt} failed: {exc!r}", flush=True)
    dispose_all()
"""


def test_two_processes_open_a_fresh_store_twenty_times(tmp_path: Path) -> None:
    """Two real processes create the same new store at once, 20 times; neither may crash (was 4 in 6)."""
    env = {**os.environ, "REDLINE_HOME": str(tmp_path / "unused"), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_STORES, str(tmp_path), me, peer], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for me, peer in (("a", "b"), ("b", "a"))]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err[-2000:]
        assert out.split("\n")[:-1] == [f"{i} opened" for i in range(20)], out
