"""``verify``: every kind of tampering is caught and named; an intact bundle passes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_evidence_engagement import World, entries, export, rezip, world  # noqa: F401

from app.evidence.verify import UnreadableBundle, verify_bundle


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> Path:
    return export(world.engagement_id, tmp_path / "bundle.zip").path


def _flip(data: bytes) -> bytes:
    """The same bytes with one byte changed, in the middle."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def test_changing_one_byte_of_any_file_is_named(bundle: Path, tmp_path: Path) -> None:
    files = entries(bundle)
    for name in sorted(files):
        if name == "manifest.json":
            continue
        tampered = rezip(bundle, tmp_path / "t.zip", change={name: _flip(files[name])})
        report = verify_bundle(tampered)
        assert not report.ok, name
        assert f"modified file: {name} (SHA-256 or size differs from the manifest)" in report.problems, name


def test_missing_and_extra_files_are_named(bundle: Path, tmp_path: Path) -> None:
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", change={"data/runs.json": None},
                                 add={"notes/extra.txt": b"added later"}))
    assert report.problems == ["extra file: notes/extra.txt is not in the manifest", "missing file: data/runs.json"]


def test_a_duplicated_entry_is_reported(bundle: Path, tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we are planting
        tampered = rezip(bundle, tmp_path / "t.zip", add={"report.md": b"# a different report"})
    assert "duplicate entry: report.md appears 2 times" in verify_bundle(tampered).problems


@pytest.mark.parametrize("manifest, expected", [
    (b"{not json", "broken manifest: manifest.json does not parse"),
    (b"[]", "broken manifest: manifest.json is not a JSON object"),
    (None, "missing file: manifest.json (the bundle cannot be checked without it)"),
])
def test_a_broken_manifest_fails(bundle: Path, tmp_path: Path, manifest: bytes | None, expected: str) -> None:
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", change={"manifest.json": manifest}))
    assert not report.ok and report.problems[0].startswith(expected)


def test_manifest_fields_are_required(bundle: Path, tmp_path: Path) -> None:
    data = json.loads(entries(bundle)["manifest.json"])
    del data["files"]
    data["audit_chain"].pop("head_hash")
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", change={"manifest.json": json.dumps(data).encode()}))
    assert report.problems == ["broken manifest: manifest.json: field 'files' is missing or not a list"]
    data["files"] = []
    report = verify_bundle(rezip(bundle, tmp_path / "t.zip", change={"manifest.json": json.dumps(data).encode()}))
    assert "broken manifest: manifest.json: field 'audit_chain.head_hash' is missing or not a string" in report.problems


def _with_events(bundle: Path, out: Path, events: list[dict]) -> Path:
    """Replace the audit trail and re-hash it in the manifest, as a careful forger would."""
    files = entries(bundle)
    body = "".join(json.dumps(e, sort_keys=True) + "\n" for e in events).encode()
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        if item["path"] == "audit/events.jsonl":
            item["sha256"], item["size"] = hashlib.sha256(body).hexdigest(), len(body)
    return rezip(bundle, out, change={"audit/events.jsonl": body, "manifest.json": json.dumps(manifest).encode()})


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_a_forged_audit_trail_fails_even_with_a_matching_hash(bundle: Path, tmp_path: Path) -> None:
    events = [json.loads(x) for x in entries(bundle)["audit/events.jsonl"].splitlines()]
    events[3]["payload"] = {"verdict": "pass"}
    report = verify_bundle(_with_events(bundle, tmp_path / "t.zip", events))
    assert report.problems == ["audit chain: audit event #4: content was altered after it was recorded"]


@pytest.mark.usefixtures("store_backend")  # on SQLite and on PostgreSQL
def test_dropping_the_newest_audit_events_is_caught_by_the_pinned_head(bundle: Path, tmp_path: Path) -> None:
    events = [json.loads(x) for x in entries(bundle)["audit/events.jsonl"].splitlines()]
    report = verify_bundle(_with_events(bundle, tmp_path / "t.zip", events[:-2]))
    assert len(report.problems) == 2
    assert report.problems[0].startswith("audit chain: its head ") and "differs from the head the manifest pinned" \
        in report.problems[0]
    assert report.problems[1] == "audit chain: 15 events in audit/events.jsonl, the manifest recorded 17"


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(UnreadableBundle, match="no such file"):
        verify_bundle(tmp_path / "absent.zip")
    (tmp_path / "text.zip").write_text("hello")
    with pytest.raises(UnreadableBundle, match="not a readable zip"):
        verify_bundle(tmp_path / "text.zip")


def test_verify_prints_hostile_entry_names_inert(bundle: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    tampered = rezip(bundle, tmp_path / "t.zip", add={"\x1b]0;pwned\x07evil.txt": b"x"})
    assert main(["verify", str(tampered)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil.txt is not in the manifest" in out
