"""Two testers changing the same finding: the second is told, and the first change stands.

A finding carries a version that every write raises by one and checks
(``version_id_col`` on :class:`~app.store.models.Finding`). There are two ways
to lose a race, and both end here:

- a client decided on a finding it read earlier (the cockpit's list, a
  ``--if-version`` on the command line) and someone changed it since:
  :func:`check_version` refuses before anything is written;
- two writes meet inside the same moment: the database matches the second
  write's ``WHERE version = ?`` to no row, SQLAlchemy raises ``StaleDataError``,
  and :func:`from_stale_write` turns it into the same message.

Either way nothing of the second change is stored (its transaction rolls back,
its audit event with it) and the message says who changed the finding, so the
tester can reload, look, and decide again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError

if TYPE_CHECKING:
    from sqlmodel import Session


class EditConflict(RedlineError):
    """Someone else changed the finding after this client read it; nothing of this change was saved."""

    exit_code = 3


def _last_change(db: Session, finding: Any) -> str:
    """Who changed the finding last and how, from its newest audit event."""
    from sqlmodel import select

    from app.store.audit import chain_name
    from app.store.models import AuditEvent

    event = db.exec(select(AuditEvent).where(
        AuditEvent.chain == chain_name(finding.engagement_id), AuditEvent.entity == f"finding:{finding.id}",
    ).order_by(AuditEvent.seq.desc()).limit(1)).first()  # type: ignore[attr-defined]
    if event is None:
        return "changed"
    when = event.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"changed by {event.actor or 'someone'} ({event.action}, {when})"


def message(db: Session, finding: Any, read_version: int) -> str:
    return (f"finding {finding.id} was {_last_change(db, finding)} after you read it: it is now at version "
            f"{finding.version}, you read version {read_version}. Your change was not saved and the finding "
            f"keeps theirs; reload it, check what changed, and make your change again if it still applies.")


def check_version(db: Session, finding: Any, expected: int | None) -> None:
    """Refuse a change decided on an older read of ``finding`` (``expected`` None: no check asked for)."""
    if expected is not None and finding.version != expected:
        raise EditConflict(message(db, finding, expected))


def watch(db: Session) -> None:
    """Note, before each flush, the (id, version read) of every finding it writes: should the store refuse
    the write as stale, :func:`stale_findings` names them (the failed flush leaves no trace to ask)."""
    from sqlalchemy import event

    def note(session: Any, _context: Any, _instances: Any) -> None:
        from app.store.models import Finding

        session.info["findings_written"] = [(obj.id, obj.version) for obj in list(session.dirty)
                                            if isinstance(obj, Finding) and obj.id is not None]

    event.listen(db, "before_flush", note)


def stale_findings(db: Session) -> list[tuple[int, int]]:
    """The (id, version read) of the findings the failed flush was writing."""
    return list(db.info.get("findings_written", []))


def from_stale_write(engine: Any, stale: Iterable[tuple[int, int]]) -> EditConflict:
    """The conflict for a write the database refused because the finding's version had moved on."""
    from sqlmodel import Session

    from app.store.models import Finding

    with Session(engine) as fresh:
        for finding_id, read_version in stale:
            current = fresh.get(Finding, finding_id)
            if current is not None:
                return EditConflict(message(fresh, current, read_version))
    return EditConflict("a finding was changed by someone else while you were changing it; your change was not "
                        "saved. Reload it and make your change again if it still applies.")
