"""The anthropic, ollama and generic http adapters against real loopback servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.formats.engagement import HttpShape, KeyRef, TargetSpec
from app.secrets import REDACTED
from app.targets.base import ChatRequest, TurnCompleted, TurnFailed
from app.targets.factory import make_target
from tests.servers.loopback import Reply, json_reply
from tests.servers.stream_server import (
    ANTHROPIC_PATH,
    OLLAMA_PATH,
    anthropic_events,
    anthropic_stream,
    ndjson_stream,
    ollama_stream,
    sse,
)
from tests.servers.turns import TurnRecord, chat, run_turn

TEXTS = ["Bonjour", " le ", "monde", " ☃"]
CONVERSATION = ChatRequest(
    messages=[{"role": "system", "content": "rule one"}, {"role": "system", "content": "rule two"},
              {"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"},
              {"role": "user", "content": "second"}],
    user="identity-b",
)


async def one_turn(spec: TargetSpec, request: ChatRequest = CONVERSATION) -> TurnRecord:
    target = make_target(spec)
    try:
        return await run_turn(target, request)
    finally:
        await target.aclose()


def anthropic_spec(server: Any) -> TargetSpec:
    return TargetSpec(kind="anthropic", base_url=server.url + "/v1", model="claude-test-1",
                      api_key=KeyRef(env="ANTHROPIC_TEST_KEY"))


# -- anthropic ------------------------------------------------------------------------------

async def test_anthropic_stream(stream_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "sk-ant-test-000111222333")
    stream_server.route(ANTHROPIC_PATH, anthropic_stream(TEXTS, crlf=True, pieces=40))
    turn = await one_turn(anthropic_spec(stream_server))
    assert turn.text == "".join(TEXTS) and isinstance(turn.end, TurnCompleted)
    assert turn.meta["model_id"] == "claude-test-1"
    assert turn.meta["usage"] == {"input_tokens": 12, "output_tokens": 4}
    seen = stream_server.received[0]
    assert seen.headers["x-api-key"] == "sk-ant-test-000111222333"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    body = seen.json()
    assert body["system"] == "rule one\n\nrule two"
    assert body["messages"] == [{"role": "user", "content": "first"}, {"role": "assistant", "content": "reply"},
                                {"role": "user", "content": "second"}]
    assert body["stream"] is True and body["model"] == "claude-test-1" and body["max_tokens"] > 0
    assert body["metadata"] == {"user_id": "identity-b"}
    assert turn.sent is not None and turn.sent.headers["x-api-key"] == REDACTED


async def test_anthropic_unknown_events_ignored_missing_stop_is_stream_error(stream_server, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "k" * 20)
    events = anthropic_events(TEXTS, stop=False)
    events.insert(3, ("future_event", json.dumps({"type": "future_event", "x": 1})))
    stream_server.route(ANTHROPIC_PATH, Reply(chunks=[sse(events)]))
    turn = await one_turn(anthropic_spec(stream_server))
    assert turn.text == "".join(TEXTS)
    assert isinstance(turn.end, TurnFailed)
    assert (turn.end.error_type, turn.end.detail) == ("stream_error", "stream ended without message_stop")


@pytest.mark.parametrize("error_type, expected", [("overloaded_error", "rate_limited"), ("api_error", "stream_error")])
async def test_anthropic_error_event(stream_server, monkeypatch, error_type: str, expected: str) -> None:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "k" * 20)
    events = anthropic_events(TEXTS[:2], stop=False)[:-2]
    events.append(("error", json.dumps({"type": "error", "error": {"type": error_type, "message": "Overloaded"}})))
    stream_server.route(ANTHROPIC_PATH, Reply(chunks=[sse(events)]))
    turn = await one_turn(anthropic_spec(stream_server))
    assert turn.text == "".join(TEXTS[:2])  # text before the fault stands
    assert isinstance(turn.end, TurnFailed) and turn.end.error_type == expected
    assert turn.end.detail == f"error in stream: {error_type}: Overloaded"


async def test_anthropic_models_listing(stream_server, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "k" * 20)
    stream_server.route("/v1/models", json_reply({"data": [{"id": "claude-test-1", "type": "model"}]}))
    target = make_target(anthropic_spec(stream_server))
    listing = await target.list_models()
    await target.aclose()
    assert listing.models == ["claude-test-1"]
    assert stream_server.received[0].headers["anthropic-version"] == "2023-06-01"


# -- ollama ---------------------------------------------------------------------------------

async def test_ollama_stream_and_usage(stream_server) -> None:
    stream_server.route(OLLAMA_PATH, ollama_stream(TEXTS, pieces=25))
    spec = TargetSpec(kind="ollama", base_url=stream_server.url, model="llama-test:1b")
    turn = await one_turn(spec)
    assert turn.text == "".join(TEXTS) and isinstance(turn.end, TurnCompleted)
    assert turn.meta["model_id"] == "llama-test:1b"
    usage = turn.meta["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["done_reason"]) == (7, 4, "stop")
    body = stream_server.received[0].json()
    assert body == {"model": "llama-test:1b", "messages": CONVERSATION.messages, "stream": True}


async def test_ollama_without_done_line(stream_server) -> None:
    stream_server.route(OLLAMA_PATH, ollama_stream(TEXTS, done=False))
    turn = await one_turn(TargetSpec(kind="ollama", base_url=stream_server.url, model="m"))
    assert turn.text == "".join(TEXTS)
    assert isinstance(turn.end, TurnFailed) and turn.end.detail == "stream ended without a done line"


async def test_ollama_error_line_and_tags(stream_server) -> None:
    stream_server.route(OLLAMA_PATH, Reply(chunks=[b'{"message":{"content":"par"},"done":false}\n',
                                                   b'{"error":"model runner crashed"}\n'],
                                           content_type="application/x-ndjson"))
    stream_server.route("/api/tags", json_reply({"models": [{"name": "llama3:8b", "model": "llama3:8b"},
                                                            {"name": "qwen:0.5b"}]}))
    target = make_target(TargetSpec(kind="ollama", base_url=stream_server.url, model="m"))
    turn = await run_turn(target, chat("hi"))
    listing = await target.list_models()
    await target.aclose()
    assert turn.text == "par" and isinstance(turn.end, TurnFailed)
    assert (turn.end.error_type, turn.end.detail) == ("stream_error", "error in stream: model runner crashed")
    assert listing.models == ["llama3:8b", "qwen:0.5b"]


# -- generic http -----------------------------------------------------------------------------

def http_spec(server: Any, **shape: Any) -> TargetSpec:
    return TargetSpec(kind="http", base_url=server.url, model="bot-7", http=HttpShape(**shape))


async def test_http_json_body_template_and_response_path(stream_server) -> None:
    stream_server.route("/api/ask", json_reply({"choices": [{"text": "the answer"}], "id": 3}))
    spec = http_spec(stream_server, path="/api/ask",
                     body={"question": "{{prompt}}", "history": "{{history}}", "meta": {"m": "{{model}}",
                                                                                         "who": "{{user}}"}},
                     response_path="choices.0.text")
    turn = await one_turn(spec)
    assert turn.text == "the answer" and isinstance(turn.end, TurnCompleted)
    assert stream_server.received[0].json() == {
        "question": "second", "history": CONVERSATION.messages, "meta": {"m": "bot-7", "who": "identity-b"}}


async def test_http_missing_response_path_is_malformed(stream_server) -> None:
    stream_server.route("/", json_reply({"output": "x"}))
    turn = await one_turn(http_spec(stream_server))
    assert isinstance(turn.end, TurnFailed)
    assert (turn.end.error_type, turn.end.detail) == ("malformed", "response has no value at 'text'")
    assert turn.raw == b'{"output": "x"}'


async def test_http_ndjson_stream(stream_server) -> None:
    stream_server.route("/stream", ndjson_stream(TEXTS, "data.delta", pieces=30, trailer={"finished": True}))
    spec = http_spec(stream_server, path="/stream", method="PUT", response_path="data.delta", stream=True)
    turn = await one_turn(spec)
    assert turn.text == "".join(TEXTS) and isinstance(turn.end, TurnCompleted)
    assert stream_server.received[0].method == "PUT"
    assert stream_server.received[0].json() == {"prompt": "second"}


async def test_http_kind_has_no_model_listing(stream_server) -> None:
    target = make_target(http_spec(stream_server))
    listing = await target.list_models()
    await target.aclose()
    assert listing.error_type == "client_error" and "no model listing" in listing.detail
    assert stream_server.received == []
