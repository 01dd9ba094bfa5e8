"""The append-only audit trail: one hash chain per engagement.

Every state change an auditor could ask about goes through :func:`record`.
Each event's hash covers its content and its predecessor's hash, and events
carry a gap-free sequence number, so editing or deleting any event (except
silently truncating the newest ones, which the exported head hash pins) breaks
:func:`verify_chain`.

Since hash version 2 an event's hash covers the SHA-256 of its payload rather
than the payload itself. The chain is exactly as strong (the digest is
recomputed from the payload whenever the payload is there), but an export may
replace a payload that holds a secret-looking value with a redacted one and
ship the original's digest beside it: the chain still links and verifies, and
the redacted events are listed in the bundle's manifest. Events recorded
before version 2 hash their payload directly; they verify as before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.store.models import AuditEvent, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

GENESIS = "0" * 64
HASH_VERSION = 2  # what :func:`record` writes; 1 is the original form, still verified


def chain_name(engagement_id: int | None) -> str:
    return f"engagement:{engagement_id}" if engagement_id is not None else "global"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_digest(payload: dict[str, Any]) -> str:
    """The SHA-256 of a payload's canonical JSON: what a version-2 event's hash covers."""
    return hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()


def event_hash(*, chain: str, seq: int, at: datetime, actor: str, action: str,
               entity: str, payload: dict[str, Any] | None, prev_hash: str, version: int = HASH_VERSION,
               payload_sha256: str | None = None) -> str:
    """The event's hash; version 2 covers ``payload_sha256`` (computed from ``payload`` when not given)."""
    body: dict[str, Any] = {
        "chain": chain, "seq": seq, "at": at.isoformat(timespec="microseconds"),
        "actor": actor, "action": action, "entity": entity, "prev_hash": prev_hash,
    }
    if version == 1:
        body["payload"] = payload
    else:
        body["hash_version"] = version
        body["payload_sha256"] = payload_sha256 or payload_digest(payload or {})
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def head(db: Session, engagement_id: int | None) -> AuditEvent | None:
    from sqlmodel import select

    chain = chain_name(engagement_id)
    return db.exec(
        select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.seq.desc()).limit(1)  # type: ignore[attr-defined]
    ).first()


def record(db: Session, *, engagement_id: int | None, action: str, actor: str = "",
           entity: str = "", payload: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event to the engagement's chain (flushed, committed with the caller's session).

    The payload's ``by`` says who made the change (:func:`recorded_by`): on a
    shared store several testers write to one chain, and ``actor`` alone is a
    name anyone can type.
    """
    from app.store.portable import lock_chain

    payload = dict(payload or {})
    payload.setdefault("by", recorded_by())
    payload = json.loads(_canonical(payload))  # what is hashed is exactly what is stored
    chain = chain_name(engagement_id)
    lock_chain(db, engagement_id)  # concurrent writers (other processes, other machines) queue here
    last = head(db, engagement_id)
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    at = utcnow()
    event = AuditEvent(
        chain=chain, seq=seq, at=at, actor=actor or default_actor(), action=action,
        entity=entity, payload=payload, prev_hash=prev,
        hash="", hash_version=HASH_VERSION,
    )
    event.hash = event_hash(chain=chain, seq=seq, at=at, actor=event.actor, action=action,
                            entity=entity, payload=payload, prev_hash=prev)
    db.add(event)
    db.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"audit event #{self.seq}: {self.problem}"


def verify_events(events: list[dict[str, Any]], chain: str,
                  redacted: frozenset[int] = frozenset()) -> list[ChainProblem]:
    """Check a chain given as plain dicts (as stored, or as exported in a bundle).

    ``redacted``: the sequence numbers whose payload an export replaced (the
    bundle's manifest lists them). Only those may carry ``payload_redacted``,
    and only version-2 events, whose hash covers the original's digest.
    """
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    for ev in sorted(events, key=lambda e: e["seq"]):
        if ev["seq"] != expected_seq:
            problems.append(ChainProblem(expected_seq, f"missing (next present is #{ev['seq']})"))
        at = ev["at"] if isinstance(ev["at"], datetime) else datetime.fromisoformat(ev["at"])
        if ev["prev_hash"] != prev:
            problems.append(ChainProblem(ev["seq"], "does not link to its predecessor"))
        version = int(ev.get("hash_version") or 1)
        digest = None
        if ev.get("payload_redacted"):
            if version < 2 or ev["seq"] not in redacted or not isinstance(ev.get("payload_sha256"), str):
                problems.append(ChainProblem(ev["seq"], "its payload is marked redacted, but the manifest does not "
                                                        "list it as redacted at export"))
            digest = str(ev.get("payload_sha256"))
        recomputed = event_hash(chain=chain, seq=ev["seq"], at=at, actor=ev["actor"],
                                action=ev["action"], entity=ev["entity"], payload=ev["payload"],
                                prev_hash=ev["prev_hash"], version=version, payload_sha256=digest)
        if recomputed != ev["hash"]:
            problems.append(ChainProblem(ev["seq"], "content was altered after it was recorded"))
        prev = ev["hash"]
        expected_seq = ev["seq"] + 1
    return problems


def verify_chain(db: Session, engagement_id: int | None) -> list[ChainProblem]:
    """Every problem in the engagement's chain; empty means intact."""
    from sqlmodel import select

    chain = chain_name(engagement_id)
    rows = db.exec(select(AuditEvent).where(AuditEvent.chain == chain)).all()
    return verify_events([row.model_dump() for row in rows], chain)


def recorded_by() -> dict[str, str]:
    """Who is making a change from this process: the configured tester, their signing key's fingerprint
    (when they have made one, :mod:`app.evidence.keys`), and the OS login, which the tester cannot choose."""
    import getpass

    who = {"tester": default_actor(), "os_user": getpass.getuser()}
    try:
        from app.evidence.keys import current_public

        key = current_public(who["tester"])
    except Exception:  # noqa: BLE001 - an unreadable key file must not stop the change being recorded
        key = None
    if key is not None:
        who["key"] = key.fingerprint
    return who


def default_actor() -> str:
    """The tester's name: ``REDLINE_TESTER``, else the OS login (:mod:`app.tester`)."""
    from app.tester import name

    return name()
