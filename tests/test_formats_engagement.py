"""Engagement files: the example loads, import/export round-trips, re-import keeps history, bad files write nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from app.engagements import (
    UnknownEngagement,
    apply_engagement,
    dump_engagement_yaml,
    export_engagement,
    import_engagement,
    list_engagements,
    load_engagement_file,
)
from app.findings import create_finding
from app.formats.engagement import EngagementSpec
from app.formats.yamlsource import parse_yaml, validate
from app.library import load_library, snapshot
from app.resources import assets_dir
from app.store.audit import verify_chain
from app.store.engine import session
from app.store.models import AISystem, AuditEvent, ControlMapping, Engagement, Finding, Run, TestWindow

EXAMPLE = assets_dir() / "examples" / "acme-2026.yaml"
BAD = Path(__file__).parent / "data" / "bad" / "engagement"


def _rows(db: Any, model: type) -> list[Any]:
    from sqlmodel import select

    return list(db.exec(select(model)).all())


def _variant(tmp_path: Path, change: Any) -> Path:
    """A copy of the example with ``change(data)`` applied; scenario paths still point at the example's."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["scenario_paths"] = [str(EXAMPLE.parent / p) for p in data["scenario_paths"]]
    change(data)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_example_loads_with_every_part() -> None:
    spec = load_engagement_file(EXAMPLE)
    assert spec.name == "acme-2026" and spec.audit.type == "type2"
    assert [w.name for w in spec.windows] == ["Q1", "Q2", "Q3", "Q4"]
    bot, demo = spec.systems
    assert (bot.target.kind, bot.target.base_url) == ("openai", "http://127.0.0.1:8750/v1")
    assert bot.target.api_key is not None and bot.target.api_key.env == "ACME_KEY"
    assert demo.target.kind == "demo"
    assert {"CC6.1", "CC6.6", "AI-SEC-01", "PI1.4"} <= {c.criterion for c in spec.controls}
    assert spec.audit.evidence_format == ["report", "workpapers", "oscal"]


def test_import_stores_references_never_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_KEY", "sk-test-value-that-must-not-be-stored")
    spec = load_engagement_file(EXAMPLE)
    with session() as db:
        engagement = import_engagement(db, spec, EXAMPLE)
    with session() as db:
        systems = {s.name: s for s in _rows(db, AISystem)}
        events = _rows(db, AuditEvent)
        assert verify_chain(db, engagement.id) == []
    assert engagement.source_path == str(EXAMPLE.resolve())
    bot = systems["support-bot"]
    assert bot.target["api_key"] == {"env": "ACME_KEY"}
    assert bot.target["canaries"] == ["ACME-CANARY-2c91d4"]
    assert "sk-test-value" not in repr(bot.target)
    assert [e.action for e in events] == ["engagement.imported"]
    assert events[0].payload["systems"] == ["support-bot", "support-bot-demo"]
    assert events[0].payload["summary"] == "2 system(s), 4 window(s), 8 control row(s)"


def test_import_export_round_trip() -> None:
    spec = load_engagement_file(EXAMPLE)
    with session() as db:
        import_engagement(db, spec, EXAMPLE)
    with session() as db:
        exported = export_engagement(db, "acme-2026")
    assert exported == spec
    text = dump_engagement_yaml(exported)
    assert text.index("name:") < text.index("audit:") < text.index("systems:") < text.index("windows:")
    assert "env: ACME_KEY" in text
    data, locations = parse_yaml(text, "export.yaml")
    assert validate(EngagementSpec, data, locations, "export.yaml") == spec
    # Importing the export again changes nothing, and says so.
    with session() as db:
        outcome = apply_engagement(db, exported, EXAMPLE)
    assert (outcome.created, outcome.summary, outcome.changes) == (False, "no changes", {})


