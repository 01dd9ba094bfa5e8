"""Attached evidence: copied owner-only, pinned by the audit chain, shipped as files, and checked by verify."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.attachment_types import sniff
from app.cli import main
from tests.test_lifecycle_support import demo, events, make_engagement, run  # noqa: F401

TICKET = b"%PDF-1.4\nCHG-4711 deployed 2026-03-02, approved by the CAB\n%%EOF\n"
HOSTILE_HTML = b"<!doctype html><html><body><script>alert('pwned')</script>SOC-991 reviewed</body></html>"


def _files(out: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(out) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _rewrite(out: Path, changed: dict[str, bytes], fix_manifest: bool) -> None:
    """Rewrite a bundle with some entries changed; optionally re-hash them in the manifest (a careful forger)."""
    files = _files(out)
    files.update(changed)
    if fix_manifest:
        document = json.loads(files["manifest.json"])
        for item in document["files"]:
            if item["path"] in changed:
                item["sha256"] = hashlib.sha256(changed[item["path"]]).hexdigest()
                item["size"] = len(changed[item["path"]])
        files["manifest.json"] = json.dumps(document).encode()
        files.pop("manifest.json.sig", None)
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.fixture
def engagement(demo: Any) -> int:  # noqa: F811
    eid = make_engagement(demo.base_url)
    run(eid)  # the vulnerable demo fails: finding 1 (draft) from run 1
    return eid


def test_sniffing_believes_the_content_not_the_name() -> None:
    assert sniff(TICKET, "ticket.pdf").media_type == "application/pdf"
    lying = sniff(HOSTILE_HTML, "ticket.pdf")
    assert (lying.media_type, lying.active) == ("text/html", True)
    assert "the name says application/pdf" in lying.mismatch
    assert sniff(b"PK\x03\x04rest", "acceptance.docx").media_type.endswith("wordprocessingml.document")
    assert sniff(b"PK\x03\x04rest", "acceptance.pdf").media_type == "application/zip"
    assert sniff(b"when,what\n2026-03-02,deploy\n", "log.csv").media_type == "text/csv"
    assert sniff(b"\x00\x01\x02binary", "notes.txt").media_type == "application/octet-stream"
    assert not sniff(b"plain words", "notes.txt").active


def test_attach_copies_owner_only_and_the_chain_records_hash_size_type_who_and_when(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any) -> None:
    source = tmp_path / "CHG 4711 <deploy>.pdf"
    source.write_bytes(TICKET)
    assert main(["attach", "acme", str(source), "--finding", "1", "--note", "change ticket behind the fix",
                 "--by", "ana"]) == 0
    said = capsys.readouterr().out
    assert "attachment 1: CHG_4711_deploy_.pdf → finding 1 (application/pdf" in said
    [event] = events(engagement, "attachment.added")
    payload = event.payload
    assert (event.actor, payload["sha256"], payload["size"], payload["media_type"], payload["attached_by"]) == (
        "ana", hashlib.sha256(TICKET).hexdigest(), len(TICKET), "application/pdf", "ana")
    assert payload["target"] == "finding 1" and payload["note"] == "change ticket behind the fix"
    assert payload["attached_at"]
    stored = redline_home / "attachments" / str(engagement) / payload["stored_name"]
    assert stored.read_bytes() == TICKET
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.parent.parent.stat().st_mode) == 0o700
    assert stored.parent.parent.parent == redline_home  # beside the database
    assert main(["attach", "acme", "--list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["state"], listed["finding_id"], listed["filename"]) == ("intact", 1, "CHG_4711_deploy_.pdf")


def test_bad_requests_and_the_size_limit_write_nothing(engagement: int, tmp_path: Path, redline_home: Path,
                                                       capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "alerts.log"
    source.write_bytes(b"x" * 100)
    cases = [
        (["--finding", "1", "--note", "alert log", "--max-bytes", "99"], "larger than the attachment limit of 99"),
        (["--finding", "99", "--note", "alert log"], "no finding 99 in this engagement"),
        (["--run", "1"], "needs a note"),
        (["--note", "alert log"], "exactly one of"),
        (["--control", "NOPE-1", "--note", "alert log"], "no control 'NOPE-1'"),
    ]
    for extra, message in cases:
        assert main(["attach", "acme", str(source), *extra]) == 2
        assert message in capsys.readouterr().err
    monkeypatch.setenv("REDLINE_ATTACH_MAX_BYTES", "50")
    assert main(["attach", "acme", str(source), "--run", "1", "--note", "alert log"]) == 2
    assert "larger than the attachment limit of 50" in capsys.readouterr().err
    assert main(["attach", "acme", str(tmp_path), "--run", "1", "--note", "a folder"]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert events(engagement, "attachment.added") == []
    folder = redline_home / "attachments" / str(engagement)
    assert not folder.exists() or [p.name for p in folder.iterdir()] == []
    monkeypatch.delenv("REDLINE_ATTACH_MAX_BYTES")
    assert main(["attach", "acme", str(source), "--control", "CC7.2", "--note", "the client's alert log"]) == 0


def test_a_file_changed_after_attaching_is_reported_by_verify_list_and_export(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any) -> None:
    source = tmp_path / "risk-acceptance.pdf"
    source.write_bytes(TICKET)
    assert main(["attach", "acme", str(source), "--finding", "1", "--note", "signed risk acceptance"]) == 0
    assert main(["verify", "--engagement", "acme"]) == 0
    assert "OK: engagement acme" in capsys.readouterr().out
    stored = next((redline_home / "attachments" / str(engagement)).iterdir())
    stored.write_bytes(TICKET.replace(b"CAB", b"CEO"))  # same size, other bytes
    assert main(["verify", "--engagement", "acme"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: engagement acme: 1 problem(s)" in out
    assert "attachment 1 (risk-acceptance.pdf): its file changed after it was attached" in out
    assert main(["attach", "acme", "--list"]) == 1
    assert "CHANGED" in capsys.readouterr().out
    assert main(["export", "acme", "--out", str(tmp_path / "b.zip")]) == 1
    assert "its file changed after it was attached" in capsys.readouterr().err
    assert not (tmp_path / "b.zip").exists()
    # Forced out, the bundle carries the changed bytes and verify still knows what was attached.
    assert main(["export", "acme", "--out", str(tmp_path / "b.zip"), "--allow-broken"]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "b.zip")]) == 1
    assert "changed after it was attached" in capsys.readouterr().out
    stored.unlink()
    assert main(["verify", "--engagement", "acme"]) == 1
    assert "is missing" in capsys.readouterr().out


def test_the_bundle_ships_attachments_as_files_linked_and_listed_and_verify_catches_altered_bytes(
        engagement: int, tmp_path: Path, capsys: Any) -> None:
    ticket, page = tmp_path / "CHG-4711.pdf", tmp_path / "soc-ticket.html"
    ticket.write_bytes(TICKET)
    page.write_bytes(HOSTILE_HTML)
    assert main(["attach", "acme", str(ticket), "--finding", "1", "--note", "change ticket"]) == 0
    assert main(["attach", "acme", str(page), "--run", "1", "--note", "SOC ticket: alert reviewed"]) == 0
    out = tmp_path / "bundle.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    capsys.readouterr()
    files = _files(out)
    assert files["attachments/1-CHG-4711.pdf"] == TICKET
    assert files["attachments/2-soc-ticket.html"] == HOSTILE_HTML
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert listed["attachments/1-CHG-4711.pdf"] == hashlib.sha256(TICKET).hexdigest()
    assert [(a["path"], a["media_type"]) for a in manifest["attachments"]] == [
        ("attachments/1-CHG-4711.pdf", "application/pdf"), ("attachments/2-soc-ticket.html", "text/html")]
    html, md = files["report.html"].decode(), files["report.md"].decode()
    assert 'href="attachments/1-CHG-4711.pdf" download' in html
    assert 'href="attachments/2-soc-ticket.html" download' in html
    assert "<script>alert" not in html and "SOC-991 reviewed" not in html  # linked, never inlined
    assert "(attachments/1-CHG-4711.pdf)" in md and "(attachments/2-soc-ticket.html)" in md
    assert "SOC-991" not in md
    data = json.loads(files["data/attachments.json"])
    assert [(a["id"], a["finding_id"], a["run_id"]) for a in data] == [(1, 1, None), (2, None, 1)]
    results = json.loads(files["oscal/assessment-results.json"])["assessment-results"]
    resources = {r["title"]: r for r in results["back-matter"]["resources"]}
    rlink = resources["Attachment 1: CHG-4711.pdf"]["rlinks"][0]
    assert rlink["href"] == "../attachments/1-CHG-4711.pdf"
    assert rlink["hashes"] == [{"algorithm": "SHA-256", "value": hashlib.sha256(TICKET).hexdigest()}]
    assert main(["verify", str(out)]) == 0
    capsys.readouterr()

    altered = HOSTILE_HTML.replace(b"reviewed", b"REVIEWED")
    _rewrite(out, {"attachments/2-soc-ticket.html": altered}, fix_manifest=False)
    assert main(["verify", str(out)]) == 1
    said = capsys.readouterr().out
    assert "modified file: attachments/2-soc-ticket.html" in said
    assert "attachment 2 (soc-ticket.html): attachments/2-soc-ticket.html changed after it was attached" in said
    # A forger who also re-hashes the manifest is still caught by the chain's record of the attachment.
    _rewrite(out, {"attachments/2-soc-ticket.html": altered}, fix_manifest=True)
    assert main(["verify", str(out)]) == 1
    said = capsys.readouterr().out
    assert "modified file" not in said
    assert "changed after it was attached" in said


def test_attachments_are_private_even_under_a_permissive_umask(engagement: int, tmp_path: Path,
                                                               redline_home: Path) -> None:
    source = tmp_path / "log.txt"
    source.write_bytes(b"alert reviewed")
    old = os.umask(0)
    try:
        assert main(["attach", "acme", str(source), "--run", "1", "--note", "alert log"]) == 0
    finally:
        os.umask(old)
    stored = next((redline_home / "attachments" / str(engagement)).iterdir())
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_oscal_back_matter_holds_attachments_and_validates(engagement: int, tmp_path: Path, capsys: Any) -> None:
    trestle_ar = pytest.importorskip("trestle.oscal.assessment_results", reason="compliance-trestle is a test extra")
    from trestle.oscal.poam import PlanOfActionAndMilestones

    from tests.test_lifecycle_support import confirm_all

    confirm_all(engagement)
    ticket = tmp_path / "CHG-4711.pdf"
    ticket.write_bytes(TICKET)
    assert main(["attach", "acme", str(ticket), "--finding", "1", "--note", "change ticket"]) == 0
    out = tmp_path / "bundle.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    capsys.readouterr()
    folder = tmp_path / "x"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(folder)
    results = trestle_ar.AssessmentResults.oscal_read(folder / "oscal" / "assessment-results.json")
    poam = PlanOfActionAndMilestones.oscal_read(folder / "oscal" / "poam.json")
    for document, risks in ((results, results.results[0].risks), (poam, poam.risks)):
        [resource] = document.back_matter.resources
        [rlink] = resource.rlinks
        assert (folder / "oscal" / rlink.href).resolve() == (folder / "attachments" / "1-CHG-4711.pdf").resolve()
        assert rlink.hashes[0].value == hashlib.sha256(TICKET).hexdigest()
        [risk] = risks
        assert [link.href for link in risk.links] == [f"#{resource.uuid}"]  # the finding's risk points at it
