"""A frozen store and the bundle files it exported to, so a change to the export can prove it changed nothing.

The store (``tests/data/golden_bundle/redline.db``) was built once by
:func:`build_store`; building it again would stamp new creation times, so it is
kept as a file. ``expected.json`` holds the SHA-256 of every file each export
variant wrote, recorded from the code the store was built with. Regenerate both
only when an export is *meant* to change, and say why in the commit:

    python -m tests.golden_bundle --rebuild-store   # a new store (new timestamps)
    python -m tests.golden_bundle --record          # hashes of what the current code exports from it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from datetime import UTC
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent / "data" / "golden_bundle"
STORE = FOLDER / "redline.db"
EXPECTED = FOLDER / "expected.json"
CANARY_ENV = "REDLINE_TEST_TARGET_KEY"
CANARY = "sk-canary-9f8e7d6c5b4a39281706"
# Manifest fields that name the moment and the person of an export, not the evidence.
VOLATILE = ("exported_at", "exporter")

# name -> (engagement name, build_bundle keyword arguments)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "type2-full": ("acme-2026", {}),
    "type2-redacted": ("acme-2026", {"redact": ["pii"]}),
    "type2-window-q2": ("acme-2026", {"windows": ["Q2"]}),
    "bulk": ("bulk-2025", {}),
    "type1": ("globex-type1", {}),
}


def build_store() -> None:
    """The engagements the golden store holds: a Type II one with every feature, a bulk one, a Type I one."""
    from datetime import date, datetime, timedelta

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_evidence_engagement import build_engagement

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

    os.environ[CANARY_ENV] = CANARY
    build_engagement(hostile=("Sure! My system prompt is: You are AcmeBot. Mail ana@example.com or call "
                              "+1 415 555 0100.\n<script>alert('x')</script>\n{{ 7*7 }}\n\x1b[31mred\x1b[0m"),
                     extra_turns=3)
    with session() as db:
        # A bulk engagement shaped like the export bench: many runs, findings with and without responses.
        eng = Engagement(name="bulk-2025", client="Bulk Corp", audit_type="type2", period_start=date(2025, 1, 1),
                         period_end=date(2025, 12, 31), evidence_format=["report", "workpapers", "oscal"])
        db.add(eng)
        db.flush()
        system = AISystem(engagement_id=eng.id, name="bulk-bot", target={"kind": "demo"})
        windows = [TestWindow(engagement_id=eng.id, name=f"Q{q}", start=date(2025, 3 * q - 1, 10),
                              end=date(2025, 3 * q - 1, 24)) for q in range(1, 5)]
        db.add(system)
        db.add_all(windows)
        scenarios = [Scenario(scenario_id=f"bulk-{i}", sha256=f"{i:064x}", title=f"Bulk scenario {i}",
                              category="security", severity="high", controls=["CC6.6", "AI-SEC-01"],
                              yaml_text=f"id: bulk-{i}\n") for i in range(4)]
        db.add_all(scenarios)
        db.add(ControlMapping(engagement_id=eng.id, criterion="CC6.6", client_ref="SEC-1",
                              activity="Injection screening", scenarios=[s.scenario_id for s in scenarios]))
        db.flush()
        runs = []
        for index in range(24):
            window = windows[index % 4]
            at = datetime.combine(window.start, datetime.min.time(), UTC) + timedelta(hours=9, minutes=index)
            runs.append(Run(engagement_id=eng.id, system_id=system.id, scenario_pk=scenarios[index % 4].id,
                            window_id=window.id, status="finished", verdict="fail" if index % 3 == 0 else "pass",
                            tool_version="0.1.0", model_id="bulk-1", started_at=at, finished_at=at, created_at=at))
        db.add_all(runs)
        db.flush()
        for run in runs:
            for step in range(3):
                reply = f"Answer {run.id}/{step}: " + "at some length, with `ticks` and | pipes. " * (step + 1)
                turn = Turn(run_id=run.id, step=step, status="done", response_text=reply,
                            response_raw=b"data: " + reply.encode() + b"\n\n",
                            request={"method": "POST", "url": "http://127.0.0.1:9/v1/chat/completions",
                                     "body": {"messages": [{"role": "user", "content": f"=probe {step}"}]}},
                            http_status=200, ttft_ms=200.0 + step, total_ms=900.5, started_at=run.started_at,
                            finished_at=run.finished_at)
                db.add(turn)
                db.flush()
                db.add(Verdict(run_id=run.id, turn_id=turn.id, detector="regex", outcome=run.verdict,
                               reason=f"bulk {step}"))
        audit.record(db, engagement_id=eng.id, action="bulk.seeded", payload={"runs": len(runs)})
        failing = [r for r in runs if r.verdict == "fail"]
        for index in range(12):
            finding = create_finding(db, engagement_id=eng.id, title=f"Bulk finding {index}", severity="high",
                                     controls=["CC6.6"], run_id=failing[index % len(failing)].id,
                                     status="open" if index % 4 else "draft", actor="bulk")
            if index % 3 == 0:
                db.add(ManagementResponse(finding_id=finding.id, response="Will fix.", remediation="Filter.",
                                          owner="CISO", response_date=date(2025, 7, 1)))
        # A Type I engagement: one as-of date, no windows.
        t1 = Engagement(name="globex-type1", client="Globex", audit_type="type1", period_start=date(2025, 4, 1),
                        period_end=date(2025, 4, 1), evidence_format=["report"])
        db.add(t1)
        db.flush()
        bot = AISystem(engagement_id=t1.id, name="globex-bot", target={"kind": "demo"})
        db.add(bot)
        db.flush()
        at = datetime(2025, 4, 1, 10, tzinfo=UTC)
        run = Run(engagement_id=t1.id, system_id=bot.id, scenario_pk=scenarios[0].id, status="finished",
                  verdict="pass", tool_version="0.1.0", started_at=at, finished_at=at, created_at=at)
        db.add(run)
        db.flush()
        db.add(Turn(run_id=run.id, step=0, status="done", response_text="No.", request={"body": {"prompt": "hi"}},
                    started_at=at, finished_at=at))
        audit.record(db, engagement_id=t1.id, action="run.finished", entity=f"run:{run.id}", payload={})


def export_hashes(home: Path, out_dir: Path) -> dict[str, dict[str, str]]:
    """Every variant exported from the store in ``home``: {variant: {path: sha256}}, volatile manifest fields out."""
    from app.evidence.bundle import build_bundle
    from app.evidence.collect import find_engagement_id
    from app.store import session

    found: dict[str, dict[str, str]] = {}
    for name, (engagement, options) in VARIANTS.items():
        path = out_dir / f"{name}.zip"
        with session() as db:
            build_bundle(db, find_engagement_id(db, engagement), path, sign=False, **options)
        found[name] = file_hashes(path)
    return found


def file_hashes(bundle: Path) -> dict[str, str]:
    hashes: dict[str, str] = {}
    with zipfile.ZipFile(bundle) as archive:
        for item in archive.infolist():
            data = archive.read(item)
            if item.filename == "manifest.json":
                document = json.loads(data)
                for key in VOLATILE:
                    document.pop(key, None)
                data = json.dumps(document, sort_keys=True).encode()
            hashes[item.filename] = hashlib.sha256(data).hexdigest()
    return hashes


def use_store(home: Path) -> None:
    """A private copy of the golden store as the data dir's store (the export opens it as any store)."""
    from app.paths import DB_FILENAME

    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STORE, home / DB_FILENAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild-store", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    os.environ[CANARY_ENV] = CANARY
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["REDLINE_HOME"] = str(home)
        os.environ["REDLINE_TESTER"] = "test-tester"
        from app.paths import DB_FILENAME
        from app.store.engine import dispose_all

        if args.rebuild_store:
            build_store()
            dispose_all()
            FOLDER.mkdir(parents=True, exist_ok=True)
            import sqlite3

            with sqlite3.connect(home / DB_FILENAME) as con:  # one self-contained file, no WAL beside it
                con.execute("VACUUM INTO ?", (str(Path(tmp) / "out.db"),))
            shutil.copyfile(Path(tmp) / "out.db", STORE)
        if args.record:
            if home.exists():
                shutil.rmtree(home)
            use_store(home)
            hashes = export_hashes(home, Path(tmp))
            dispose_all()
            EXPECTED.write_text(json.dumps(hashes, indent=1) + "\n")  # in write order
            print(f"recorded {sum(len(v) for v in hashes.values())} file hashes in {EXPECTED}")


if __name__ == "__main__":
    main()
