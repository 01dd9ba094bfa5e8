"""Pure units of the target layer: framing, retry timing, URL joining, body templates, error typing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise

import httpx
import pytest

from app.targets.common import RawBody, dig, error_message, is_missing, join_url, status_error_type
from app.targets.http_json import render_body
from app.targets.openai import OpenAIDecoder
from app.targets.retry import RetryPolicy, is_retryable_status, retry_after_seconds
from app.targets.sse import LineSplitter, NDJSONFramer, SSEFramer

STREAM = (
    b": hello\r\n\r\n"
    b"event: delta\r\ndata: {\"a\": 1,\r\ndata: \"b\": 2}\r\n\r\n"
    b"data: plain\n\n"
    b"id: 7\nretry: 100\ndata:no-space\n\n"
    b"data: [DONE]"
)
EXPECTED = [(b"delta", b'{"a": 1,\n"b": 2}'), (None, b"plain"), (None, b"no-space"), (None, b"[DONE]")]


def frame_all(chunks: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    framer = SSEFramer()
    events = []
    for chunk in chunks:
        events += framer.feed(chunk)
    return events + framer.flush()


def test_sse_framing_whole() -> None:
    assert frame_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_sse_framing_survives_every_two_way_split(cut: int) -> None:
    assert frame_all([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_sse_framing_byte_by_byte() -> None:
    assert frame_all([bytes([b]) for b in STREAM]) == EXPECTED


def test_lone_cr_ends_a_line_and_crlf_split_is_one_ending() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r") == []
    assert splitter.feed(b"\nb\rc\r") == [b"a", b"b"]
    assert splitter.feed(b"\r\n") == [b"c", b""]
    assert splitter.flush() == []


def test_utf8_split_inside_a_character_stays_whole() -> None:
    data = "data: {\"t\": \"é🙂\"}\n\n".encode()
    cut = data.index("🙂".encode()) + 2
    assert frame_all([data[:cut], data[cut:]]) == [(None, "{\"t\": \"é🙂\"}".encode())]


def test_ndjson_skips_blank_lines_and_keeps_last_line_without_newline() -> None:
    framer = NDJSONFramer()
    events = framer.feed(b'{"a":1}\n\n  \n{"b"') + framer.feed(b":2}")
    events += framer.flush()
    assert events == [(None, b'{"a":1}'), (None, b'{"b":2}')]


def test_openai_decoder_chunk_kinds() -> None:
    decoder = OpenAIDecoder()
    assert decoder.event(None, b'{"model":"m","choices":[{"delta":{"role":"assistant","content":""}}]}') == ""
    assert decoder.event(None, b'{"choices":[{"delta":{"content":"hi"}}],"system_fingerprint":"fp"}') == "hi"
    assert decoder.event(None, b'{"choices":[],"usage":{"completion_tokens":1}}') is None
    assert decoder.event(None, b"[DONE]") is None and decoder.done
    assert (decoder.model_id, decoder.system_fingerprint, decoder.usage) == ("m", "fp", {"completion_tokens": 1})


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5
    assert retry_after_seconds({"retry-after": format_datetime(now + timedelta(seconds=20), usegmt=True)},
                               now=now) == 20.0
    assert retry_after_seconds({"retry-after": format_datetime(now - timedelta(seconds=20), usegmt=True)},
                               now=now) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-4"}) is None
    assert retry_after_seconds(httpx.Headers({"Retry-After-Ms": "10"})) == 0.01  # case-insensitive


def test_backoff_full_jitter_and_caps() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.5, max_delay=30.0, jitter=lambda: 1.0)
    assert [policy.wait_seconds(n) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]
    assert RetryPolicy(jitter=lambda: 0.25).wait_seconds(3) == 0.5
    assert policy.wait_seconds(1, {"retry-after": "120"}) == 30.0  # the server's hint, capped
    assert policy.wait_seconds(1, {"retry-after": "0"}) == 0.0
    assert policy.allows(3) and not policy.allows(4)
    assert [s for s in (400, 401, 404, 408, 409, 429, 500, 503, 529) if is_retryable_status(s)] == \
        [408, 409, 429, 500, 503, 529]


def test_status_error_types() -> None:
    assert [status_error_type(s) for s in (401, 403, 429, 408, 500, 503, 400, 404, 422)] == [
        "auth", "auth", "rate_limited", "timeout", "server_error", "server_error",
        "client_error", "client_error", "client_error"]


def test_error_message_shapes() -> None:
    assert error_message(b'{"error":{"message":"bad key","type":"x"}}') == "bad key"
    assert error_message(b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}') == "Overloaded"
    assert error_message(b'{"error":"model not found"}') == "model not found"
    assert error_message(b"<html>oops</html>") == "<html>oops</html>"


def test_join_url_keeps_queries() -> None:
    assert join_url("http://h/v1/", "/chat/completions") == "http://h/v1/chat/completions"
    assert join_url("https://x.openai.azure.com/openai/v1?api-version=preview", "/chat/completions") == \
        "https://x.openai.azure.com/openai/v1/chat/completions?api-version=preview"
    assert join_url("http://h/v1", "users/a/data?hard=1") == "http://h/v1/users/a/data?hard=1"


def test_dig_paths() -> None:
    payload = {"choices": [{"text": "a"}, {"text": "b"}], "n": 0}
    assert dig(payload, "choices.1.text") == "b"
    assert dig(payload, "choices.-1.text") == "b"
    assert dig(payload, "n") == 0
    assert is_missing(dig(payload, "choices.5.text")) and is_missing(dig(payload, "n.x"))


def test_render_body_substitutes_inside_the_structure() -> None:
    history = [{"role": "user", "content": 'say "hi"\n{{prompt}}'}]
    values = {"{{prompt}}": 'say "hi"\n{{prompt}} {{model}}', "{{history}}": history, "{{model}}": "m", "{{user}}": "u"}
    template = {"input": "{{prompt}}", "ctx": "{{history}}", "meta": ["{{model}}/{{user}}", 3, None],
                "note": "prompt was: {{prompt}}"}
    assert render_body(template, values) == {
        "input": 'say "hi"\n{{prompt}} {{model}}',  # the prompt is data: its braces are not expanded
        "ctx": history,
        "meta": ["m/u", 3, None],
        "note": 'prompt was: say "hi"\n{{prompt}} {{model}}',
    }


def test_raw_body_cap_records_truncation() -> None:
    raw = RawBody(cap=10)
    for chunk in (b"12345", b"678", b"9abc", b"def"):
        raw.add(chunk)
    assert raw.value() == b"123456789a" and raw.truncated
    assert raw.note() == "raw body truncated at 10 bytes"


RUN_STREAMS = {
    "lf": b"".join(b'data: {"n": %d, "t": "x"}\n\n' % i for i in range(40)) + b"data: [DONE]\n\n",
    "comments-and-names": b": hi\n\nevent: e\ndata: 1\n\ndata: 2\ndata: 3\n\n" * 9 + b"data: tail",
    "cr-midway": b"data: a\n\n" * 20 + b"data: b\r\n\r\n" * 5 + b"data: c\rdata: d\r\r",
    "long-event": b"data: short\n\n" + b"data: " + b"y" * 3000 + b"\n\n" + b"data: z\n\n",
}


def frame_in_runs(chunks: list[bytes]) -> tuple[list[tuple[bytes | None, bytes]], int]:
    """Frame through split(), feeding each run back as a decoder that cannot read it would."""
    framer = SSEFramer(cut_runs=True)
    events, runs = [], 0
    for piece in chunks:
        run, framed = framer.split(piece)
        if run:
            runs += 1
            assert run.endswith(b"\n\n")
            framed = framer.feed(run)
        events += framed
    return events + framer.flush(), runs


@pytest.mark.parametrize("name", list(RUN_STREAMS))
@pytest.mark.parametrize("seed", range(6))
def test_cutting_runs_frames_exactly_what_line_framing_frames(name: str, seed: int, monkeypatch) -> None:
    import random

    from app.targets import sse as sse_module

    monkeypatch.setattr(sse_module, "RUN_LIMIT", 1000)  # the long event outgrows it
    stream = RUN_STREAMS[name]
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(stream)), 25))
    chunks = [stream[a:b] for a, b in pairwise([0, *cuts, len(stream)])]
    events, runs = frame_in_runs(chunks)
    assert events == frame_all(chunks) == frame_all([stream])
    assert runs > 0  # the cut path was really taken


def test_a_cr_or_an_overlong_event_ends_cutting_for_good(monkeypatch) -> None:
    from app.targets import sse as sse_module

    framer = SSEFramer(cut_runs=True)
    assert framer.split(b"data: a\n\ndata: b") == (b"data: a\n\n", [])
    assert framer.split(b"\r\n\r\ndata: c\n\n") == (b"", [(None, b"b"), (None, b"c")])
    assert framer.split(b"data: d\n\n") == (b"", [(None, b"d")])  # cutting stays off

    monkeypatch.setattr(sse_module, "RUN_LIMIT", 10)
    framer = SSEFramer(cut_runs=True)
    assert framer.split(b"data: 12345") == (b"", [])  # held: within the limit
    assert framer.split(b"67890") == (b"", [])  # over the limit: handed to the line framer
    assert framer.split(b"\n\ndata: e\n\n") == (b"", [(None, b"1234567890"), (None, b"e")])
