"""One run in progress: the scenario's steps, in order, against one target.

A :class:`LiveRun` walks the step list ``samples`` times. Chat steps keep a
conversation per identity; each identity is sent to the target under its own
label (``redline-run<id>-<identity>``), so two identities are two sessions to
the system under test. Every turn is persisted while it streams
(:mod:`app.runner.record`), judged by the scenario's detectors as soon as it
ends (:mod:`app.runner.judge`), and announced through ``on_event``.

A target fault ends only its own turn; the run goes on to the next step. The
``cancel`` event stops new turns and cancels the streaming ones, keeping the
text that arrived.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from app.events import TurnFinished, TurnStarted
from app.runner.adaptive import run_adaptive
from app.runner.burst import run_burst
from app.runner.calls import http_step, list_models_step
from app.runner.grading import grade_turn
from app.runner.judge import canaries_for, judge_turn, observation
from app.runner.record import (
    SecretScrubber,
    TurnRecorder,
    checkpoint,
    open_turn,
    token_count,
    update_turn,
    withhold_raw,
)
from app.runner.turns import Emit, PriorTurn, TurnLog
from app.runner.writer import StoreWriter
from app.store.models import utcnow
from app.targets.base import (
    BodyBytes,
    ChatRequest,
    RequestSent,
    ResponseMeta,
    RetryScheduled,
    TextDelta,
    TurnCompleted,
    TurnFailed,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from sqlalchemy.engine import Connection, Engine

    from app.formats.scenario import ChatStep, ScenarioSpec
    from app.store.models import AISystem
    from app.targets.base import Target
    from app.targets.operation import ClientOperations

# Emit, PriorTurn and TurnLog are imported above and stay importable from here.
__all__ = ["Emit", "LiveRun", "PriorTurn", "TurnLog"]


@dataclass
class _Stream:
    """Facts gathered from the adapter's events while a turn streams."""

    request: RequestSent | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    retries: list[dict[str, Any]] = field(default_factory=list)
    end: TurnCompleted | TurnFailed | None = None


