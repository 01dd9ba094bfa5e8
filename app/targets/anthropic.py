"""Anthropic's Messages API: POST ``{base_url}/messages`` (base_url like ``https://host/v1``).

System messages move to the top-level ``system`` field; the key goes in
``x-api-key`` with ``anthropic-version``. The stream is typed events:
``message_start`` (model, input usage), ``content_block_delta`` with
``text_delta``, ``message_delta`` (output usage), ``message_stop``, ``ping``,
and ``error`` (``overloaded_error`` is rate limiting; any other is a stream
error). Unknown event types are ignored, as Anthropic asks clients to do.
"""

from __future__ import annotations

from typing import Any

from app.targets.adapter import EndpointAdapter
from app.targets.base import AuthMode, ChatRequest
from app.targets.common import TargetFault
from app.targets.decoder import Decoder, load_chunk, payload_message

# The API requires a ceiling; red-team answers can be long, so it is generous.
DEFAULT_MAX_TOKENS = 4096


class AnthropicDecoder(Decoder):
    framing = "sse"
    end_marker = "message_stop"

    def event(self, name: bytes | None, data: bytes) -> str | None:
        payload = load_chunk(data)
        try:
            kind = payload.get("type")
            if kind == "content_block_delta":
                delta = payload["delta"]
                if delta.get("type") == "text_delta":
                    text = delta.get("text")
                    return text if type(text) is str else None
                return None  # thinking and tool-input deltas are not response text
            if kind == "message_start":
                message = payload.get("message") or {}
                self.model_id = message.get("model") or self.model_id
                self._add_usage(message.get("usage"))
            elif kind == "content_block_start":
                block = payload.get("content_block") or {}
                if block.get("type") == "text" and block.get("text"):
                    return str(block["text"])
            elif kind == "message_delta":
                self._add_usage(payload.get("usage"))
            elif kind == "message_stop":
                self.done = True
            elif kind == "error":
                error = payload.get("error") or {}
                etype = error.get("type", "") if isinstance(error, dict) else ""
                fault_type = "rate_limited" if etype in ("overloaded_error", "rate_limit_error") else "stream_error"
                label = f"{etype}: " if etype else ""
                raise TargetFault(fault_type, f"error in stream: {label}{payload_message(error)}")
            return None
        except (AttributeError, TypeError, KeyError):
            raise TargetFault("malformed", f"unexpected event shape: {data[:80]!r}") from None

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage = {**(self.usage or {}), **usage}

    def whole(self, body: bytes) -> str | None:
        reply = load_chunk(body)
        self.done = True
        if reply.get("type") == "error":
            raise TargetFault("stream_error", f"error in response: {payload_message(reply.get('error'))}")
        self.model_id = reply.get("model") or None
        self._add_usage(reply.get("usage"))
        blocks = [b for b in reply.get("content") or [] if isinstance(b, dict)]
        parts = [str(b.get("text", "")) for b in blocks if b.get("type") == "text"]
        return "".join(parts) or None


class AnthropicAdapter(EndpointAdapter):
    kind = "anthropic"
    models_path = "/models"

    def chat_call(self, request: ChatRequest) -> tuple[str, str, Any]:
        system = [m["content"] for m in request.messages if m.get("role") == "system"]
        messages = [{"role": m["role"], "content": m["content"]} for m in request.messages if m.get("role") != "system"]
        body = self.body_start(request)
        body["max_tokens"] = DEFAULT_MAX_TOKENS
        if system:
            body["system"] = "\n\n".join(system)
        body["messages"] = messages
        body["stream"] = True
        if request.user:
            body["metadata"] = {"user_id": request.user}
        return "POST", "/messages", body

    def decoder(self) -> Decoder:
        return AnthropicDecoder()

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _headers(self, auth: AuthMode, *, json_body: bool) -> dict[str, str]:
        headers = super()._headers(auth, json_body=json_body)
        headers.setdefault("anthropic-version", self.spec.anthropic_version)
        return headers
