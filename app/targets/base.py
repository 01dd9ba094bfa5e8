"""What every target adapter yields, and the typed errors a turn can end with.

Adapters know HTTP, not the database: they turn one request into a stream of
:class:`TargetEvent` values and never raise for target faults. A fault becomes a
:class:`TurnFailed` event, so text that arrived before it is kept and the run
goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# Re-exported: adapters and their callers name the error types from here.
from app.turn_errors import ERROR_TYPES as ERROR_TYPES
from app.turn_errors import ErrorType as ErrorType

AuthMode = Literal["default", "none", "revoked"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat call. ``messages`` is the whole conversation so far, OpenAI-style dicts."""

    messages: list[dict[str, str]]
    model: str | None = None  # None: the system's configured model
    user: str | None = None  # identity label, sent where the API has a field for it
    auth: AuthMode = "default"
    # A burst measures how the system answers a load: sent once, as it comes, never retried or
    # held back by the adapter's bound on requests in flight.
    measure_raw: bool = False


@dataclass(frozen=True)
class RequestSent:
    """The request exactly as sent, with secrets replaced by ``[REDACTED]``."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class TextDelta:
    """New response text, in arrival order.

    Text that arrived in one network read comes as one delta; ``chunks`` says
    how many stream chunks (SSE events, NDJSON lines) it joins.
    """

    text: str
    chunks: int = 1


@dataclass(frozen=True)
class ResponseMeta:
    """Facts the endpoint reported: any field may be absent."""

    http_status: int | None = None
    model_id: str | None = None
    system_fingerprint: str | None = None
    usage: dict[str, Any] | None = None


@dataclass(frozen=True)
class RetryScheduled:
    attempt: int  # the attempt that failed, from 1
    error_type: str
    http_status: int | None
    wait_ms: float
    detail: str = ""


@dataclass(frozen=True)
class BodyBytes:
    """Bytes of the final attempt's response body, in arrival order, with known secrets redacted.

    A stream's body comes a network read at a time, as it arrives, so the
    runner can store it while it streams; a whole body (an error page, a
    non-streamed reply) comes as one piece. Joined, they are the body byte for
    byte up to the adapter's cap.
    """

    data: bytes


@dataclass(frozen=True)
class TurnCompleted:
    """The stream ended normally."""

    http_status: int | None = None
    raw_truncated: bool = False  # the body's bytes were cut at the adapter's cap; the text is complete
    # The body's bounds as evidence: the limits in force, bytes received, the limit that stopped the
    # read ("" if none) and the SHA-256 of the bytes as received (app.targets.bounds.BodyMeter.facts).
    bounds: dict[str, Any] | None = None


@dataclass(frozen=True)
class TurnFailed:
    """The turn ended with a typed fault; text streamed before it stands."""

    error_type: str  # one of ERROR_TYPES
    detail: str
    http_status: int | None = None
    raw_truncated: bool = False
    bounds: dict[str, Any] | None = None  # as on TurnCompleted
    # The detail, decoded from the body (an error message), held a secret, now redacted: the raw
    # body may spell it in a form no byte search sees (JSON escapes), so it must not be kept.
    secret_found: bool = False


TargetEvent = RequestSent | TextDelta | BodyBytes | ResponseMeta | RetryScheduled | TurnCompleted | TurnFailed


@dataclass(frozen=True)
class HttpResult:
    """Outcome of a non-chat call (model listing, raw HTTP step)."""

    request: RequestSent
    http_status: int | None
    body_text: str
    raw: bytes = b""
    models: list[str] = field(default_factory=list)  # for list_models
    error_type: str = ""
    detail: str = ""
    elapsed_ms: float = 0.0
    bounds: dict[str, Any] = field(default_factory=dict)  # as on TurnCompleted


class Target(Protocol):
    """One adapter instance per AI system; shares one ``httpx.AsyncClient``."""

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[TargetEvent]:
        """Yield events for one chat call; always ends with TurnCompleted or TurnFailed.

        Declared without ``async``: adapters implement it as an async generator, which a caller
        iterates (``async for``) rather than awaits."""
        ...

    async def list_models(self, auth: AuthMode = "default") -> HttpResult: ...

    async def request(self, method: str, path: str, body: Any = None, auth: AuthMode = "default") -> HttpResult: ...

    async def aclose(self) -> None: ...
