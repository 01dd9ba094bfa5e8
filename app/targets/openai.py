"""OpenAI-compatible chat completions: OpenAI, Azure, vLLM, LM Studio, Ollama's ``/v1``.

POST ``{base_url}/chat/completions`` with ``stream: true`` and usage requested;
the reply is server-sent events of ``chat.completion.chunk`` objects ending in
``data: [DONE]``. A stream that stops without ``[DONE]`` keeps its text but ends
the turn as ``stream_error`` ("stream ended without [DONE]"): the answer may
have been cut off, and an auditor must be able to tell.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app.targets.adapter import EndpointAdapter
from app.targets.base import ChatRequest
from app.targets.common import TargetFault
from app.targets.decoder import ChunkTemplate, Decoder, load_chunk, payload_message


class OpenAIDecoder(Decoder):
    """Chunks: a role-only first delta, content deltas, a usage chunk with empty ``choices``, ``[DONE]``."""

    framing = "sse"
    end_marker = "[DONE]"
    reads_runs = True

    def __init__(self) -> None:
        super().__init__()
        self._need_meta = True  # until both the model id and the fingerprint were seen
        self._template = ChunkTemplate(b'"content":')

    def event(self, name: bytes | None, data: bytes) -> str | None:
        text = self._template.text(data)
        if text is not None:
            return text
        if data == b"[DONE]":
            self.done = True
            return None
        chunk = load_chunk(data)
        try:
            if chunk.get("object") != "chat.completion.chunk":
                self._check_error(chunk)
            if self._need_meta:
                self._take_meta(chunk)
            if "usage" in chunk and chunk["usage"]:
                self.usage = chunk["usage"]
            choices = chunk.get("choices")
            if choices:
                delta = choices[0].get("delta")
                if delta:
                    content = delta.get("content")
                    if content is None or type(content) is str:
                        if content and not chunk.get("usage"):
                            self._template.learn(data, content)
                        return content
                    raise TargetFault("malformed", f"delta content is not text: {data[:80]!r}")
            return None
        except (AttributeError, TypeError, IndexError):
            raise TargetFault("malformed", f"unexpected chunk shape: {data[:80]!r}") from None

    def run(self, block: bytes) -> tuple[str, int] | None:
        return self._template.run(block)

    @staticmethod
    def _check_error(chunk: dict[str, Any]) -> None:
        # OpenAI nests the error; vLLM sends {"object": "error", "message": ...}
        if "error" in chunk or chunk.get("object") == "error":
            error = chunk.get("error") or chunk
            raise TargetFault("stream_error", f"error in stream: {payload_message(error)}")

    def _take_meta(self, chunk: dict[str, Any]) -> None:
        if self.model_id is None and chunk.get("model"):
            self.model_id = str(chunk["model"])
        if self.system_fingerprint is None and chunk.get("system_fingerprint"):
            self.system_fingerprint = str(chunk["system_fingerprint"])
        self._need_meta = self.model_id is None or self.system_fingerprint is None

    def whole(self, body: bytes) -> str | None:
        """A server that ignored ``stream: true`` and answered one completion object."""
        reply = load_chunk(body)
        self.done = True
        try:
            if "error" in reply:
                raise TargetFault("stream_error", f"error in response: {payload_message(reply['error'])}")
            self.model_id = reply.get("model") or None
            self.system_fingerprint = reply.get("system_fingerprint") or None
            self.usage = reply.get("usage") or None
            choices = reply.get("choices") or []
            content = choices[0].get("message", {}).get("content") if choices else None
        except (AttributeError, TypeError, IndexError):
            raise TargetFault("malformed", f"unexpected response shape: {body[:80]!r}") from None
        return content if isinstance(content, str) else None


class OpenAIAdapter(EndpointAdapter):
    kind = "openai"
    models_path = "/models"

    def chat_call(self, request: ChatRequest) -> tuple[str, str, Any]:
        body = self.body_start(request)
        body["messages"] = list(request.messages)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        if request.user:
            body["user"] = request.user
        return "POST", "/chat/completions", body

    def decoder(self) -> Decoder:
        return OpenAIDecoder()

    def auth_headers(self, key: str) -> dict[str, str]:
        host = (urlsplit(self.base_url).hostname or "").lower()
        if host.endswith(".azure.com"):  # Azure OpenAI takes its key in "api-key"
            return {"api-key": key}
        return {"Authorization": f"Bearer {key}"}
