"""Ollama's native chat API: POST ``{base_url}/api/chat``, newline-delimited JSON.

Each line carries ``message.content``; the last has ``done: true`` with token
counts and durations, which become the turn's usage. A stream that ends
without its ``done`` line is a ``stream_error`` whose text stands. (Ollama's
OpenAI-compatible ``/v1`` endpoint is served by the ``openai`` kind.)
"""

from __future__ import annotations

from typing import Any

from app.targets.adapter import EndpointAdapter
from app.targets.base import ChatRequest
from app.targets.common import TargetFault
from app.targets.decoder import Decoder, load_chunk, payload_message

_USAGE_FIELDS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration", "done_reason")


class OllamaDecoder(Decoder):
    framing = "ndjson"
    end_marker = "a done line"

    def event(self, name: bytes | None, data: bytes) -> str | None:
        line = load_chunk(data)
        try:
            if "error" in line:
                raise TargetFault("stream_error", f"error in stream: {payload_message(line['error'])}")
            if self.model_id is None and line.get("model"):
                self.model_id = str(line["model"])
            message = line.get("message")
            text = message.get("content") if message else None
            if line.get("done"):
                self.done = True
                usage: dict[str, Any] = {
                    "prompt_tokens": line.get("prompt_eval_count"),
                    "completion_tokens": line.get("eval_count"),
                }
                usage.update({k: line[k] for k in _USAGE_FIELDS if k in line})
                self.usage = usage
            return text if type(text) is str else None
        except (AttributeError, TypeError):
            raise TargetFault("malformed", f"unexpected line shape: {data[:80]!r}") from None


class OllamaAdapter(EndpointAdapter):
    kind = "ollama"
    models_path = "/api/tags"

    def chat_call(self, request: ChatRequest) -> tuple[str, str, Any]:
        body = self.body_start(request)
        body["messages"] = list(request.messages)
        body["stream"] = True
        return "POST", "/api/chat", body

    def decoder(self) -> Decoder:
        return OllamaDecoder()

    def parse_models(self, payload: Any) -> list[str]:
        return [str(m.get("name") or m.get("model")) for m in payload.get("models", []) if isinstance(m, dict)]
