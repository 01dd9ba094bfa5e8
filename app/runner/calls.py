"""The steps of a run that are one request and one answer, not a stream: model listing and raw HTTP.

Each is recorded as one turn, through the same writer and judged by the same
detectors as a chat turn; a call that raises is recorded as an error and the run
goes on (the streaming side keeps the same rule in :mod:`app.runner.live`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from app.events import TurnFinished, TurnStarted
from app.runner.judge import judge_turn, observation
from app.runner.record import RAW_ESCAPED, open_turn, update_turn
from app.runner.turns import RunInProgress, TurnLog
from app.store.models import utcnow

if TYPE_CHECKING:
    from app.formats.scenario import HttpStep, ListModelsStep
    from app.targets.base import HttpResult


async def list_models_step(run: RunInProgress, index: int, sample: int, step: ListModelsStep) -> None:
    """Ask the target which models it serves, recorded as one turn."""
    await record_call(run, index, sample, "list_models", step.identity, "list the served models",
                      lambda: run.target.list_models(step.auth))


async def http_step(run: RunInProgress, index: int, sample: int, step: HttpStep) -> None:
    """One raw HTTP request (``{identity}`` filled in), recorded as one turn; a granted DELETE makes the
    identity's earlier messages something the system must no longer recall."""
    label = run.label(step.identity)
    path = step.path.replace("{identity}", label)
    body = _substitute(step.body, label)
    status, http_status = await record_call(run, index, sample, "http", step.identity, f"{step.method} {path}",
                                            lambda: run.target.request(step.method, path, body, step.auth))
    if step.method == "DELETE" and status == "done" and (http_status or 0) < 300:
        run.forget(step.identity)


async def record_call(run: RunInProgress, index: int, sample: int, kind: str, identity: str, prompt: str,
                      call: Callable[[], Any]) -> tuple[str, int | None]:
    """A non-streaming call (model listing, raw HTTP) recorded as one turn; returns its status."""
    entry = TurnLog(index, sample, kind, identity, prompt)
    run.log.append(entry)
    prior = run.prior.get((index, sample))
    if prior is not None:
        entry.status, entry.response = prior.status, prior.text
        return prior.status, prior.http_status
    turn_id, _ = await run.writer.call(partial(open_turn, run_id=run.run_id, step=index, sample=sample,
                                               kind=kind, identity=identity))
    entry.turn_id = turn_id
    if run.emit is not None:
        run.emit(TurnStarted(run.run_id, turn_id, index, sample, kind, prompt))
    holder: list[HttpResult] = []

    async def work() -> None:
        holder.append(await call())

    error = ""
    try:
        finished = await run._race(work(), None)
    except asyncio.CancelledError:
        run.writer.submit(partial(update_turn, turn_id=turn_id, status="cancelled",
                                   error_detail="the run was stopped", finished_at=utcnow())).result()
        raise
    except Exception as exc:  # same rule as streaming: record it and go on
        finished, error = True, f"internal error: {type(exc).__name__}: {exc}"
    if not finished or not holder:
        status = "cancelled" if not finished else "error"
        await run.writer.call(partial(
            update_turn, turn_id=turn_id, status=status, error_type="" if not finished else "stream_error",
            error_detail="cancelled by the tester" if not finished else run.scrubber.whole(error),
            request={"prompt": prompt}, finished_at=utcnow()))
        entry.status = status
        if run.emit is not None:
            run.emit(TurnFinished(run.run_id, turn_id, status, entry.error_type))
        return status, None
    result = holder[0]
    text = run.scrubber.whole("\n".join(result.models) if kind == "list_models" else result.body_text)
    status = "error" if result.error_type else "done"
    request = run.scrubber.request_dict(result.request)
    request["prompt"] = prompt
    total_ms = round(result.elapsed_ms, 3)
    raw, withheld = _stored_raw(run, result)
    await run.writer.call(partial(
        update_turn, turn_id=turn_id, status=status, response_text=text, response_raw=raw, raw_withheld=withheld,
        http_status=result.http_status, error_type=result.error_type,
        error_detail=run.scrubber.whole(result.detail), total_ms=total_ms, request=request,
        bounds=result.bounds, finished_at=utcnow()))
    entry.status, entry.response, entry.error_type, entry.total_ms = status, text, result.error_type, total_ms
    if run.emit is not None:
        run.emit(TurnFinished(run.run_id, turn_id, status, result.error_type, None, total_ms, 0))
    obs = observation(text, kind=kind, http_status=result.http_status, error_type=result.error_type,
                            ttft_ms=None, total_ms=result.elapsed_ms, canaries=run.canaries,
                            documented=run.system.models, recall=[], identity=identity,
                            models=tuple(result.models))
    judge_turn(run.engine, run.run_id, turn_id, index, run.spec, obs, run.emit)
    return status, result.http_status


def _stored_raw(run: RunInProgress, result: HttpResult) -> tuple[bytes | None, str]:
    """The body as stored (known keys redacted by their bytes), or None and why it is withheld: a key the
    body spells with JSON escapes is found only in its text, and no byte replacement can remove it."""
    if not result.raw:
        return None, ""
    raw = run.scrubber.whole_bytes(result.raw)
    if run.scrubber:
        text = raw.decode("utf-8", "replace")
        if run.scrubber.whole(text) != text:
            return None, RAW_ESCAPED.format(sha256=(result.bounds or {}).get("raw_sha256") or "not known")
    return raw, ""


def _substitute(value: Any, label: str) -> Any:
    """``{identity}`` replaced inside every string of an http step's body."""
    if isinstance(value, str):
        return value.replace("{identity}", label)
    if isinstance(value, dict):
        return {k: _substitute(v, label) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, label) for v in value]
    return value

