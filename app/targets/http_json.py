"""A generic JSON endpoint (``kind: http``), shaped by the engagement's ``target.http`` block.

The body template is rendered inside its JSON structure, never as text, so a
prompt cannot break out of its string: a string value that is exactly
``{{history}}`` becomes the message list; inside other strings ``{{prompt}}``
(the last user message), ``{{history}}`` (the messages as JSON text),
``{{model}}`` and ``{{user}}`` are substituted. The reply's text is read at
``response_path`` (dotted, list indexes allowed: ``choices.0.text``), either
from one JSON body or, with ``stream: true``, from each NDJSON line (lines
without that path, such as a closing metadata line, carry no text).
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.formats.engagement import HttpShape
from app.targets.adapter import EndpointAdapter
from app.targets.base import ChatRequest
from app.targets.common import TargetFault, as_text, dig, is_missing
from app.targets.decoder import Decoder, load_chunk

_PLACEHOLDER = re.compile(r"\{\{(?:prompt|history|model|user)\}\}")


def render_body(template: Any, values: dict[str, Any]) -> Any:
    """The template with placeholders filled; ``values`` maps placeholder to value.

    One pass per string, so placeholders that appear inside the substituted
    prompt stay literal text: the prompt is data, not template.
    """
    if isinstance(template, str):
        if template == "{{history}}":
            return values["{{history}}"]
        if "{{" not in template:
            return template
        return _PLACEHOLDER.sub(lambda match: _as_string(values[match.group()]), template)
    if isinstance(template, dict):
        return {key: render_body(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render_body(value, values) for value in template]
    return template


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def last_user_message(messages: list[dict[str, str]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""


class HttpJsonDecoder(Decoder):
    def __init__(self, path: str, streamed: bool) -> None:
        super().__init__()
        self.path = path
        self.framing = "ndjson" if streamed else "json"

    def event(self, name: bytes | None, data: bytes) -> str | None:
        value = dig(load_chunk(data), self.path)
        return None if is_missing(value) else as_text(value)

    def whole(self, body: bytes) -> str | None:
        try:
            payload = json.loads(body)
        except ValueError:
            raise TargetFault("malformed", f"response is not JSON: {body[:80]!r}") from None
        value = dig(payload, self.path)
        if is_missing(value):
            raise TargetFault("malformed", f"response has no value at '{self.path}'")
        self.done = True
        return as_text(value)


class HttpJsonAdapter(EndpointAdapter):
    kind = "http"
    models_path = None

    @property
    def shape(self) -> HttpShape:
        assert self.spec.http is not None  # TargetSpec requires it for kind http
        return self.spec.http

    def chat_call(self, request: ChatRequest) -> tuple[str, str, Any]:
        values = {
            "{{prompt}}": last_user_message(request.messages),
            "{{history}}": [dict(m) for m in request.messages],
            "{{model}}": self.model_for(request) or "",
            "{{user}}": request.user or "",
        }
        return self.shape.method, self.shape.path, render_body(self.shape.body, values)

    def decoder(self) -> Decoder:
        return HttpJsonDecoder(self.shape.response_path, self.shape.stream)