def test_reimport_keeps_history_and_descopes_tested_systems(tmp_path: Path) -> None:
    spec = load_engagement_file(EXAMPLE)
    with session() as db:
        engagement = import_engagement(db, spec, EXAMPLE)
        systems = {s.name: s for s in _rows(db, AISystem)}
        windows = {w.name: w for w in _rows(db, TestWindow)}
        scenario = snapshot(db, load_library().get("pi-direct-override"))  # type: ignore[arg-type]
        run = Run(engagement_id=engagement.id, system_id=systems["support-bot"].id, scenario_pk=scenario.id,
                  window_id=windows["Q1"].id, status="finished", verdict="fail")
        db.add(run)
        db.flush()
        finding = create_finding(db, engagement_id=engagement.id, title="Prompt injection", status="open",
                                 severity="high", run_id=run.id)
    bot_id, demo_id = systems["support-bot"].id, systems["support-bot-demo"].id

    def change(data: dict[str, Any]) -> None:
        data["client"] = "Acme Corporation"
        data["systems"] = [s for s in data["systems"] if s["name"] != "support-bot"]
        data["systems"][0]["description"] = "Demo system, dry runs only"
        data["windows"] = [w for w in data["windows"] if w["name"] not in ("Q1", "Q2")]
        data["systems"].append({"name": "new-bot", "target": {"kind": "demo", "hardened": True}})
        data["controls"] = data["controls"][:3]

    variant = load_engagement_file(_variant(tmp_path, change))
    with session() as db:
        outcome = apply_engagement(db, variant, tmp_path / "variant.yaml")
    assert outcome.changes["systems"] == {"added": ["new-bot"], "updated": {"support-bot-demo": ["description"]},
                                          "kept_out_of_scope": ["support-bot"]}
    assert outcome.changes["windows"] == {"kept_with_runs": ["Q1"], "removed": ["Q2"]}
    assert outcome.changes["controls"] == {"replaced": True, "rows": {"from": 8, "to": 3}}
    assert outcome.changes["fields"]["client"] == {"from": "Acme Corp", "to": "Acme Corporation"}
    with session() as db:
        systems = {s.name: s for s in _rows(db, AISystem)}
        assert (systems["support-bot"].id, systems["support-bot"].in_scope) == (bot_id, False)
        assert systems["support-bot-demo"].id == demo_id and systems["support-bot-demo"].in_scope
        assert [r.id for r in _rows(db, Run)] == [run.id]
        assert [f.id for f in _rows(db, Finding)] == [finding.id]
        assert sorted(w.name for w in _rows(db, TestWindow)) == ["Q1", "Q3", "Q4"]
        assert len(_rows(db, ControlMapping)) == 3
        events = [(e.action, e.payload.get("summary")) for e in _rows(db, AuditEvent)]
        assert verify_chain(db, engagement.id) == []
    assert [a for a, _ in events] == ["engagement.imported", "finding.created", "engagement.updated"]
    assert "systems kept out of scope: support-bot" in events[-1][1]
    assert "control matrix replaced (8 -> 3 rows)" in events[-1][1]

    # The original file brings the system back into scope, with the same id and its run.
    with session() as db:
        again = apply_engagement(db, spec, EXAMPLE)
        bot = db.get(AISystem, bot_id)
        assert bot is not None and bot.in_scope
    assert again.changes["systems"]["updated"]["support-bot"] == ["in_scope"]
    assert again.changes["systems"]["removed"] == ["new-bot"]


def test_bad_import_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engagement", "import", str(BAD / "eng-window-outside.yaml")]) == 2
    with session() as db:
        assert _rows(db, Engagement) == [] and _rows(db, AuditEvent) == []
    assert main(["engagement", "import", str(EXAMPLE)]) == 0
    with session() as db:
        before = [(e.seq, e.hash) for e in _rows(db, AuditEvent)]
    # Same engagement name, a bad criterion: nothing about the stored engagement may change.
    broken = _variant(tmp_path, lambda d: (d.update(client="Changed"), d["controls"].append({"criterion": "CC9.9"})))
    capsys.readouterr()
    assert main(["engagement", "import", str(broken)]) == 2
    err = capsys.readouterr().err
    lines = broken.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, start=1) if "CC9.9" in text)
    column = lines[line - 1].index("CC9.9") + 1
    assert err == f"redline: {broken}:{line}:{column}: field 'controls[8].criterion': unknown criterion 'CC9.9'\n"
    with session() as db:
        (engagement,) = _rows(db, Engagement)
        assert engagement.client == "Acme Corp"
        assert [(e.seq, e.hash) for e in _rows(db, AuditEvent)] == before


def test_list_engagements_status() -> None:
    spec = load_engagement_file(EXAMPLE)
    with session() as db:
        engagement = import_engagement(db, spec, EXAMPLE)
        for severity, status in (("high", "open"), ("high", "remediating"), ("low", "retest_failed"),
                                 ("medium", "draft"), ("medium", "closed")):
            # Stored as if each had gone through its lifecycle (create_finding starts only at draft or open).
            db.add(Finding(engagement_id=engagement.id, title=f"{severity} {status}", severity=severity,
                           status=status))
    with session() as db:
        (row,) = list_engagements(db, today=date(2026, 3, 15))
        (late,) = list_engagements(db, today=date(2026, 12, 1))
    assert (row.name, row.client, row.audit_type, row.systems_in_scope, row.windows) == (
        "acme-2026", "Acme Corp", "type2", 2, 4)
    assert (row.next_window, row.next_window_start) == ("Q2", date(2026, 5, 4))
    assert (row.open_findings, row.open_by_severity) == (3, {"high": 2, "low": 1})
    assert late.next_window is None
    assert row.to_json()["period_start"] == "2026-01-01"


def test_unknown_engagement_is_a_clear_error() -> None:
    with session() as db:
        with pytest.raises(UnknownEngagement, match=r"no engagement named 'nope' \(there are none yet"):
            export_engagement(db, "nope")
