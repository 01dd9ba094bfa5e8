"""The evidence bundle: its files, its manifest, determinism, secrets, window selection, the CLI."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from test_evidence_engagement import CANARY, CANARY_ENV, World, entries, export, world  # noqa: F401

from app.cli import main
from app.evidence.verify import verify_bundle
from app.store import session

FIXED = {
    "report.md", "report.html", "workpapers.xlsx", "manifest.json", "audit/events.jsonl",
    "oscal/system-security-plan.json", "oscal/assessment-plan.json", "oscal/assessment-results.json",
    "oscal/poam.json", "calibration/detectors.json",
    *(f"data/{n}.json" for n in ("engagement", "systems", "controls", "windows", "scenarios", "runs", "verdicts",
                                 "findings", "retests", "responses", "changes", "attachments")),
    *(f"workpapers/{n}.csv" for n in ("test_plan", "attack_coverage", "sampling", "systems_as_tested", "test_results", "turn_results", "findings",
                                      "remediation_verification", "continuous_monitoring", "exception_log",
                                      "awaiting_triage", "audit_trail")),
}


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_bundle_lists_every_expected_file_and_the_manifest_hashes_match(world: World, tmp_path: Path) -> None:
    seen: list = []
    result = export(world.engagement_id, tmp_path / "b.zip", on_progress=seen.append)
    files = entries(result.path)
    transcripts = {f"transcripts/{rid}.jsonl" for rid in world.runs.values()}
    assert set(files) == FIXED | transcripts
    with zipfile.ZipFile(result.path) as archive:
        assert archive.namelist()[-1] == "manifest.json"  # written last, after every hash is known
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for name, item in listed.items():
        assert item["sha256"] == hashlib.sha256(files[name]).hexdigest() and item["size"] == len(files[name])
    assert manifest["engagement"] == {"id": world.engagement_id, "name": "acme-2026", "client": "Acme Corp"}
    assert manifest["audit_chain"]["ok"] is True and manifest["audit_chain"]["length"] == 17
    assert manifest["counts"] == {"runs": 6, "turns": 7, "findings": 2, "open_findings": 1, "audit_events": 17,
                                  "flagged_runs": 2}
    assert (result.runs, result.turns, result.findings, result.flagged_runs) == (6, 7, 2, 2)
    assert [p.done for p in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].path == "manifest.json" and seen[-1].done == seen[-1].total
    report = verify_bundle(result.path)
    assert report.ok, report.problems
    assert report.files_checked == len(listed) and report.chain_length == 17


def test_transcripts_hold_every_request_response_retry_and_error(world: World, tmp_path: Path) -> None:
    files = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    lines = [json.loads(x) for x in files[f"transcripts/{world.runs['r1']}.jsonl"].splitlines()]
    assert [t["step"] for t in lines] == [0, 1]
    first, second = lines
    assert first["request"]["body"]["messages"][0]["content"].startswith("Ignore all previous")
    assert first["auto_verdicts"][0]["reason"] == "system prompt disclosed"
    # the streamed body, stored batch by batch, comes out whole
    assert base64.b64decode(first["response_raw_b64"]) == b'data: {"choices":[{"delta":{"content":"Sure!"}}]}\n\n'
    assert first["human_verdicts"][0]["actor"] == "ana" and first["outcome"] == "fail"
    assert second["status"] == "error" and second["error_type"] == "timeout"
    assert second["retries"] == [
        {"attempt": 1, "detail": "retry-after 0.5", "error_type": "rate_limited", "http_status": 429, "wait_ms": 500.0},
        {"attempt": 2, "error": "interrupted", "error_type": "stream_error", "partial_text": "=cut off",
         "status": "streaming", "superseded": "resumed run"}]
    assert "retry_notes" not in second and "prompt" not in second  # a transcript is what was stored
    report = files["report.md"].decode()
    assert "- Retried, attempt 1: rate\\_limited, HTTP 429, waited 500 ms: retry-after 0.5" in report
    assert ("- Retried, attempt 2: stream\\_error, superseded (resumed run): interrupted; partial text kept: =cut off"
            in report)
    assert second["response_raw_b64"] is None
    events = [json.loads(x) for x in files["audit/events.jsonl"].splitlines()]
    assert [e["seq"] for e in events] == list(range(1, 18))


def test_the_same_database_exports_byte_identical_files(world: World, tmp_path: Path) -> None:
    first = entries(export(world.engagement_id, tmp_path / "one.zip").path)
    second = entries(export(world.engagement_id, tmp_path / "two.zip").path)
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing in ([], ["manifest.json"])
    m1, m2 = json.loads(first["manifest.json"]), json.loads(second["manifest.json"])
    m1.pop("exported_at"), m2.pop("exported_at")
    assert m1 == m2


def test_export_only_reads_the_store(world: World, tmp_path: Path, redline_home: Path) -> None:
    def snapshot() -> list[tuple[str, int]]:
        con = sqlite3.connect(redline_home / "redline.db")
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return [(t, con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in sorted(tables)]
        finally:
            con.close()

    before = snapshot()
    export(world.engagement_id, tmp_path / "b.zip")
    assert snapshot() == before


def test_no_secret_reaches_any_file_of_the_bundle(world: World, tmp_path: Path) -> None:
    files = entries(export(world.engagement_id, tmp_path / "b.zip").path)
    with zipfile.ZipFile(io.BytesIO(files["workpapers.xlsx"])) as xlsx:  # look inside the XLSX package too
        files.update({f"workpapers.xlsx/{n}": xlsx.read(n) for n in xlsx.namelist()})
    for name, data in files.items():
        assert CANARY.encode() not in data, name
    # The model echoed the key in run r5: the evidence keeps the fact of the leak, not the key.
    echoed = json.loads(files[f"transcripts/{world.runs['r5']}.jsonl"].splitlines()[0])
    assert echoed["response_text"] == "cust-0042 key [REDACTED]"
    systems = json.loads(files["data/systems.json"])
    assert systems[1]["target"]["api_key"] == {"env": CANARY_ENV}  # the reference, never the value


def test_window_selection_keeps_only_that_windows_evidence(world: World, tmp_path: Path) -> None:
    result = export(world.engagement_id, tmp_path / "q1.zip", windows=["Q1"])
    files = entries(result.path)
    assert {n for n in files if n.startswith("transcripts/")} == {
        f"transcripts/{world.runs['r1']}.jsonl", f"transcripts/{world.runs['r2']}.jsonl"}
    findings = json.loads(files["data/findings.json"])
    assert [f["id"] for f in findings] == [world.findings["f1"]]
    assert json.loads(files["data/retests.json"]) == []  # the re-test ran in Q2
    manifest = json.loads(files["manifest.json"])
    assert manifest["windows"] == ["Q1"] and manifest["audit_chain"]["length"] == 17  # the whole chain, always
    assert "oscal/poam.json" not in files  # f1 is no longer open
    assert manifest["omitted"] == [{"path": "oscal/poam.json",
                                    "reason": "no open findings (a POA&M needs at least one item)"}]
    assert verify_bundle(result.path).ok
    sampling = list(csv.DictReader(io.StringIO(files["workpapers/sampling.csv"].decode("utf-8-sig"))))
    assert [(r["Test window"], r["In this bundle"]) for r in sampling] == [
        ("Q1", "yes"), ("Q2", "no (not selected for this export)"), ("Q3", "no (not selected for this export)")]


def test_a_failed_export_leaves_no_file(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.evidence import report
    from app.evidence.collect import ExportError

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match="does not exist"):
        export(world.engagement_id, out / "missing" / "b.zip")
    with pytest.raises(ExportError, match="no test window 'Q7'"):
        export(world.engagement_id, out / "b.zip", windows=["Q7"])

    def failing_render(ev, kind):  # type: ignore[no-untyped-def]
        yield "# half a report"
        raise OSError("disk full")

    monkeypatch.setattr(report, "render", failing_render)
    with pytest.raises(ExportError, match="cannot write .*b.zip: disk full"):
        export(world.engagement_id, out / "b.zip")
    assert list(out.iterdir()) == []  # neither the bundle nor its partial file


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_cli_export_then_verify(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "acme.zip"
    assert main(["export", "acme-2026", "--out", str(out), "--window", "Q1", "--window", "Q2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "5 runs" in printed and "1 run(s) break a Type I/II dating rule" in printed
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith("OK: acme.zip")
    assert main(["export", "no-such", "--out", str(tmp_path / "x.zip")]) == 2
    assert "no engagement named 'no-such'" in capsys.readouterr().err
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    assert main(["verify", str(tmp_path / "junk.zip")]) == 2
    assert "not a readable zip" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "absent.zip")]) == 2


def test_a_broken_audit_chain_is_refused_unless_allowed_and_then_fails_verification(
        world: World, tmp_path: Path, redline_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    con = sqlite3.connect(redline_home / "redline.db")
    con.execute("DELETE FROM auditevent WHERE seq = 5")
    con.commit()
    con.close()
    out = tmp_path / "broken.zip"
    assert main(["export", "acme-2026", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no bundle was written" in err and "audit event #5: missing" in err and "--allow-broken" in err
    assert not out.exists()
    assert main(["export", "acme-2026", "--out", str(out), "--allow-broken"]) == 0
    assert "warning: the audit chain, or the evidence it covers, is broken" in capsys.readouterr().err
    manifest = json.loads(entries(out)["manifest.json"])
    assert manifest["broken_export_allowed"] is True
    assert "The audit chain was broken when this bundle was exported." in entries(out)["report.md"].decode()
    chain = manifest["audit_chain"]
    assert chain["ok"] is False and chain["length"] == 16
    assert "audit event #5: missing (next present is #6)" in chain["problems"]
    report = verify_bundle(out)
    assert not report.ok
    assert any("already broken when the bundle was exported" in p for p in report.problems)
    assert "audit chain: audit event #5: missing (next present is #6)" in report.problems
    assert main(["verify", str(out)]) == 1


def test_an_engagement_without_runs_still_exports(tmp_path: Path) -> None:
    from app.store.models import Engagement

    with session() as db:
        eng = Engagement(name="empty", audit_type="type1")
        db.add(eng)
        db.flush()
        eid = eng.id
    result = export(eid, tmp_path / "empty.zip")
    files = entries(result.path)
    assert "No runs in this bundle." in files["report.md"].decode()
    assert verify_bundle(result.path).ok and result.runs == 0


def test_end_to_end_over_the_demo_ai_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real runner against the built-in demo system (served on 127.0.0.1), then export and verify."""
    from app.demo_engagement import ensure_demo_engagement

    with session() as db:
        ensure_demo_engagement(db)
    assert main(["run", "demo", "--scenario", "pi-direct-override"]) == 1  # the demo system is vulnerable
    out = tmp_path / "demo.zip"
    assert main(["export", "demo", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", "--json", str(out)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] is True and verdict["problems"] == [] and verdict["files_checked"] > 20
    files = entries(out)
    runs = json.loads(files["data/runs.json"])
    assert [r["scenario_id"] for r in runs] == ["pi-direct-override"] and runs[0]["verdict"] == "fail"
    transcript = [json.loads(x) for x in files[f"transcripts/{runs[0]['id']}.jsonl"].splitlines()]
    assert transcript[0]["response_text"] and transcript[0]["request"]["url"].startswith("http://127.0.0.1:")
    assert transcript[0]["auto_verdicts"] and transcript[0]["outcome"] == "fail"
    # The body as received (stored packed) comes back whole: its deltas are the response text.
    body = base64.b64decode(transcript[0]["response_raw_b64"])
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: {")]
    assert body.endswith(b"data: [DONE]\n\n")
    assert "".join(c["delta"].get("content") or "" for e in events for c in e["choices"]) == \
        transcript[0]["response_text"]
    with session() as db:
        from sqlmodel import select

        from app.store.models import TurnChunk

        assert "zlib" in {c.raw_codec for c in db.exec(select(TurnChunk)).all()}
    findings = json.loads(files["data/findings.json"])
    assert [f["run_id"] for f in findings] == [runs[0]["id"]]
    results = list(csv.DictReader(io.StringIO(files["workpapers/test_results.csv"].decode("utf-8-sig"))))
    assert results and all(r["Result"].startswith("Exception noted: finding") for r in results)
