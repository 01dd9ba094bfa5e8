"""A stored raw body decodes again to exactly the text the adapter streamed, for every kind; an edited text does not.

Each adapter streams from a real loopback server (chopped into network-sized
pieces); ``replay_text`` then reads the body the adapter passed on, from the
system snapshot a run stores, as ``verify`` does for a bundle.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.formats.engagement import HttpShape, TargetSpec
from app.targets.factory import make_target
from app.targets.replay import replay_text
from tests.servers.loopback import Reply, json_reply
from tests.servers.stream_server import (
    ANTHROPIC_PATH,
    OLLAMA_PATH,
    OPENAI_PATH,
    anthropic_stream,
    ndjson_stream,
    ollama_stream,
    openai_stream,
)
from tests.servers.turns import chat, run_turn

TEXTS = ["Bonjour", " le ", "monde", " ☃", " \"quoted\"\n"]


def _snapshot(spec: TargetSpec) -> dict[str, Any]:
    """What a run stores of its system: the key-free target configuration (app.system_config)."""
    return {"target": spec.model_dump(mode="json", exclude_none=True, exclude={"api_key", "revoked_key"})}


CASES = {
    "openai": (OPENAI_PATH, lambda: openai_stream(TEXTS, crlf=True, comments=True, pieces=23), {"kind": "openai"}),
    "openai-runs": (OPENAI_PATH, lambda: openai_stream(TEXTS * 50, pieces=7), {"kind": "openai"}),
    "anthropic": (ANTHROPIC_PATH, lambda: anthropic_stream(TEXTS, pieces=31), {"kind": "anthropic"}),
    "ollama": (OLLAMA_PATH, lambda: ollama_stream(TEXTS, pieces=17), {"kind": "ollama"}),
    "ollama-error": (OLLAMA_PATH, lambda: Reply(chunks=[b'{"message":{"content":"par"},"done":false}\n',
                                                        b'{"error":"model runner crashed"}\n'],
                                                content_type="application/x-ndjson"), {"kind": "ollama"}),
    "http-ndjson": ("/stream", lambda: ndjson_stream(TEXTS, "data.delta", pieces=11),
                    {"kind": "http", "http": HttpShape(path="/stream", response_path="data.delta", stream=True)}),
    "http-json": ("/ask", lambda: json_reply({"choices": [{"text": "the answer"}]}),
                  {"kind": "http", "http": HttpShape(path="/ask", response_path="choices.0.text")}),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_raw_body_decodes_to_the_streamed_text(stream_server: Any, case: str) -> None:
    path, reply, fields = CASES[case]
    stream_server.route(path, reply())
    base = stream_server.url + ("/v1" if fields["kind"] in ("openai", "anthropic") else "")
    spec = TargetSpec(base_url=base, model="m-1", **fields)
    target = make_target(spec)
    try:
        turn = await run_turn(target, chat("hello"))
    finally:
        await target.aclose()
    assert turn.text and turn.raw
    assert replay_text(_snapshot(spec), turn.raw) == turn.text
    assert replay_text(_snapshot(spec), turn.raw) != turn.text + " (edited)"


def test_a_snapshot_that_cannot_be_rebuilt_says_so() -> None:
    assert replay_text(None, b"data: {}\n\n") is None
    assert replay_text({"target": {"kind": "no-such-kind"}}, b"x") is None