class LiveRun:
    """Executes one Run row's steps. Create it, then ``await execute()``."""

    def __init__(self, engine: Engine, *, run_id: int, spec: ScenarioSpec, system: AISystem,
                 target: Target, scrubber: SecretScrubber, writer: StoreWriter, on_event: Emit = None,
                 cancel: asyncio.Event | None = None, prior: dict[tuple[int, int], PriorTurn] | None = None,
                 operations: ClientOperations | None = None):
        self.engine = engine  # verdicts are written here; a turn's own rows go through ``writer``
        self.writer = writer
        self.run_id = run_id
        self.spec = spec
        self.system = system
        self.target = target
        self.scrubber = scrubber
        self.emit = on_event
        self.cancel = cancel
        self.prior = prior or {}
        self.operations = operations  # the system's named client operations (app.targets.operation)
        self.canaries = canaries_for(system, spec)
        self.log: list[TurnLog] = []
        self.model_ids: list[str] = []
        self.fingerprints: list[str] = []
        self.bursts: list[dict[str, Any]] = []
        self.raw_truncated: list[int] = []  # turns whose raw body the adapter cut at its cap
        self.cancelled = False
        # Per sample: conversation per identity, user messages in order, and what a
        # successful deletion request asked the system to forget.
        self._history: dict[str, list[dict[str, str]]] = {}
        self._sent: list[tuple[str, str]] = []
        self._forgotten: dict[str, list[str]] = {}

    def label(self, identity: str) -> str:
        """The identity as the target sees it: unique to this run, so sessions never mix."""
        return f"redline-run{self.run_id}-{identity}"

    def forget(self, identity: str) -> None:
        """The identity asked the system to forget: its earlier messages must not come back."""
        own = [text for who, text in self._sent if who == identity]
        self._forgotten.setdefault(identity, []).extend(own)

    def _stop(self) -> bool:
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
        return self.cancelled

    async def execute(self) -> None:
        steps = self.spec.all_steps
        for sample in range(self.spec.samples):
            self._history, self._sent, self._forgotten = {}, [], {}
            for index, step in enumerate(steps):
                if self._stop():
                    return
                if step.type == "chat":
                    await self._chat(index, sample, step)
                elif step.type == "list_models":
                    await list_models_step(self, index, sample, step)
                elif step.type == "http":
                    await http_step(self, index, sample, step)
                elif step.type == "adaptive":
                    await run_adaptive(self, index, sample, step)
                elif step.type == "burst":
                    await run_burst(self, index, sample, step)
                else:  # a client operation, a manual check or the transport checks
                    from app.runner.steps import run_step

                    await run_step(self, index, sample, step)

    # ------------------------------------------------------------------ chat

    async def _chat(self, index: int, sample: int, step: ChatStep) -> None:
        from app.strategies import apply

        identity = step.identity
        if step.new_session:
            self._history[identity] = []
        history = self._history.setdefault(identity, [])
        user_text = apply(step.strategy, step.user) if step.strategy else step.user
        recall = [text for who, text in self._sent if who != identity] + self._forgotten.get(identity, [])
        opening = [{"role": "system", "content": step.system}] if step.system else []
        messages = history + opening + [{"role": "user", "content": user_text}]
        request = ChatRequest(messages=messages, model=step.model, user=self.label(identity), auth=step.auth)
        reply, answered = await self._chat_turn(index, sample, "chat", identity, request, user_text, recall)
        self._sent.append((identity, user_text))
        if user_text != step.user:
            self._sent.append((identity, step.user))
        if answered:  # a request the target never answered is not part of the conversation
            history.extend(opening)
            history.append({"role": "user", "content": user_text})
            history.append({"role": "assistant", "content": reply})

    async def _chat_turn(self, index: int, sample: int, kind: str, identity: str, request: ChatRequest,
                         prompt: str, recall: list[str], deadline: float | None = None,
                         opened: tuple[int, list[dict[str, Any]]] | None = None) -> tuple[str, bool]:
        """Stream one chat call into the store; returns the text and whether the target answered.

        ``opened``: the turn's row was already opened (a burst opens its first wave at once)."""
        entry = TurnLog(index, sample, kind, identity, prompt)
        self.log.append(entry)
        prior = self.prior.get((index, sample))
        if prior is not None:
            entry.status, entry.response = prior.status, prior.text
            return prior.text, prior.status == "done"
        if opened is None:
            opened = await self.writer.call(partial(
                open_turn, run_id=self.run_id, step=index, sample=sample, kind=kind, identity=identity))
        turn_id, earlier = opened
        entry.turn_id = turn_id
        if self.emit is not None:
            self.emit(TurnStarted(self.run_id, turn_id, index, sample, kind, prompt))
        t0 = time.perf_counter()
        recorder = TurnRecorder(self.writer, run_id=self.run_id, turn_id=turn_id, t0=t0,
                                scrubber=self.scrubber, emit=self.emit)
        state = _Stream(retries=earlier)
        status, error_type, detail = "done", "", ""
        try:
            finished = await self._race(self._pump(self.target.stream_chat(request), recorder, state, prompt,
                                                   turn_id), deadline)
        except asyncio.CancelledError:
            # Being cancelled, this task waits for its last write without yielding to the loop.
            self._close_turn(entry, recorder, state, t0, prompt, "cancelled", "", "the run was stopped").result()
            self._announce_close(entry, recorder)
            raise
        except Exception as exc:  # an adapter bug must not take the other steps down with it
            finished, status, error_type = True, "error", "stream_error"
            detail = f"internal error while streaming: {type(exc).__name__}: {exc}"
        if not finished:
            status, detail = "cancelled", ("burst time limit reached" if deadline and not self.cancelled
                                           else "cancelled by the tester")
        elif isinstance(state.end, TurnFailed):
            status, error_type, detail = "error", state.end.error_type, state.end.detail
        elif state.end is None and status == "done":
            status, error_type, detail = "error", "stream_error", "the stream ended without a final event"
        await self.writer.wait(self._close_turn(entry, recorder, state, t0, prompt, status, error_type, detail))
        text = self._announce_close(entry, recorder)
        if status != "cancelled":
            obs = observation(text, kind=kind, http_status=self._http_status(state), error_type=error_type,
                              ttft_ms=recorder.ttft_ms, total_ms=entry.total_ms, canaries=self.canaries,
                              documented=self.system.models, recall=recall, identity=identity)
            obs = await grade_turn(self, index, obs, prompt)  # model judges first (app.runner.grading)
            judge_turn(self.engine, self.run_id, turn_id, index, self.spec, obs, self.emit)
        return text, status == "done"

    async def _pump(self, events: AsyncIterator[Any], recorder: TurnRecorder, state: _Stream, prompt: str,
                    turn_id: int) -> None:
        """Drain the adapter's events. The TextDelta branch is the hot path: keep it first and small."""
        add, add_raw = recorder.add, recorder.add_raw
        try:
            async for event in events:
                if type(event) is TextDelta:
                    add(event.text, event.chunks)
                elif type(event) is BodyBytes:
                    add_raw(event.data)
                elif isinstance(event, RequestSent):
                    state.request = event
                    request = self.scrubber.request_dict(event)
                    request["prompt"] = self.scrubber.whole(prompt)
                    self.writer.submit(partial(update_turn, turn_id=turn_id, request=request))
                elif isinstance(event, ResponseMeta):
                    state.meta.update({k: v for k, v in asdict(event).items() if v is not None})
                elif isinstance(event, RetryScheduled):
                    retry = asdict(event)
                    retry["detail"] = self.scrubber.whole(retry.get("detail") or "")
                    state.retries.append(retry)
                elif isinstance(event, (TurnCompleted, TurnFailed)):
                    state.end = event
        finally:
            closer = getattr(events, "aclose", None)
            if closer is not None:
                await closer()

    async def _race(self, work: Any, deadline: float | None) -> bool:
        """Run ``work`` until it ends, the run is cancelled, or ``deadline`` passes; True if it ended."""
        if self.cancel is None and deadline is None:
            await work
            return True
        task = asyncio.ensure_future(work)
        waiters: set[asyncio.Future[Any]] = {task}
        stop = asyncio.ensure_future(self.cancel.wait()) if self.cancel is not None else None
        if stop is not None:
            waiters.add(stop)
        timeout = None if deadline is None else max(0.0, deadline - time.perf_counter())
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})  # let the stream close before the cancellation goes on
            raise
        finally:
            if stop is not None:
                stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
            self._stop()
            return False
        task.result()  # re-raise whatever the work raised
        return True

    def _http_status(self, state: _Stream) -> int | None:
        if state.end is not None and state.end.http_status is not None:
            return state.end.http_status
        return state.meta.get("http_status")

    def _close_turn(self, entry: TurnLog, recorder: TurnRecorder, state: _Stream, t0: float, prompt: str,
                    status: str, error_type: str, detail: str) -> Future[None]:
        """Queue the turn's final row (assembled text, timings, usage, request, retries) after its batches."""
        detail = recorder.scrub_detail(detail, isinstance(state.end, TurnFailed) and state.end.secret_found)
        text, last_batch = recorder.final(complete=status == "done")
        usage = state.meta.get("usage") or {}
        model_id = state.meta.get("model_id") or ""
        fingerprint = state.meta.get("system_fingerprint") or ""
        if status == "done":  # an errored turn's facts stay on its row but feed no conclusion
            if model_id:
                self.model_ids.append(model_id)
            if fingerprint:
                self.fingerprints.append(fingerprint)
        if state.end is not None and state.end.raw_truncated:
            self.raw_truncated.append(recorder.turn_id)
        request = self.scrubber.request_dict(state.request)
        request["prompt"] = self.scrubber.whole(prompt)
        total_ms = round((time.perf_counter() - t0) * 1000.0, 3)
        tokens = token_count(usage, recorder.chunk_count)
        entry.status, entry.response, entry.error_type, entry.total_ms = status, text, error_type, total_ms
        entry.tokens = tokens
        final_values: dict[str, Any] = dict(
            status=status, response_text=text,
            http_status=self._http_status(state), error_type=error_type, error_detail=detail,
            ttft_ms=recorder.ttft_ms, total_ms=total_ms, chunk_count=recorder.chunk_count, token_count=tokens,
            usage=usage, model_id=model_id, system_fingerprint=fingerprint, retries=state.retries,
            request=request, finished_at=utcnow(), **recorder.evidence(state.end.bounds if state.end else None))
        withheld = recorder.withheld

        def close(conn: Connection) -> None:
            if last_batch is not None:
                last_batch(conn)
            if withheld:
                withhold_raw(conn, recorder.turn_id)
            update_turn(conn, recorder.turn_id, **final_values)

        done = self.writer.submit(close)
        if withheld:
            self.writer.submit(checkpoint)
        return done

    def _announce_close(self, entry: TurnLog, recorder: TurnRecorder) -> str:
        """Once the final row is stored: surface a failed batch, tell the UI, and return the text."""
        recorder.raise_failed()
        if self.emit is not None:
            self.emit(TurnFinished(self.run_id, recorder.turn_id, entry.status, entry.error_type, recorder.ttft_ms,
                                   entry.total_ms, entry.tokens))
        return entry.response
