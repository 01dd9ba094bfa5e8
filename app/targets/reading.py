"""Reading a successful response into events: the raw bytes, the text, the facts, then the one end event.

The hot path reads the body in network-sized pieces and passes each one on
as ``BodyBytes`` (secrets redacted) so the runner can store the raw body while
it streams; it frames them without decoding (:mod:`app.targets.sse`) and
yields one ``TextDelta`` per read holding all the text that read carried. The turn's total deadline is checked
between reads, and an ``asyncio`` timeout guards a read only when the deadline
is nearer than the read timeout, so ordinary streaming pays for no timer per read.

Every read is bounded (:mod:`app.targets.bounds`): the text per turn, the raw
body kept, one line or event, and a compressed body once unpacked. A turn that
reaches a limit stops reading, closes the connection, keeps what arrived, and
ends ``too_large``; every end event carries the limits in force and the bytes
received, as evidence. Getting to the response (auth, attempts, retries) is
:mod:`app.targets.adapter`'s part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from app.formats.engagement import Limits, TargetSpec
from app.secrets import StreamRedactor, redact
from app.targets.base import BodyBytes, ResponseMeta, TargetEvent, TextDelta, TurnCompleted, TurnFailed
from app.targets.bounds import BodyMeter, TextBudget
from app.targets.common import WIRE_ERRORS, RawBody, TargetFault, short, transport_fault
from app.targets.decoder import Decoder
from app.targets.sse import NDJSONFramer, SSEFramer


def total_fault(spec: TargetSpec) -> TargetFault:
    """The fault a turn ends with when it runs past its total time limit."""
    return TargetFault("timeout", f"the turn exceeded its total time limit of {spec.timeouts.total:g}s")


async def read_body(response: httpx.Response, raw: RawBody, deadline: float, meter: BodyMeter) -> None:
    """A whole body, up to the raw cap (then the read stops and the connection closes)."""
    async with asyncio.timeout_at(deadline):
        async for chunk in meter.chunks(response):
            raw.add(chunk)
            if raw.truncated:
                break


async def read_response(response: httpx.Response, deadline: float, *, decoder: Decoder, secrets: tuple[str, ...],
                        raw_cap: int, limits: Limits, spec: TargetSpec) -> AsyncIterator[TargetEvent]:
    """The body of a successful response: text and body bytes, then the facts, then the one end event."""
    status = response.status_code
    yield ResponseMeta(http_status=status)
    raw = RawBody(raw_cap)
    meter = BodyMeter(limits)
    budget = TextBudget(limits.text_bytes)
    redactor = StreamRedactor(secrets, b"")
    failure: TargetFault | None = None
    try:
        if decoder.framing == "json" or (decoder.framing == "sse" and response.headers.get(
                "content-type", "").startswith("application/json")):
            cut_short: BaseException | None = None
            try:
                await read_body(response, raw, deadline, meter)
            except (TimeoutError, httpx.HTTPError, TargetFault) as exc:
                cut_short = exc
            if raw.parts:  # what arrived is evidence even when the body was cut short
                yield BodyBytes(raw.value(secrets))
            if cut_short is not None:
                raise cut_short
            if raw.truncated:
                raise TargetFault("malformed", "JSON body larger than the raw cap")
            text, over = budget.take(decoder.whole(b"".join(raw.parts)) or "")
            if text:
                yield TextDelta(text)
            if over:
                raise budget.fault(meter)
        else:
            async for event in read_stream(response, decoder, raw, redactor, deadline, meter, budget,
                                             line_limit=limits.line_bytes, read_timeout=spec.timeouts.read):
                yield event
    except TargetFault as fault:
        failure = fault
    except TimeoutError:
        failure = total_fault(spec)
    except WIRE_ERRORS as exc:
        failure = transport_fault(exc, spec, streaming=True)
    finally:
        await response.aclose()

    held = redactor.finish()
    if held:
        yield BodyBytes(held)
    meta = decoder.meta(status)
    if meta is not None:
        yield meta
    if failure is None:
        yield TurnCompleted(http_status=status, raw_truncated=raw.truncated, bounds=meter.facts())
        return
    meter.stop(failure)
    detail = redact(failure.detail, secrets)
    found = detail != failure.detail
    if raw.truncated:
        detail = short(f"{detail}; {raw.note()}")
    yield TurnFailed(failure.error_type, detail, failure.http_status or status, raw.truncated, meter.facts(),
                     found)


async def read_stream(response: httpx.Response, decoder: Decoder, raw: RawBody, redactor: StreamRedactor[bytes],
                      deadline: float, meter: BodyMeter, budget: TextBudget, *, line_limit: int,
                      read_timeout: float) -> AsyncIterator[TargetEvent]:
    """The hot path: per network read, its bytes, then one TextDelta for whatever text it completed.

    Raises TargetFault, TimeoutError or httpx errors; bytes and text read
    before the fault have been yielded first, so they always stand. Text
    past ``budget`` is not yielded: the read stops there with ``too_large``.
    """
    framer = (SSEFramer(cut_runs=decoder.reads_runs, limit=line_limit) if decoder.framing == "sse"
              else NDJSONFramer(limit=line_limit))
    split, feed, on_event, read_run, admit = framer.split, framer.feed, decoder.event, decoder.run, raw.admit
    scrub = redactor.feed if redactor else None
    take = budget.take
    chunks = meter.chunks(response).__aiter__()
    now = asyncio.get_running_loop().time
    pending: list[str] = []
    carried = 0  # stream chunks that carried the pending text
    while not decoder.done:  # bytes after the end marker carry nothing
        try:
            if deadline - now() < read_timeout:
                async with asyncio.timeout_at(deadline):
                    chunk = await chunks.__anext__()
            else:
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            break
        kept = admit(chunk)
        if scrub is not None and kept:
            kept = scrub(kept)
        if kept:
            yield BodyBytes(kept)
        run, events = split(chunk)
        if run:
            read = read_run(run)
            if read is None:
                events = feed(run)
            elif read[1]:
                pending.append(read[0])
                carried += read[1]
        try:
            for name, data in events:
                text = on_event(name, data)
                if text:
                    pending.append(text)
                    carried += 1
                if decoder.done:
                    break
        except TargetFault:
            if pending:  # what came before the bad chunk in this read stands
                text, over = take("".join(pending))
                if text:
                    yield TextDelta(text, carried)
            raise
        if pending:
            text, over = take(pending[0] if len(pending) == 1 else "".join(pending))
            if text:
                yield TextDelta(text, carried)
            if over:
                raise budget.fault(meter)
            pending.clear()
            carried = 0
        if now() >= deadline:
            raise TimeoutError
    if decoder.done:
        return
    # The body ended: an event left without its blank line still counts,
    # but one cut off mid-chunk is truncation, not garbage.
    last_fault: TargetFault | None = None
    try:
        for name, data in framer.flush():
            text = on_event(name, data)
            if text:
                pending.append(text)
                carried += 1
    except TargetFault as fault:
        last_fault = fault if fault.error_type != "malformed" else TargetFault(
            "stream_error", "stream ended in the middle of a chunk")
    if pending:
        text, over = take("".join(pending))
        if text:
            yield TextDelta(text, carried)
        if over:
            raise budget.fault(meter)
    if last_fault is not None:
        raise last_fault
    decoder.finish()
