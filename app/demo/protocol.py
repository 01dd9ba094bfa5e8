"""The OpenAI-compatible wire format the demo AI system speaks: request parsing, responses, SSE chunks.

Kept apart from the HTTP plumbing so the shapes can be read in one place and
checked against what real endpoints send: a role-only first chunk, word-sized
content deltas, a finish chunk, an optional usage chunk, then ``data: [DONE]``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.demo.persona import PRIMARY_MODEL

ROLES = ("system", "developer", "user", "assistant", "tool")
DONE = b"data: [DONE]\n\n"


class BodyError(Exception):
    """A chat request body the server cannot use.

    ``message`` is what a careful server says (hardened: 400); ``crash`` is the
    exception a careless one lets escape (vulnerable: 500 with a traceback).
    """

    def __init__(self, message: str, param: str | None, crash: tuple[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.crash = crash


@dataclass(frozen=True)
class ChatBody:
    model: str
    messages: tuple[tuple[str, str], ...]
    user: str
    stream: bool
    include_usage: bool


def parse_chat_body(raw: bytes) -> ChatBody:
    """A validated chat request, or :class:`BodyError` naming the field at fault."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BodyError("The request body is not UTF-8 text.", None,
                        (f"UnicodeDecodeError: 'utf-8' codec can't decode byte at position {exc.start}",
                         "body = json.loads(request.body.decode())")) from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"The request body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
                        None, (f"json.decoder.JSONDecodeError: {exc}", "body = json.loads(request.body)")) from None
    if not isinstance(body, dict):
        raise BodyError("The request body must be a JSON object.", None,
                        (f"AttributeError: '{type(body).__name__}' object has no attribute 'get'",
                         "model = body.get('model')"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BodyError("'messages' must be a non-empty list of {role, content} objects.", "messages",
                        ("KeyError: 'messages'", "messages = body['messages']"))
    parsed = tuple(_message(index, item) for index, item in enumerate(messages))
    model = body.get("model", PRIMARY_MODEL)
    user = body.get("user", "anonymous")
    options = body.get("stream_options") or {}
    for name, value in (("model", model), ("user", user)):
        if not isinstance(value, str) or not value:
            raise BodyError(f"'{name}' must be a non-empty string.", name,
                            (f"TypeError: expected str for {name}, got {type(value).__name__}",
                             f"route = ROUTES[body['{name}']]"))
    return ChatBody(model, parsed, user, bool(body.get("stream", False)),
                    bool(options.get("include_usage")) if isinstance(options, dict) else False)


def _message(index: int, item: Any) -> tuple[str, str]:
    where = f"messages[{index}]"
    if not isinstance(item, dict) or item.get("role") not in ROLES:
        raise BodyError(f"'{where}.role' must be one of {', '.join(ROLES)}.", f"{where}.role",
                        ("KeyError: 'role'", "role = message['role']"))
    content = item.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise BodyError(f"'{where}.content' must be a string or a list of text parts.", f"{where}.content",
                        (f'TypeError: can only concatenate str (not "{type(content).__name__}") to str',
                         "prompt += message['content']"))
    return item["role"], content


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A rough token count (words and punctuation), enough for realistic usage figures."""
    return len(_TOKEN.findall(text))


def usage(messages: tuple[tuple[str, str], ...], text: str) -> dict[str, int]:
    prompt = sum(count_tokens(content) + 4 for _, content in messages)
    completion = count_tokens(text)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(model: str, fingerprint: str, text: str, used: dict[str, int]) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    return {
        "id": new_id(), "object": "chat.completion", "created": int(time.time()), "model": model,
        "system_fingerprint": fingerprint,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": used,
    }


def deltas(text: str) -> list[str]:
    """Word-sized pieces, each carrying its leading whitespace, as models stream them."""
    return re.findall(r"\s*\S+", text) or ([text] if text else [])


def stream_chunks(model: str, fingerprint: str, text: str, used: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects for one streamed answer, in order."""
    base = {"id": new_id(), "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "system_fingerprint": fingerprint}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in deltas(text):
        yield chunk({"content": piece})
    yield chunk({}, "stop")
    if used is not None:
        yield {**base, "choices": [], "usage": used}


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def to_json(value: Any) -> bytes:
    return json.dumps(value).encode()
