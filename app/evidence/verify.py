"""``verify_bundle``: is this zip exactly what Redline exported, with an intact audit chain?

Every problem is reported, not just the first: a modified file (its hash no
longer matches the manifest), a missing or extra file, a manifest that does not
parse or lacks fields, and an audit trail that no longer verifies or whose head
differs from the one the manifest pinned. A file that is not a readable zip at
all raises :class:`UnreadableBundle` (exit code 2) instead.

Before any of that, the zip itself is treated as hostile (:mod:`app.evidence.bounds`):
unsafe entry names and symlinks are problems, and the manifest, each audit
line and JSON nesting are read only up to :class:`VerifyLimits`.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import RedlineError
from app.evidence import manifest
from app.evidence.bounds import (
    DEFAULT_LIMITS,
    TooLarge,
    VerifyLimits,
    bounded_lines,
    loads_bounded,
    read_bounded,
    size_mismatch,
    unsafe_entries,
)
from app.evidence.signature import SIG_NAME, check_signature
from app.evidence.verify_attachments import check_bundle_attachments
from app.evidence.verify_evidence import check_bundle_evidence
from app.store.audit import verify_events

AUDIT_FILE = "audit/events.jsonl"
SIG_MAX_BYTES = 64 * 1024


class UnreadableBundle(RedlineError):
    """Not found, or not a zip: there is nothing to verify."""

    exit_code = 2


@dataclass
class VerifyReport:
    path: Path
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    engagement: str = ""
    exported_at: str = ""
    chain_length: int = 0
    notes: list[str] = field(default_factory=list)  # what was not checked, said rather than implied
    signed_by: str = ""  # the key fingerprint of a valid signature
    key_checked: bool = False  # True when that key was one of the trusted keys given

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            signed = (f"; signed with trusted key {self.signed_by}" if self.key_checked
                      else "; signature NOT checked against a trusted key" if self.signed_by else "; not signed")
            return (f"OK: {self.path.name}: {self.files_checked} files match the manifest; audit chain of "
                    f"{self.chain_length} events intact (engagement {self.engagement}, exported {self.exported_at})"
                    + signed)
        return f"FAILED: {self.path.name}: {len(self.problems)} problem(s)"


def _digest(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_bundle(path: Path | str, limits: VerifyLimits = DEFAULT_LIMITS, *,
                  trusted_keys: list[bytes] | None = None) -> VerifyReport:
    """Check the bundle at ``path`` against its manifest, its audit chain and its signature, reading no
    more than ``limits``.

    ``trusted_keys`` are the public key blobs the signature must come from
    (``--key``); None checks the signature only against the key it names.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UnreadableBundle(f"{path}: no such file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableBundle(f"{path}: not a readable zip file ({exc})") from None
    report = VerifyReport(path)
    with archive:
        names = archive.namelist()
        for name, count in Counter(names).items():
            if count > 1:
                report.problems.append(f"duplicate entry: {name} appears {count} times")
        report.problems.extend(unsafe_entries(archive))
        data = _read_manifest(archive, names, report, limits)
        if data is None:
            return report
        report.engagement = str(data["engagement"].get("name", ""))
        report.exported_at = data["exported_at"]
        listed = {item["path"]: item for item in data["files"]}
        for name in sorted(set(names) - set(listed) - {manifest.NAME, SIG_NAME}):
            report.problems.append(f"extra file: {name} is not in the manifest")
        for name, item in sorted(listed.items()):
            if name not in names:
                report.problems.append(f"missing file: {name}")
                continue
            if size_mismatch(archive.getinfo(name), item["size"]):  # told apart without decompressing it
                report.problems.append(f"modified file: {name} (SHA-256 or size differs from the manifest)")
                continue
            try:
                digest, size = _digest(archive, name)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:  # a corrupted entry fails its CRC check
                report.problems.append(f"modified file: {name} cannot be read intact ({exc})")
                continue
            if digest != item["sha256"] or size != item["size"]:
                report.problems.append(f"modified file: {name} (SHA-256 or size differs from the manifest)")
            report.files_checked += 1
        events = _check_chain(archive, names, data["audit_chain"], report, limits, _redacted_events(data))
        report.problems.extend(check_bundle_attachments(archive, names, events, data.get("windows")))
        _check_provenance(archive, names, data, report, trusted_keys, limits)
    return report


def _check_provenance(archive: zipfile.ZipFile, names: list[str], data: dict[str, Any], report: VerifyReport,
                      trusted_keys: list[bytes] | None, limits: VerifyLimits) -> None:
    """The turns and verdicts against the chain's digests, and the manifest's signature."""
    evidence = check_bundle_evidence(archive, names, data, limits)
    report.problems.extend(f"evidence: {p}" for p in evidence.problems)
    report.notes.extend(evidence.notes)
    sig_text = None
    if SIG_NAME in names:
        if archive.getinfo(SIG_NAME).file_size > SIG_MAX_BYTES:  # an SSH signature is well under 1 KB
            report.problems.append(f"signature: broken signature: {SIG_NAME} is larger than {SIG_MAX_BYTES} bytes")
            return
        sig_text = archive.read(SIG_NAME).decode("utf-8", "replace")
    signed = check_signature(data, archive.read(manifest.NAME), sig_text, trusted_keys)
    report.problems.extend(f"signature: {p}" for p in signed.problems)
    report.notes.extend(signed.notes)
    report.signed_by = signed.signed_by
    report.key_checked = bool(signed.signed_by and trusted_keys is not None and not signed.problems)


def _read_manifest(archive: zipfile.ZipFile, names: list[str], report: VerifyReport,
                   limits: VerifyLimits) -> dict[str, Any] | None:
    if manifest.NAME not in names:
        report.problems.append("missing file: manifest.json (the bundle cannot be checked without it)")
        return None
    try:
        data = loads_bounded(read_bounded(archive, manifest.NAME, limits.manifest_bytes), limits.json_depth)
    except TooLarge as exc:
        report.problems.append(f"broken manifest: {exc}")
        return None
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as exc:
        report.problems.append(f"broken manifest: manifest.json does not parse ({exc})")
        return None
    problems = manifest.problems(data)
    if problems:
        report.problems.extend(f"broken manifest: {p}" for p in problems)
        return None
    if not isinstance(data, dict):  # manifest.problems names this; the check makes the type plain
        report.problems.append("broken manifest: manifest.json is not an object")
        return None
    return data


def _redacted_events(manifest: dict[str, Any]) -> frozenset[int]:
    """The audit events the export says it redacted (by sequence number): only these may carry a redacted payload."""
    redaction = manifest.get("redaction")
    listed = redaction.get("altered_audit_events") if isinstance(redaction, dict) else None
    return frozenset(n for n in listed if isinstance(n, int)) if isinstance(listed, list) else frozenset()


def _check_chain(archive: zipfile.ZipFile, names: list[str], pinned: dict[str, Any], report: VerifyReport,
                 limits: VerifyLimits, redacted: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """Re-verify the exported chain; its events, for the checks that rest on what it recorded ([] if unread)."""
    if not pinned["ok"]:
        listed = "; ".join(str(p) for p in pinned["problems"]) or "no detail recorded"
        report.problems.append(f"audit chain: it was already broken when the bundle was exported ({listed})")
    if AUDIT_FILE not in names:
        return []  # reported as a missing file when the manifest lists it, as an omission otherwise
    events = []
    number = 0
    try:
        with archive.open(AUDIT_FILE) as handle:
            # ``number`` outlives the loop: the except clauses below name the line that failed.
            for number, raw in bounded_lines(handle, limits.audit_line_bytes):  # noqa: B007
                if raw.strip():
                    events.append(loads_bounded(raw, limits.json_depth))
    except TooLarge as exc:
        report.problems.append(f"audit chain: {AUDIT_FILE} {exc}")
        return []
    except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as exc:
        report.problems.append(f"audit chain: {AUDIT_FILE} line {number} does not parse ({exc})")
        return []
    try:
        problems = verify_events(events, pinned["chain"], redacted)
    except (KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"audit chain: an event in {AUDIT_FILE} lacks a field or has a bad value ({exc})")
        return []
    report.problems.extend(f"audit chain: {p}" for p in problems)
    report.chain_length = len(events)
    shown = sum(1 for e in events if e.get("payload_redacted"))
    if shown:
        report.notes.append(f"{shown} audit event(s) have their payload redacted in this bundle: each hash covers the "
                            "original payload's SHA-256, shipped beside it, so the chain was checked, but those "
                            "payloads' text was not")
    head = max(events, key=lambda e: e["seq"])["hash"] if events else None
    if events and head != pinned["head_hash"]:
        report.problems.append(f"audit chain: its head {str(head)[:16]} differs from the head the manifest pinned "
                               f"({pinned['head_hash'][:16]})")
    if len(events) != pinned["length"]:
        report.problems.append(f"audit chain: {len(events)} events in {AUDIT_FILE}, the manifest recorded "
                               f"{pinned['length']}")
    return events
