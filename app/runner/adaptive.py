"""An adaptive step: an attacker model writes each attack turn from what the target said so far.

Each attack turn is a chat turn of the step like any other (streamed, stored,
judged by the scenario's detectors), numbered as a burst's requests are
(``sample * max_turns + i``). Its request carries ``author: attacker`` and the
attacker's record (system, model, method, goal, turn, prompt version and
hash), so transcripts, workpapers and the audit chain all show which prompts
a model wrote. The attack stops after ``max_turns`` turns, or as soon as a
turn's outcome is ``fail``: the goal's detector fired. With ``pair``, the
verdict and reasons on each attempt are the feedback the attacker refines from,
and each attack turn's record keeps the feedback it was written from.

An attacker that cannot write a turn (unknown system, error, timeout, an
empty or oversized reply) ends the attack with an ``error`` turn that says
why: the attack did not run to its end, so the run cannot pass on it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from app.attacker import AUTHOR, AttackTurn, attack_record, next_attack
from app.detectors.aggregate import combine_verdicts
from app.events import TurnFinished, TurnStarted
from app.runner.grading import configured_system
from app.runner.record import open_turn, update_turn
from app.runner.turns import RunInProgress
from app.store.models import utcnow
from app.targets.base import ChatRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from app.formats.scenario import AdaptiveStep


class AttackingRun(RunInProgress, Protocol):
    """What the adaptive loop needs of the run beyond any step's needs: its conversations so far, what
    each identity sent, and whether the run is stopping. The runner's ``LiveRun`` is one."""

    _history: dict[str, list[dict[str, str]]]
    _sent: list[tuple[str, str]]
    _forgotten: dict[str, list[str]]

    def _stop(self) -> bool: ...

    async def _chat_turn(self, *args: Any, **kwargs: Any) -> Any: ...


async def run_adaptive(live: AttackingRun, index: int, sample: int, step: AdaptiveStep) -> None:
    """Run the attack: at most ``step.max_turns`` turns, stopping early once the goal is reached.

    Crescendo turns continue the identity's conversation. Each ``pair`` attempt is sent on its own after
    the identity's earlier steps, and the attacker sees every earlier attempt with the verdict on it."""
    from app.runner.turns import TurnLog

    identity = step.identity
    history = live._history.setdefault(identity, [])
    pair = step.method == "pair"
    attempts: list[dict[str, str]] = []  # pair: each attempt's prompt, response and verdict
    system = configured_system(live.system.engagement_id, step.attacker)
    for i in range(step.max_turns):
        if live._stop():
            return
        number = sample * step.max_turns + i
        turn = i + 1
        recall = [text for who, text in live._sent if who != identity] + live._forgotten.get(identity, [])
        stored = await live.writer.call(partial(_stored_turn, run_id=live.run_id, step=index, sample=number)) \
            if (index, number) in live.prior else None
        opened: tuple[int, list[dict[str, Any]]] | None = None
        if stored is not None:  # a resumed run: this turn was sent and answered before
            turn_id, prompt = stored
        else:
            written = await _write(live, system, step, turn, attempts if pair else history)
            record = attack_record(step.attacker, step.method, step.goal, turn, step.max_turns, written)
            if pair:
                record["feedback"] = attempts[-1]["verdict"] if attempts else ""
            opened = await live.writer.call(partial(
                open_turn, run_id=live.run_id, step=index, sample=number, kind="chat", identity=identity))
            turn_id = opened[0]
            if written.error:
                await _attacker_fault(live, TurnLog(index, number, "chat", identity, ""), turn_id, record)
                return
            prompt = written.text
        request = ChatRequest(messages=history + [{"role": "user", "content": prompt}], user=live.label(identity))
        reply, answered = await live._chat_turn(index, number, "chat", identity, request, prompt, recall,
                                                opened=opened)
        if stored is None:
            await live.writer.call(partial(_mark_attacker, turn_id=turn_id, record=record))
        live._sent.append((identity, prompt))
        outcome, reasons = _judgement(live, turn_id)
        if pair:
            attempts.append({"prompt": prompt, "response": reply,
                             "verdict": f"{outcome or 'not judged'}: {reasons or 'no detector reason'}"})
        elif answered:
            history.append({"role": "user", "content": prompt})
            history.append({"role": "assistant", "content": reply})
        if outcome == "fail":
            return  # the goal's detector fired: the attack reached its goal


