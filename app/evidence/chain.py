"""The audit chain as an export finds it: its head, its length, who acted, and everything wrong with it.

The bundle pins the head in its manifest and prints the problems in its report;
verify checks the bundle against the same facts. A chain problem is reported,
never a reason to refuse the export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.store import audit
from app.store.coverage import check_store

if TYPE_CHECKING:
    from sqlmodel import Session


@dataclass(frozen=True)
class ChainState:
    """The audit chain as found at export: its head and every problem."""

    chain: str
    length: int
    head_hash: str
    head_seq: int
    head_at: datetime | None
    problems: tuple[str, ...]
    # Everyone the chain names as actor, in order of first appearance. Each event's actor is the tester
    # who acted (named, else REDLINE_TESTER or the OS login when recorded): the assessment team, read
    # from the evidence rather than from whoever runs the export.
    actors: tuple[str, ...] = ()
    # What the chain does not cover (runs recorded before it held turn digests), said rather than implied.
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def chain_state(db: Session, engagement_id: int) -> ChainState:
    """Read the chain's head, its length and actors, and every problem: links that do not verify, and
    turns, verdicts or attached files whose content no longer matches the digest the chain recorded."""
    from sqlalchemy import func
    from sqlmodel import select

    from app.store.models import AuditEvent

    name = audit.chain_name(engagement_id)
    head = audit.head(db, engagement_id)
    length = db.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain == name)).one()
    problems = tuple(str(p) for p in audit.verify_chain(db, engagement_id))
    # The chain covers the evidence: turns and verdicts must still match the digests it recorded.
    covered = check_store(db, engagement_id)
    problems += tuple(covered.problems)
    from app.attachments import attachment_problems

    problems += tuple(attachment_problems(db, engagement_id))  # attached files must still be what was pinned
    first_seen = func.min(AuditEvent.seq)
    actors = tuple(a for a, _ in db.exec(select(AuditEvent.actor, first_seen).where(
        AuditEvent.chain == name, AuditEvent.actor != "").group_by(AuditEvent.actor).order_by(first_seen)))
    return ChainState(name, int(length), head.hash if head else audit.GENESIS, head.seq if head else 0,
                      head.at if head else None, problems, actors, tuple(covered.notes))


