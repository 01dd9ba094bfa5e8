"""``verify`` against hostile zips: escaping entry names, symlinks, oversized and deeply nested JSON."""

from __future__ import annotations

import hashlib
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from test_evidence_engagement import World, entries, export, world  # noqa: F401

from app.evidence.bounds import MIB, VerifyLimits
from app.evidence.verify import verify_bundle


@pytest.fixture
def bundle(world: World, tmp_path: Path) -> Path:
    return export(world.engagement_id, tmp_path / "bundle.zip").path


def listed_copy(src: Path, dst: Path, *, add: dict[str, tuple[bytes, int]] | None = None,
                change: dict[str, bytes] | None = None, manifest_text: bytes | None = None) -> Path:
    """A copy of a bundle whose manifest lists every entry with its true hash: only the hostile part differs.

    ``add`` maps a name to (bytes, unix mode); ``change`` replaces an entry's bytes.
    """
    files = entries(src)
    document: dict[str, Any] = json.loads(files.pop("manifest.json"))
    add, change = add or {}, change or {}
    files.update(change)
    listed = {**{name: data for name, data in files.items()}, **{name: data for name, (data, _) in add.items()}}
    document["files"] = [{"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                         for name, data in sorted(listed.items())]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in files.items():
            zout.writestr(name, data)
        for name, (data, mode) in add.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            zout.writestr(info, data)
        zout.writestr("manifest.json", manifest_text if manifest_text is not None else json.dumps(document))
    return dst


@pytest.mark.parametrize("name, mode, why", [
    ("../../../tmp/redline-escape", 0o100644, "a path that climbs out of the bundle (..)"),
    ("/tmp/redline-absolute", 0o100644, "an absolute path"),
    ("data/link", stat.S_IFLNK | 0o777, "a symbolic link"),
    ("data\\..\\..\\evil", 0o100644, "a path with a backslash"),
])
def test_entries_that_escape_the_bundle_fail_even_when_listed(bundle: Path, tmp_path: Path, name: str,
                                                              mode: int, why: str) -> None:
    hostile = listed_copy(bundle, tmp_path / "hostile.zip", add={name: (b"/etc/passwd", mode)})
    report = verify_bundle(hostile)
    assert not report.ok
    assert report.problems == [f"unsafe entry: {name!r} is {why}; Redline never writes one"]


def test_the_untouched_bundle_still_passes(bundle: Path, tmp_path: Path) -> None:
    assert verify_bundle(listed_copy(bundle, tmp_path / "same.zip")).ok


def test_an_oversized_manifest_is_refused_before_it_is_read(bundle: Path, tmp_path: Path) -> None:
    document = json.loads(entries(bundle)["manifest.json"])
    padded = json.dumps(document).encode() + b" " * (17 * MIB)  # still valid JSON, just huge (was: OK)
    hostile = listed_copy(bundle, tmp_path / "big.zip", manifest_text=padded)
    report = verify_bundle(hostile)
    assert report.problems == [f"broken manifest: manifest.json is larger than the {16 * MIB:,}-byte limit"]
    assert verify_bundle(hostile, VerifyLimits(manifest_bytes=32 * MIB)).ok  # the limit is the cause


def test_an_oversized_audit_line_is_refused(bundle: Path, tmp_path: Path) -> None:
    lines = entries(bundle)["audit/events.jsonl"].split(b"\n")
    lines[0] = lines[0][:-1] + b" " * (9 * MIB) + b"}"  # the same event, padded inside its JSON (was: OK)
    hostile = listed_copy(bundle, tmp_path / "line.zip", change={"audit/events.jsonl": b"\n".join(lines)})
    report = verify_bundle(hostile)
    assert report.problems == [f"audit chain: audit/events.jsonl line 1 is longer than the {8 * MIB:,}-byte limit"]
    assert verify_bundle(hostile, VerifyLimits(audit_line_bytes=16 * MIB)).ok


def test_deeply_nested_json_is_a_problem_not_a_recursion_error(bundle: Path, tmp_path: Path) -> None:
    deep = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    report = verify_bundle(listed_copy(bundle, tmp_path / "deep.zip", manifest_text=deep))
    assert report.problems == ["broken manifest: manifest.json does not parse (nested more than 64 levels deep)"]
    lines = entries(bundle)["audit/events.jsonl"].split(b"\n")
    lines[0] = lines[0][:-1] + b', "deep": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    report = verify_bundle(listed_copy(bundle, tmp_path / "deep-line.zip",
                                       change={"audit/events.jsonl": b"\n".join(lines)}))
    assert report.problems == ["audit chain: audit/events.jsonl line 1 does not parse "
                               "(nested more than 64 levels deep)"]


def test_a_declared_size_unlike_the_manifest_is_modified_without_reading(bundle: Path, tmp_path: Path) -> None:
    files = entries(bundle)
    bomb = b"\0" * (8 * 1024 * 1024)
    hostile = listed_copy(bundle, tmp_path / "bomb.zip")
    # Swap in a bomb after listing: the manifest keeps report.md's true size.
    with zipfile.ZipFile(hostile) as zin, zipfile.ZipFile(tmp_path / "bomb2.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info.filename, bomb if info.filename == "report.md" else zin.read(info.filename))
    report = verify_bundle(tmp_path / "bomb2.zip")
    assert report.problems == ["modified file: report.md (SHA-256 or size differs from the manifest)"]
    assert len(files["report.md"]) < len(bomb)
