"""Recorded-style streams for each API a target adapter speaks, as :class:`Reply` values.

The shapes follow what the real services send: OpenAI's role-only first chunk,
content chunks, a usage chunk with empty ``choices`` and ``data: [DONE]``;
Anthropic's typed events; Ollama's NDJSON lines ending in ``done: true``; and
NDJSON for the generic ``http`` kind. Options add the awkward parts real
servers and proxies produce: CRLF line endings, ``:`` comments, ``data:``
split over several lines, no blank line after the last event, and arbitrary
splits of the byte stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from tests.servers.loopback import Reply

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
OLLAMA_PATH = "/api/chat"


def _json(value: Any) -> str:
    # ensure_ascii=False: the stream carries raw UTF-8, as real servers do; JSON
    # still escapes the control characters a JSON string cannot hold raw.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse(events: Iterable[tuple[str | None, str]], *, crlf: bool = False, comments: bool = False,
        multiline: bool = False, trailing_blank: bool = True) -> bytes:
    """Serialise (event name, data) pairs as server-sent events."""
    nl = "\r\n" if crlf else "\n"
    out: list[str] = []
    if comments:
        out.append(f": keep-alive{nl}{nl}")
    for index, (name, data) in enumerate(events):
        if name:
            out.append(f"event: {name}{nl}")
        if multiline and data.startswith("{") and "," in data:
            # a JSON object spread over data: lines; joined with "\n" it parses the same
            head, _, rest = data.partition(",")
            out.append(f"data: {head},{nl}data:{rest}{nl}")
        else:
            out.append(f"data: {data}{nl}")
        if comments and index % 2 == 0:
            out.append(f": comment {index}{nl}")
        out.append(nl)
    text = "".join(out)
    if not trailing_blank:
        text = text[: -len(nl)]
    return text.encode("utf-8")


def openai_events(texts: Sequence[str], *, model: str = "gpt-test-1", fingerprint: str = "fp_test",
                  usage: bool = True, done: bool = True) -> list[tuple[str | None, str]]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "system_fingerprint": fingerprint}
    events = [(None, _json({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                  "finish_reason": None}]}))]
    for text in texts:
        events.append((None, _json({**base, "choices": [{"index": 0, "delta": {"content": text},
                                                          "finish_reason": None}]})))
    events.append((None, _json({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})))
    if usage:
        events.append((None, _json({**base, "choices": [], "usage": {
            "prompt_tokens": 9, "completion_tokens": len(texts), "total_tokens": 9 + len(texts)}})))
    if done:
        events.append((None, "[DONE]"))
    return events


def anthropic_events(texts: Sequence[str], *, model: str = "claude-test-1",
                     stop: bool = True) -> list[tuple[str | None, str]]:
    events: list[tuple[str | None, str]] = [
        ("message_start", _json({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}})),
        ("content_block_start", _json({"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})),
        ("ping", _json({"type": "ping"})),
    ]
    for text in texts:
        events.append(("content_block_delta", _json({"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "text_delta", "text": text}})))
    events.append(("content_block_stop", _json({"type": "content_block_stop", "index": 0})))
    events.append(("message_delta", _json({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                           "usage": {"output_tokens": len(texts)}})))
    if stop:
        events.append(("message_stop", _json({"type": "message_stop"})))
    return events


def ollama_lines(texts: Sequence[str], *, model: str = "llama-test:1b", done: bool = True) -> bytes:
    lines = [_json({"model": model, "created_at": "2026-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": t}, "done": False}) for t in texts]
    if done:
        lines.append(_json({"model": model, "created_at": "2026-01-01T00:00:01Z",
                            "message": {"role": "assistant", "content": ""}, "done": True,
                            "done_reason": "stop", "total_duration": 5000000, "load_duration": 100,
                            "prompt_eval_count": 7, "prompt_eval_duration": 200,
                            "eval_count": len(texts), "eval_duration": 300}))
    return ("\n".join(lines) + "\n").encode("utf-8")


def nest(path: str, value: Any) -> Any:
    """A JSON value holding ``value`` at a dotted path (``choices.0.text``)."""
    for part in reversed(path.split(".")):
        value = [value] if part.isdigit() else {part: value}
    return value


def ndjson_lines(texts: Sequence[str], path: str = "text", *, trailer: dict[str, Any] | None = None) -> bytes:
    lines = [_json(nest(path, t)) for t in texts]
    if trailer is not None:
        lines.append(_json(trailer))
    return ("\n".join(lines) + "\n").encode("utf-8")


def chop(data: bytes, pieces: int = 0, *, sizes: Sequence[int] = (), seed: int = 7) -> list[bytes]:
    """Split ``data`` into chunks: at fixed ``sizes`` (cycled), or into ``pieces`` random cuts."""
    if sizes:
        out, start, index = [], 0, 0
        while start < len(data):
            size = sizes[index % len(sizes)]
            out.append(data[start:start + size])
            start += size
            index += 1
        return out
    if pieces <= 1:
        return [data]
    cuts = sorted(random.Random(seed).sample(range(1, len(data)), min(pieces - 1, len(data) - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def openai_stream(texts: Sequence[str], *, crlf: bool = False, comments: bool = False, multiline: bool = False,
                  trailing_blank: bool = True, done: bool = True, usage: bool = True, pieces: int = 0,
                  delay: float = 0.0, **names: str) -> Reply:
    data = sse(openai_events(texts, usage=usage, done=done, **names), crlf=crlf, comments=comments,
               multiline=multiline, trailing_blank=trailing_blank)
    return Reply(chunks=chop(data, pieces) if pieces else [data], delay=delay)


def anthropic_stream(texts: Sequence[str], *, crlf: bool = False, stop: bool = True, pieces: int = 0,
                     model: str = "claude-test-1") -> Reply:
    data = sse(anthropic_events(texts, model=model, stop=stop), crlf=crlf)
    return Reply(chunks=chop(data, pieces) if pieces else [data])


def ollama_stream(texts: Sequence[str], *, done: bool = True, pieces: int = 0) -> Reply:
    data = ollama_lines(texts, done=done)
    return Reply(chunks=chop(data, pieces) if pieces else [data], content_type="application/x-ndjson")


def ndjson_stream(texts: Sequence[str], path: str = "text", *, pieces: int = 0,
                  trailer: dict[str, Any] | None = None) -> Reply:
    data = ndjson_lines(texts, path, trailer=trailer)
    return Reply(chunks=chop(data, pieces) if pieces else [data], content_type="application/x-ndjson")
