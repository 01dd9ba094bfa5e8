"""The OpenAI-compatible adapter against a real loopback server replaying recorded-style streams."""

from __future__ import annotations

from typing import Any

import pytest

from app.formats.engagement import KeyRef, TargetSpec
from app.secrets import REDACTED
from app.targets.base import ChatRequest, TextDelta, TurnCompleted, TurnFailed
from app.targets.factory import make_target
from tests.servers.loopback import Reply, json_reply
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.servers.turns import TurnRecord, chat, run_turn

TEXTS = ["Hello", ", ", "wörld", " 🙂", "\n", "bye"]


def openai_spec(server: Any, **options: Any) -> TargetSpec:
    return TargetSpec(kind="openai", base_url=server.url + "/v1", model="gpt-test-1", **options)


async def turn_for(server: Any, reply: Reply, request: ChatRequest | None = None, **options: Any) -> TurnRecord:
    server.route(OPENAI_PATH, reply)
    target = make_target(openai_spec(server, **options))
    try:
        return await run_turn(target, request or chat("hi"))
    finally:
        await target.aclose()


async def test_plain_stream_text_meta_and_request(stream_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_TEST_KEY", "sk-test-0123456789abcdef")
    request = ChatRequest(messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}],
                          user="identity-a")
    turn = await turn_for(stream_server, openai_stream(TEXTS), request, api_key=KeyRef(env="OPENAI_TEST_KEY"))
    assert turn.text == "".join(TEXTS)
    assert isinstance(turn.end, TurnCompleted) and turn.end.http_status == 200
    assert turn.meta == {"http_status": 200, "model_id": "gpt-test-1", "system_fingerprint": "fp_test",
                         "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}}
    assert turn.raw.startswith(b"data: {") and turn.raw.rstrip().endswith(b"data: [DONE]")
    body = stream_server.received[0].json()
    assert body == {"model": "gpt-test-1", "messages": request.messages, "stream": True,
                    "stream_options": {"include_usage": True}, "user": "identity-a"}
    assert stream_server.received[0].headers["authorization"] == "Bearer sk-test-0123456789abcdef"
    sent = turn.sent
    assert sent is not None and sent.method == "POST" and sent.url == stream_server.url + "/v1/chat/completions"
    assert sent.body == body and sent.headers["Authorization"] == REDACTED
    assert turn.events[0] is sent  # RequestSent first, exactly one end event last (checked by .end)


@pytest.mark.parametrize("options", [
    {"crlf": True},
    {"comments": True},
    {"multiline": True},
    {"trailing_blank": False},
    {"crlf": True, "comments": True, "multiline": True, "trailing_blank": False, "pieces": 97},
])
async def test_awkward_but_valid_framing(stream_server, options: dict[str, Any]) -> None:
    turn = await turn_for(stream_server, openai_stream(TEXTS, **options))
    assert turn.text == "".join(TEXTS)
    assert isinstance(turn.end, TurnCompleted)
    assert turn.meta["model_id"] == "gpt-test-1"


async def test_role_only_first_chunk_and_usage_chunk_yield_no_text(stream_server) -> None:
    turn = await turn_for(stream_server, openai_stream(["only"]))
    assert turn.deltas == ["only"] and turn.chunk_count == 1


async def test_model_override_and_no_user(stream_server) -> None:
    turn = await turn_for(stream_server, openai_stream(["x"]), chat("hi", model="acme-support-staging"))
    body = stream_server.received[0].json()
    assert body["model"] == "acme-support-staging" and "user" not in body
    assert isinstance(turn.end, TurnCompleted)


async def test_missing_done_keeps_text_but_is_a_stream_error(stream_server) -> None:
    turn = await turn_for(stream_server, openai_stream(TEXTS, done=False))
    assert turn.text == "".join(TEXTS)
    assert isinstance(turn.end, TurnFailed)
    assert (turn.end.error_type, turn.end.detail) == ("stream_error", "stream ended without [DONE]")
    assert turn.raw.count(b"data: ") == len(TEXTS) + 3


async def test_server_ignoring_stream_true_is_still_read(stream_server) -> None:
    completion = {"id": "c", "object": "chat.completion", "model": "gpt-test-1", "system_fingerprint": "fp_x",
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole answer"}}],
                  "usage": {"completion_tokens": 2}}
    turn = await turn_for(stream_server, json_reply(completion))
    assert turn.text == "whole answer" and isinstance(turn.end, TurnCompleted)
    assert turn.meta["system_fingerprint"] == "fp_x"


async def test_auth_modes(stream_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVE_KEY", "sk-live-aaaaaaaaaaaaaaaa")
    monkeypatch.setenv("OLD_KEY", "sk-old-bbbbbbbbbbbbbbbbbb")
    stream_server.route(OPENAI_PATH, openai_stream(["ok"]))
    spec = openai_spec(stream_server, api_key=KeyRef(env="LIVE_KEY"), revoked_key=KeyRef(env="OLD_KEY"))
    target = make_target(spec)
    none = await run_turn(target, chat("hi", auth="none"))
    revoked = await run_turn(target, chat("hi", auth="revoked"))
    await target.aclose()
    assert "authorization" not in stream_server.received[0].headers
    assert none.sent is not None and "Authorization" not in none.sent.headers
    assert stream_server.received[1].headers["authorization"] == "Bearer sk-old-bbbbbbbbbbbbbbbbbb"
    assert revoked.sent is not None and revoked.sent.headers["Authorization"] == REDACTED
    assert "sk-old" not in repr(revoked.events)


async def test_revoked_without_configured_key_fails_clearly_without_sending(stream_server) -> None:
    turn = await turn_for(stream_server, openai_stream(["ok"]), chat("hi", auth="revoked"))
    assert len(turn.events) == 1 and isinstance(turn.end, TurnFailed)
    assert turn.end.error_type == "client_error" and "no revoked_key configured" in turn.end.detail
    assert stream_server.received == []


async def test_azure_host_gets_api_key_header() -> None:
    from app.targets.openai import OpenAIAdapter

    spec = TargetSpec(kind="openai", base_url="https://acme.openai.azure.com/openai/v1?api-version=preview")
    adapter = OpenAIAdapter(spec, api_key="k-azure-123456")
    request, sent = adapter._build("POST", "/chat/completions", {"a": 1}, "default")
    assert request.headers["api-key"] == "k-azure-123456" and "authorization" not in request.headers
    assert str(request.url) == "https://acme.openai.azure.com/openai/v1/chat/completions?api-version=preview"
    assert sent.headers["api-key"] == REDACTED
    await adapter.aclose()


async def test_list_models_and_raw_request(stream_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVE_KEY", "sk-live-aaaaaaaaaaaaaaaa")
    stream_server.route("/v1/models", json_reply({"object": "list", "data": [
        {"id": "acme-support-1", "object": "model"}, {"id": "acme-support-staging", "object": "model"}]}))
    stream_server.route("/v1/users/alice/data", json_reply({"deleted": True}), method="DELETE")
    target = make_target(openai_spec(stream_server, api_key=KeyRef(env="LIVE_KEY")))
    listing = await target.list_models()
    deleted = await target.request("DELETE", "/users/alice/data", auth="none")
    missing = await target.request("GET", "/nowhere")
    await target.aclose()
    assert listing.models == ["acme-support-1", "acme-support-staging"] and listing.http_status == 200
    assert listing.error_type == "" and listing.request.headers["Authorization"] == REDACTED
    assert deleted.http_status == 200 and deleted.body_text == '{"deleted": true}'
    assert "authorization" not in stream_server.requests_to("/v1/users/alice/data")[0].headers
    assert (missing.http_status, missing.error_type) == (404, "client_error")
    assert missing.detail == "HTTP 404: no such route" and missing.elapsed_ms > 0


async def test_list_models_unreadable_body_is_malformed(stream_server) -> None:
    stream_server.route("/v1/models", Reply(chunks=[b"<html>"], content_type="text/html", framing="length"))
    target = make_target(openai_spec(stream_server))
    listing = await target.list_models()
    await target.aclose()
    assert listing.error_type == "malformed" and listing.body_text == "<html>"


async def test_abandoning_a_stream_closes_it(stream_server) -> None:
    stream_server.route(OPENAI_PATH, openai_stream(TEXTS, pieces=len(TEXTS) * 3, delay=0.01))
    target = make_target(openai_spec(stream_server))
    seen = []
    stream = target.stream_chat(chat("hi"))
    async for event in stream:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            break
    await stream.aclose()  # type: ignore[attr-defined]
    again = await run_turn(target, chat("again"))  # the shared client is still usable
    await target.aclose()
    assert len(seen) == 1 and seen[0].startswith("Hello") and again.text == "".join(TEXTS)
