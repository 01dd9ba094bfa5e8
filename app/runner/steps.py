"""The steps a run takes outside the chat: a client operation called by name, and a manual check.

An operation step is one request, recorded and judged like a raw ``http`` step,
but sent wherever the client's operation lives (:mod:`app.targets.operation`).
A manual step sends nothing: its turn holds the instruction for the tester and
waits for their recorded outcome (:mod:`app.manual`); no detector judges it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

from app.events import TurnFinished, TurnStarted
from app.operations import FORGETS
from app.runner.calls import record_call
from app.runner.judge import MANUAL_KIND
from app.runner.record import open_turn, update_turn
from app.runner.turns import RunInProgress
from app.store.models import utcnow

if TYPE_CHECKING:
    from app.formats.scenario import ManualStep, OperationStep, TransportStep
    from app.targets.base import HttpResult
    from app.targets.operation import ClientOperations


class OperatingRun(RunInProgress, Protocol):
    """A run that can call its system's named client operations (the runner's ``LiveRun`` is one)."""

    @property
    def operations(self) -> ClientOperations | None: ...


async def run_operation(live: OperatingRun, index: int, sample: int, step: OperationStep) -> None:
    """Call the system's operation ``step.operation``; a deletion that succeeded is remembered for recall."""
    operations = live.operations
    label = live.label(step.identity)
    if operations is None or not operations.has(step.operation):
        prompt = f"{step.operation}: not mapped on this system"
    else:
        from app.operations import prepare_call

        prompt = prepare_call(step.operation, operations.operations[step.operation], step.args, label).prompt

    async def call() -> HttpResult:
        if operations is None:
            from app.targets.operation import unmapped

            return unmapped(step.operation)
        return await operations.call(step.operation, dict(step.args), label)

    status, http_status = await record_call(live, index, sample, "operation", step.identity, prompt, call)
    if step.operation in FORGETS and status == "done" and (http_status or 0) < 300:
        live.forget(step.identity)  # its earlier messages must not come back


async def run_manual(live: OperatingRun, index: int, sample: int, step: ManualStep) -> None:
    """Open the manual step's turn: the instruction is its prompt, the outcome awaits the tester."""
    from app.runner.turns import TurnLog

    prompt = step.instruction.strip() + (f"\nExpected: {step.expect.strip()}" if step.expect.strip() else "")
    entry = TurnLog(index, sample, MANUAL_KIND, "tester", prompt)
    live.log.append(entry)
    prior = live.prior.get((index, sample))
    if prior is not None:
        entry.status = prior.status
        return
    turn_id, _ = await live.writer.call(partial(open_turn, run_id=live.run_id, step=index, sample=sample,
                                                kind=MANUAL_KIND, identity="tester"))
    entry.turn_id = turn_id
    if live.emit is not None:
        live.emit(TurnStarted(live.run_id, turn_id, index, sample, MANUAL_KIND, prompt))
    # "done": the step was put to the tester. Its outcome is the human verdict recorded on this turn.
    await live.writer.call(partial(update_turn, turn_id=turn_id, status="done", request={"prompt": prompt},
                                   finished_at=utcnow()))
    entry.status = "done"
    if live.emit is not None:
        live.emit(TurnFinished(live.run_id, turn_id, "done", "", None, None, 0))


async def run_transport(live: OperatingRun, index: int, sample: int, step: TransportStep) -> None:
    """Check every URL of the system (CC6.7) and record the checks as one turn's JSON text."""
    import json
    import time

    from app.targets.base import HttpResult, RequestSent
    from app.targets.transport_checks import check_system, endpoint_urls

    target = dict(live.system.target or {})
    urls = endpoint_urls(target)

    async def call() -> HttpResult:
        started = time.perf_counter()
        operations = live.operations  # its resolver knows the run's secrets, a key passphrase among them
        checks = await check_system(target, timeout=step.timeout,
                                    secrets=operations.resolver if operations is not None else None)
        body = json.dumps({"checks": [c.as_json() for c in checks]}, ensure_ascii=False)
        return HttpResult(request=RequestSent("CHECK", ", ".join(urls) or "built-in demo", {}, None),
                          http_status=None, body_text=body, raw=body.encode("utf-8"),
                          elapsed_ms=(time.perf_counter() - started) * 1000.0)

    prompt = f"check the transport of {len(urls) or 1} endpoint(s): " + (", ".join(urls) or "the built-in demo")
    await record_call(live, index, sample, "transport", "tester", prompt, call)


async def run_step(live: OperatingRun, index: int, sample: int,
                   step: OperationStep | ManualStep | TransportStep) -> None:
    """The one hook the run loop calls for these step types."""
    if step.type == "operation":
        await run_operation(live, index, sample, step)
    elif step.type == "transport":
        await run_transport(live, index, sample, step)
    else:
        await run_manual(live, index, sample, step)
