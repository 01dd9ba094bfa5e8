"""Attached evidence: files an auditor asks for that no model answer can give.

A change ticket behind a remediation (CC8.1), the SOC ticket showing an alert
was reviewed (CC7.2), a signed risk acceptance, the client's alert log: each is
copied into the store's attachment folder beside the database (owner-only, as
the store is; :mod:`app.private`), tied to a finding, a run or a control, and
its SHA-256, size, sniffed type, who attached it and when enter the audit chain
(``attachment.added``). The chain, not the row, is the reference: a file
changed or removed afterwards is reported by :func:`check_attachments`, which
export and ``redline verify --engagement`` call, and by ``redline verify`` on a
bundle (:mod:`app.evidence.verify_attachments`).

The copy is bounded (:data:`DEFAULT_MAX_BYTES`, ``REDLINE_ATTACH_MAX_BYTES`` or
the caller's limit): a file over the limit is refused and nothing is written.
An attachment is never opened, executed or rendered by Redline; a bundle ships
it as a file under ``attachments/`` and the reports only link to it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.attachment_files import FOLDER, root
from app.attachment_types import SNIFF_BYTES, sniff
from app.errors import RedlineError
from app.store import audit

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Attachment

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
ENV_MAX_BYTES = "REDLINE_ATTACH_MAX_BYTES"
ACTION = "attachment.added"
NOTE_MAX_CHARS = 2000
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 16


class AttachmentError(RedlineError):
    """The file cannot be attached as asked; nothing was written."""

    exit_code = 2


def max_bytes() -> int:
    """The configured size limit: ``REDLINE_ATTACH_MAX_BYTES``, else :data:`DEFAULT_MAX_BYTES`."""
    raw = os.environ.get(ENV_MAX_BYTES, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise AttachmentError(f"{ENV_MAX_BYTES}={raw!r} is not a whole number of bytes") from None
    if value < 1:
        raise AttachmentError(f"{ENV_MAX_BYTES} must be at least 1 byte, not {value}")
    return value


def folder(engagement_id: int, create: bool = False) -> Path:
    """``attachments/<engagement id>`` beside the database (:func:`app.attachment_files.root`), 0700 like every
    folder of the store."""
    from app.private import private_dir

    path = root() / str(engagement_id)
    if create:
        private_dir(path.parent, "the attachment folder")
        private_dir(path, "the attachment folder")
    return path


def safe_name(name: str) -> str:
    """A file name that is safe in a zip, a shell and a URL: letters, digits, ``._-``; at most 80 characters."""
    base = _UNSAFE_NAME.sub("_", Path(name).name).strip("._") or "file"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10:
        return stem[:80 - len(ext) - 1] + "." + ext
    return base[:80]


@dataclass(frozen=True)
class AttachmentState:
    """One attachment as the chain recorded it, and whether its file still matches."""

    record: dict[str, Any]
    problem: str  # "" when the file matches the chain

    @property
    def ok(self) -> bool:
        return not self.problem


def _target(db: Session, engagement_id: int, finding_id: int | None, run_id: int | None,
            control: str | None) -> str:
    """Check exactly one target exists in this engagement; its words for messages."""
    from app.store.models import Finding, Run

    given = [t for t in (finding_id, run_id, control) if t not in (None, "")]
    if len(given) != 1:
        raise AttachmentError("attach to exactly one of a finding (--finding N), a run (--run N) or a control "
                              "(--control REF)")
    if finding_id is not None:
        finding = db.get(Finding, finding_id)
        if finding is None or finding.engagement_id != engagement_id:
            raise AttachmentError(f"no finding {finding_id} in this engagement")
        return f"finding {finding_id}"
    if run_id is not None:
        run = db.get(Run, run_id)
        if run is None or run.engagement_id != engagement_id:
            raise AttachmentError(f"no run {run_id} in this engagement")
        return f"run {run_id}"
    from sqlmodel import select

    from app.catalog import load_catalog
    from app.store.models import ControlMapping

    ref = str(control).strip()
    known = load_catalog().ids() | {m.criterion for m in db.exec(
        select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)).all()}
    if ref.upper() in known:
        return f"control {ref.upper()}"
    clients = {m.client_ref: m.criterion for m in db.exec(
        select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)).all() if m.client_ref}
    if ref in clients:
        return f"control {ref}"
    raise AttachmentError(f"no control {ref!r} in the catalog or this engagement's control matrix")


def _copy_bounded(source: Path, dest: Path, limit: int) -> tuple[str, int, bytes]:
    """Copy ``source`` to a new owner-only ``dest``, hashing as it goes; over ``limit`` bytes removes ``dest``."""
    from app.private import open_private

    digest, size, head = hashlib.sha256(), 0, b""
    try:
        reader = source.open("rb")
    except OSError as exc:
        raise AttachmentError(f"{source}: cannot be read ({exc.strerror or exc})") from None
    try:
        with reader, open_private(dest) as sink:
            while chunk := reader.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise AttachmentError(f"{source}: larger than the attachment limit of {limit:,} bytes; nothing "
                                          f"was attached (raise it with {ENV_MAX_BYTES} or --max-bytes)")
                if len(head) < SNIFF_BYTES:
                    head += chunk[:SNIFF_BYTES - len(head)]
                digest.update(chunk)
                sink.write(chunk)
            sink.flush()
            os.fsync(sink.fileno())
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size, head


def attach(db: Session, engagement_id: int, path: Path | str, *, note: str, finding_id: int | None = None,
           run_id: int | None = None, control: str | None = None, actor: str = "",
           limit: int | None = None) -> Attachment:
    """Copy ``path`` into the store as evidence for one finding, run or control, and record it in the chain.

    Refused with nothing written: no note, not exactly one target, a target
    outside the engagement, a source that is not a regular file, or one
    larger than ``limit`` (default :func:`max_bytes`). A copy whose row
    cannot be saved is removed again.
    """
    from app.store.models import Attachment

    if not note.strip():
        raise AttachmentError("an attachment needs a note saying what it shows (--note)")
    if len(note) > NOTE_MAX_CHARS:
        raise AttachmentError(f"the note is {len(note):,} characters; at most {NOTE_MAX_CHARS:,} are kept")
    target = _target(db, engagement_id, finding_id, run_id, control)
    source = Path(path).expanduser()
    try:
        info = source.stat()
    except OSError as exc:
        raise AttachmentError(f"{source}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AttachmentError(f"{source}: not a regular file (a folder, device or pipe cannot be attached)")
    limit = max_bytes() if limit is None else limit
    if info.st_size > limit:
        raise AttachmentError(f"{source}: {info.st_size:,} bytes is larger than the attachment limit of {limit:,} "
                              f"bytes; nothing was attached (raise it with {ENV_MAX_BYTES} or --max-bytes)")
    where = folder(engagement_id, create=True)
    staging = where / f".incoming-{os.getpid()}-{os.urandom(6).hex()}"
    sha, size, head = _copy_bounded(source, staging, limit)
    kind = sniff(head, source.name)
    actor = actor or audit.default_actor()
    final: Path | None = None
    try:
        row = Attachment(engagement_id=engagement_id, finding_id=finding_id, run_id=run_id,
                         control=(target.split(" ", 1)[1] if control else ""), filename=safe_name(source.name),
                         stored_name="pending", sha256=sha, size=size, media_type=kind.media_type, note=note,
                         attached_by=actor)
        db.add(row)
        db.flush()
        row.stored_name = f"{row.id}-{row.filename}"
        final = where / row.stored_name
        if final.exists() or final.is_symlink():
            raise AttachmentError(f"{final} already exists in the attachment folder; it was left untouched")
        os.replace(staging, final)
        db.add(row)
        audit.record(db, engagement_id=engagement_id, action=ACTION, actor=actor, entity=f"attachment:{row.id}",
                     payload={"attachment": row.id, "target": target, "finding_id": finding_id, "run_id": run_id,
                              "control": row.control, "filename": row.filename, "stored_name": row.stored_name,
                              "sha256": sha, "size": size, "media_type": kind.media_type, "active": kind.active,
                              "type_note": kind.mismatch, "note": note, "attached_by": actor,
                              "attached_at": row.attached_at.isoformat()})
        db.flush()
    except BaseException:
        staging.unlink(missing_ok=True)
        if final is not None and final.exists():
            final.unlink()
        raise
    return row


def record(row: Attachment, problem: str = "") -> dict[str, Any]:
    """An attachment as every reader shows it (the register, the bundle's data, the reports)."""
    from app.attachment_types import ACTIVE

    return {"id": row.id, "finding_id": row.finding_id, "run_id": row.run_id, "control": row.control,
            "filename": row.filename, "stored_name": row.stored_name, "bundle_path": f"{FOLDER}/{row.stored_name}",
            "sha256": row.sha256, "size": row.size, "media_type": row.media_type,
            "active": row.media_type in ACTIVE, "note": row.note, "attached_by": row.attached_by,
            "attached_at": row.attached_at.isoformat(), "state": "changed" if problem else "intact",
            "problem": problem}


def list_attachments(db: Session, engagement_id: int, *, finding_id: int | None = None,
                     run_id: int | None = None) -> list[Attachment]:
    """The engagement's attachments in the order they were attached, optionally for one finding or run."""
    from sqlmodel import select

    from app.store.models import Attachment

    query = select(Attachment).where(Attachment.engagement_id == engagement_id)
    if finding_id is not None:
        query = query.where(Attachment.finding_id == finding_id)
    if run_id is not None:
        query = query.where(Attachment.run_id == run_id)
    return list(db.exec(query.order_by(Attachment.id)).all())  # type: ignore[arg-type]


def file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def recorded(db: Session, engagement_id: int) -> dict[int, dict[str, Any]]:
    """Each attachment's ``attachment.added`` payload, as the chain holds it: the reference for every check."""
    from sqlmodel import select

    from app.store.models import AuditEvent

    events = db.exec(select(AuditEvent).where(AuditEvent.chain == audit.chain_name(engagement_id),
                                              AuditEvent.action == ACTION).order_by(AuditEvent.seq)).all()  # type: ignore[arg-type]
    return {int(e.payload["attachment"]): dict(e.payload) for e in events if isinstance(e.payload.get("attachment"), int)}


def check_attachments(db: Session, engagement_id: int) -> list[AttachmentState]:
    """Every attachment with its file checked against the SHA-256 and size the chain recorded when it was attached."""
    pinned = recorded(db, engagement_id)
    where = folder(engagement_id)
    states = []
    for row in list_attachments(db, engagement_id):
        chain = pinned.get(row.id or 0)
        path = where / row.stored_name
        if chain is None:
            problem = "no attachment.added event in the audit chain records it"
        elif (row.sha256, row.size, row.stored_name) != (chain["sha256"], chain["size"], chain["stored_name"]):
            problem = "its row no longer matches what the audit chain recorded"
        elif path.is_symlink() or not path.is_file():
            problem = f"its file {path} is missing"
        else:
            sha, size = file_digest(path)
            problem = "" if (sha, size) == (chain["sha256"], chain["size"]) else (
                f"its file changed after it was attached (SHA-256 {sha[:16]}…, {size:,} bytes; the chain recorded "
                f"{chain['sha256'][:16]}…, {chain['size']:,} bytes)")
        states.append(AttachmentState(record(row, problem), problem))
    return states


def attachment_problems(db: Session, engagement_id: int) -> list[str]:
    """One line per attachment whose file no longer matches the chain, for export and store verification."""
    return [f"attachment {s.record['id']} ({s.record['filename']}): {s.problem}"
            for s in check_attachments(db, engagement_id) if not s.ok]


__all__ = ["ACTION", "AttachmentError", "AttachmentState", "DEFAULT_MAX_BYTES", "attach", "attachment_problems",
           "check_attachments", "folder", "list_attachments", "max_bytes", "record", "safe_name"]
