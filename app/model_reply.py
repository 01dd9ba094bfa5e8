"""Asking a configured model for one reply, bounded: the call a judge and an attacker share.

A judge grades a turn and an attacker writes the next one; neither is the
system under test, but both are models, so their replies are hostile input.
Each call here has a time limit, a size limit on the text it keeps and no
depth to speak of (one flat reply). Reaching a limit, a target fault or an
adapter bug comes back as an :class:`ModelReply` with ``error`` set, never as
an exception, so the caller can record it as evidence and decide (a judge that
did not answer leaves the turn inconclusive; an attacker that did not answer
ends the attack inconclusive).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.targets.base import ChatRequest, ResponseMeta, TextDelta, TurnCompleted, TurnFailed

if TYPE_CHECKING:
    from app.targets.base import Target

DEFAULT_SECONDS = 60.0
DEFAULT_MAX_CHARS = 8_000


@dataclass(frozen=True)
class ModelReply:
    """What came back: the text kept (at most ``max_chars``), the model that said it, and any fault."""

    text: str
    model_id: str = ""
    error: str = ""  # "" when the model answered in full
    truncated: bool = False  # the reply ran past ``max_chars``; only its opening was kept
    elapsed_ms: float = 0.0


async def ask(target: Target, messages: list[dict[str, str]], *, model: str | None = None,
              seconds: float = DEFAULT_SECONDS, max_chars: int = DEFAULT_MAX_CHARS,
              user: str | None = None) -> ModelReply:
    """One chat call to ``target``; never raises for what the target does."""
    t0 = time.perf_counter()
    parts: list[str] = []
    kept = 0
    meta: dict[str, str] = {}
    end: list[object] = []
    truncated = False

    async def read() -> None:
        nonlocal kept, truncated
        # Adapters implement ``stream_chat`` as an async generator (the Protocol's signature reads as a coroutine).
        events: Any = target.stream_chat(ChatRequest(messages=messages, model=model, user=user))
        try:
            async for event in events:
                if type(event) is TextDelta:
                    room = max_chars - kept
                    parts.append(event.text[:room])
                    kept += min(room, len(event.text))
                    if len(event.text) > room:
                        truncated = True
                        break  # the rest is not read: a reply is bounded, not drained
                elif isinstance(event, ResponseMeta) and event.model_id:
                    meta["model_id"] = event.model_id
                elif isinstance(event, (TurnCompleted, TurnFailed)):
                    end.append(event)
        finally:
            closer = getattr(events, "aclose", None)
            if closer is not None:
                await closer()

    error = ""
    try:
        await asyncio.wait_for(read(), timeout=seconds)
    except TimeoutError:
        error = f"timeout: no complete reply within {seconds:g} s"
    except Exception as exc:  # an adapter bug is this call's fault, recorded like any other
        error = f"internal error: {type(exc).__name__}: {exc}"
    if not error:
        last = end[-1] if end else None
        if isinstance(last, TurnFailed):
            error = f"{last.error_type}: {last.detail}"
        elif last is None and not truncated:
            error = "stream_error: the reply ended without a final event"
    return ModelReply("".join(parts), meta.get("model_id", ""), error[:500], truncated,
                      round((time.perf_counter() - t0) * 1000.0, 3))