async def _write(live: AttackingRun, system: Any, step: AdaptiveStep, turn: int,
                 conversation: list[dict[str, str]]) -> AttackTurn:
    """The attacker's next message; a fault is the turn's error, never an exception."""
    from app.errors import RedlineError
    from app.runner.adapters import Targets

    if system is None:
        return AttackTurn("", f"the engagement has no system named '{step.attacker}' to attack with")
    targets = Targets()
    try:
        target = targets.prepare(system)
    except RedlineError as exc:
        return AttackTurn("", f"the attacker could not be set up: {exc}")
    try:
        return await next_attack(target, step.method, step.goal, turn, step.max_turns, conversation,
                                 seconds=step.seconds)
    finally:
        await targets.aclose()


async def _attacker_fault(live: AttackingRun, entry: Any, turn_id: int, record: dict[str, Any]) -> None:
    """Close the turn the attacker could not write as ``error``, saying why, and announce it."""
    entry.turn_id, entry.status, entry.error_type = turn_id, "error", "stream_error"
    live.log.append(entry)
    detail = live.scrubber.whole(f"attacker {record['system']}: {record['error']}")
    await live.writer.call(partial(
        update_turn, turn_id=turn_id, status="error", error_type="stream_error", error_detail=detail[:500],
        request={"prompt": "", "author": AUTHOR, "attacker": record}, finished_at=utcnow()))
    if live.emit is not None:
        live.emit(TurnStarted(live.run_id, turn_id, entry.step, entry.sample, "chat", ""))
        live.emit(TurnFinished(live.run_id, turn_id, "error", "stream_error"))


def _mark_attacker(conn: Connection, turn_id: int, record: dict[str, Any]) -> None:
    """Add the attacker's record to the turn's stored request (written once the turn has closed)."""
    from sqlalchemy import select

    from app.store.models import Turn

    table = Turn.__table__  # type: ignore[attr-defined]
    request = conn.execute(select(table.c.request).where(table.c.id == turn_id)).scalar_one()
    update_turn(conn, turn_id, request={**(request or {}), "author": AUTHOR, "attacker": record})


def _stored_turn(conn: Connection, run_id: int, step: int, sample: int) -> tuple[int, str] | None:
    """A finished attack turn's id and prompt, for a resumed run to replay without asking again."""
    from sqlalchemy import select

    from app.store.models import Turn

    table = Turn.__table__  # type: ignore[attr-defined]
    row = conn.execute(select(table.c.id, table.c.request).where(
        table.c.run_id == run_id, table.c.step == step, table.c.sample == sample)).first()
    if row is None:
        return None
    return int(row.id), str((row.request or {}).get("prompt") or "")


def _judgement(live: AttackingRun, turn_id: int) -> tuple[str | None, str]:
    """The turn's outcome from its stored automatic verdicts (by the rule every export uses) and their
    reasons: the stop signal, and for ``pair`` the judge's feedback to the attacker."""
    from sqlalchemy import select

    from app.store.models import Verdict

    table = Verdict.__table__  # type: ignore[attr-defined]
    with live.engine.connect() as conn:
        rows = conn.execute(select(table.c.outcome, table.c.reason, table.c.evidence).where(
            table.c.turn_id == turn_id, table.c.source == "auto").order_by(table.c.id)).all()
    outcome = combine_verdicts((row.outcome, row.evidence) for row in rows)
    return outcome, "; ".join(row.reason for row in rows)
