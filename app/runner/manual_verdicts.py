"""How a run's manual steps are judged: by the tester's latest recorded outcome, or pending.

Part of the runner's roll-up (:func:`app.runner.judge.rollup`), so it lives beside it; recording an
outcome and re-judging the run are :mod:`app.manual`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.store.models import Turn, Verdict

if TYPE_CHECKING:
    from sqlmodel import Session

PENDING_REASON = "manual step not recorded yet: the tester's outcome is needed"


def _latest_human(db: Session, turn_ids: Sequence[int]) -> dict[int, Verdict]:
    from sqlmodel import select

    if not turn_ids:
        return {}
    latest: dict[int, Verdict] = {}
    for verdict in db.exec(select(Verdict).where(Verdict.turn_id.in_(list(turn_ids)),  # type: ignore[union-attr]
                                                 Verdict.source == "human")
                           .order_by(Verdict.id)).all():  # type: ignore[arg-type]
        latest[verdict.turn_id or 0] = verdict
    return latest


def manual_judgements(db: Session, turns: Sequence[Turn]) -> tuple[dict[int, list[Verdict]], list[dict[str, Any]]]:
    """For the run's manual turns: the verdict each is judged by, and the ones still pending.

    A recorded step is judged by the tester's latest verdict; a pending one by
    a ``review`` that is never stored (so the run waits, and never passes).
    """
    latest = _latest_human(db, [t.id for t in turns if t.id is not None])
    judged: dict[int, list[Verdict]] = {}
    pending: list[dict[str, Any]] = []
    for turn in turns:
        verdict = latest.get(turn.id or 0)
        if verdict is None:
            verdict = Verdict(run_id=turn.run_id, turn_id=turn.id, source="pending", detector="manual",
                              outcome="review", reason=PENDING_REASON)
            pending.append({"turn": turn.id, "step": turn.step, "sample": turn.sample})
        judged[turn.id or 0] = [verdict]
    return judged, pending
