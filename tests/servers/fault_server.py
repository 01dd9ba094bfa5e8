"""Scripted faults: each returns the :class:`Reply` (or port) that reproduces one way a target fails.

Used with a :class:`~tests.servers.loopback.LoopbackServer` route, e.g.
``server.route(OPENAI_PATH, rate_limited(), openai_stream(["ok"]))`` for
"429, then success". Streams before a fault are OpenAI-shaped so the text that
arrived before the fault can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from tests.servers.loopback import Reply, closed_port, json_reply
from tests.servers.stream_server import openai_events, sse

__all__ = [
    "closed_port", "rate_limited", "server_error", "reset_mid_stream", "malformed_chunk", "missing_done",
    "stall_after", "error_payload", "big_stream", "unauthorized",
]


def rate_limited(*, retry_after: str | None = "0", retry_after_ms: str | None = None) -> Reply:
    headers = []
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", retry_after_ms))
    return json_reply({"error": {"message": "Rate limit reached for requests", "type": "requests",
                                 "code": "rate_limit_exceeded"}}, status=429, headers=headers)


def server_error(status: int = 500, message: str = "The server had an error while processing your request.") -> Reply:
    return json_reply({"error": {"message": message, "type": "server_error"}}, status=status)


def unauthorized(message: str = "Incorrect API key provided.") -> Reply:
    return json_reply({"error": {"message": message, "type": "invalid_request_error",
                                 "code": "invalid_api_key"}}, status=401)


def _partial(texts: Sequence[str]) -> bytes:
    # the opening events and the content, without the closing chunk or [DONE]
    return sse(openai_events(texts, usage=False, done=False)[:-1])


def reset_mid_stream(texts: Sequence[str]) -> Reply:
    """Some text, then a TCP reset."""
    return Reply(chunks=[_partial(texts)], reset=True)


def malformed_chunk(texts: Sequence[str], garbage: bytes = b'{"choices": [{"delta": {"content": "x"') -> Reply:
    """Some text, then a data line that is not JSON, then what would have followed."""
    rest = sse(openai_events(["never shown"], usage=False))
    return Reply(chunks=[_partial(texts), b"data: " + garbage + b"\n\n", rest])


def missing_done(texts: Sequence[str]) -> Reply:
    """A complete-looking stream whose connection ends cleanly before ``data: [DONE]``."""
    return Reply(chunks=[sse(openai_events(texts, done=False))])


def error_payload(texts: Sequence[str], message: str = "The model is overloaded. Please try again later.") -> Reply:
    """Some text, then OpenAI's mid-stream ``{"error": {...}}`` event."""
    error = json.dumps({"error": {"message": message, "type": "server_error", "code": None}})
    return Reply(chunks=[_partial(texts), b"data: " + error.encode() + b"\n\n"])


def stall_after(texts: Sequence[str], seconds: float) -> Reply:
    """Some text, then silence for ``seconds`` with the connection held open."""
    return Reply(chunks=[_partial(texts)], stall=seconds)


def big_stream(total_bytes: int = 10 * 1024 * 1024, piece: str = "lorem ipsum dolor sit amet, ") -> tuple[Reply, str]:
    """About ``total_bytes`` of SSE in many chunks, and the text it must assemble to."""
    per_event = len(sse(openai_events([piece], usage=False, done=False)[1:2]))
    count = max(1, total_bytes // per_event)
    body = sse(openai_events([piece] * count))
    step = 64 * 1024
    return Reply(chunks=[body[i:i + step] for i in range(0, len(body), step)]), piece * count
