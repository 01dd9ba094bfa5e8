"""Hostile endpoints: streams built to exhaust the client, and a model that echoes a key in small deltas.

Each function returns a script for :meth:`LoopbackServer.route` (a callable,
so every request gets a fresh, possibly endless, body). The bodies are
OpenAI-shaped, so a real ``openai`` target reads them as it would a real one.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from functools import lru_cache

from tests.servers.loopback import Received, Reply
from tests.servers.stream_server import openai_events, sse

Script = Callable[[Received], Reply]

_FRAME = {"id": "chatcmpl-h", "object": "chat.completion.chunk", "created": 1700000000, "model": "acme-support-1"}


def content_frame(text: str) -> bytes:
    """One SSE event carrying ``text`` as a content delta."""
    payload = {**_FRAME, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def endless_stream(piece: str = "lorem ipsum dolor sit amet, " * 64, block: int = 64 * 1024,
                   upto: int = 0) -> Script:
    """A stream that never ends: content events as fast as the client reads them.

    ``upto`` (bytes) makes it stop there without its end marker, for a test that must
    also run safely against a client with no limit of its own."""
    frame = content_frame(piece)
    chunk = frame * max(1, block // len(frame))

    def body() -> Iterator[bytes]:
        sent = 0
        while not upto or sent < upto:
            yield chunk
            sent += len(chunk)

    return lambda request: Reply(chunks=body())


def endless_line(block: int = 64 * 1024, upto: int = 0, opening: bytes = b'data: {"choices":[{"delta":{"content":"',
                 content_type: str = "text/event-stream") -> Script:
    """One line that never ends (an SSE ``data:`` line by default: a JSON string opened and never closed)."""

    def body() -> Iterator[bytes]:
        yield opening
        filler = b"a" * block
        sent = 0
        while not upto or sent < upto:
            yield filler
            sent += block

    return lambda request: Reply(chunks=body(), content_type=content_type)


@lru_cache(maxsize=4)
def _bomb(unpacked: int) -> bytes:
    block = content_frame("z" * 4000) * 256  # ~1 MiB of events, repeated
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [packer.compress(block) for _ in range(max(1, unpacked // len(block)))]
    parts.append(packer.flush())
    return b"".join(parts)


def gzip_bomb(unpacked: int = 1024 * 1024 * 1024) -> tuple[Script, int]:
    """A gzip body that unpacks to ``unpacked`` bytes of SSE (about 1 MB on the wire for 1 GiB),
    sent with ``Content-Encoding: gzip`` whatever the client asked for; and its size on the wire."""
    body = _bomb(unpacked)
    pieces = [body[i:i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]
    return (lambda request: Reply(chunks=pieces, headers=[("Content-Encoding", "gzip")], framing="length"),
            len(body))


def key_in_deltas(prefix: str = "your key is ", suffix: str = " - keep it safe", size: int = 4,
                  delay: float = 0.03, stall: float = 0.0) -> Script:
    """A model that echoes the caller's bearer key, ``size`` characters per JSON frame, one frame
    per HTTP chunk, ``delay`` apart: the key is never whole in the bytes, only in the decoded text.

    ``stall``: after the key, hold the connection open in silence for that long (the turn is
    still streaming, e.g. when the process is killed)."""

    def reply(request: Received) -> Reply:
        key = request.headers["authorization"].split(" ", 1)[1]
        texts = [prefix] + [key[i:i + size] for i in range(0, len(key), size)] + [suffix]
        frames = [sse([event]) for event in openai_events(texts, model="acme-support-1")]
        if stall:
            return Reply(chunks=frames[:-4], delay=delay, stall=stall)  # up to the key's last piece
        return Reply(chunks=frames, delay=delay)

    return reply


def key_reply_body(key: str, **options: object) -> bytes:
    """The exact body :func:`key_in_deltas` sends for ``key`` (for checking a digest of the original)."""
    from tests.servers.loopback import Received as _Received

    reply = key_in_deltas(**options)(_Received("POST", "/", "", {"authorization": f"Bearer {key}"}, b""))  # type: ignore[arg-type]
    return b"".join(reply.chunks)
