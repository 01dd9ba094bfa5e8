"""Every scripted fault ends the turn with the right typed error, keeps earlier text, and retries only when safe."""

from __future__ import annotations

from typing import Any

from app.formats.engagement import TargetSpec, Timeouts
from app.targets.base import RetryScheduled, TurnCompleted, TurnFailed
from app.targets.factory import make_target
from tests.servers.fault_server import (
    big_stream,
    closed_port,
    error_payload,
    malformed_chunk,
    missing_done,
    rate_limited,
    reset_mid_stream,
    server_error,
    stall_after,
    unauthorized,
)
from tests.servers.loopback import Reply
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.servers.turns import TurnRecord, chat, run_turn

BEFORE = ["Partial ", "answer ", "so far"]


class RecordedSleep:
    """Stands in for asyncio.sleep between retries: records the wait, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def turn_against(base_url: str, *, sleep: RecordedSleep | None = None, raw_cap: int | None = None,
                       **spec_options: Any) -> TurnRecord:
    spec = TargetSpec(kind="openai", base_url=base_url, model="m", **spec_options)
    options: dict[str, Any] = {"raw_cap": raw_cap} if raw_cap else {}
    target = make_target(spec, sleep=sleep or RecordedSleep(), **options)
    try:
        return await run_turn(target, chat("hello"))
    finally:
        await target.aclose()


async def scripted(server: Any, *replies: Reply, **options: Any) -> TurnRecord:
    server.route(OPENAI_PATH, *replies)
    return await turn_against(server.url + "/v1", **options)


def failure(turn: TurnRecord) -> TurnFailed:
    assert isinstance(turn.end, TurnFailed), turn.end
    return turn.end


async def test_connection_refused_is_retried_then_typed_connect() -> None:
    sleep = RecordedSleep()
    turn = await turn_against(f"http://127.0.0.1:{closed_port()}/v1", sleep=sleep, max_retries=2)
    assert [(r.attempt, r.error_type, r.http_status) for r in turn.retries] == [(1, "connect", None),
                                                                                (2, "connect", None)]
    assert len(sleep.waits) == 2 and all(0 <= w <= 1.0 for w in sleep.waits)  # jittered backoff
    assert [r.wait_ms for r in turn.retries] == [w * 1000 for w in sleep.waits]
    end = failure(turn)
    assert end.error_type == "connect" and end.detail.startswith("cannot connect")
    assert turn.text == "" and turn.sent is not None


async def test_429_with_retry_after_zero_then_success(fault_server) -> None:
    sleep = RecordedSleep()
    turn = await scripted(fault_server, rate_limited(retry_after="0"), openai_stream(["recovered"]), sleep=sleep)
    retries = [(r.attempt, r.error_type, r.http_status, r.wait_ms) for r in turn.retries]
    assert retries == [(1, "rate_limited", 429, 0.0)]
    assert turn.retries[0].detail == "HTTP 429: Rate limit reached for requests"
    assert sleep.waits == [0.0]
    assert turn.text == "recovered" and isinstance(turn.end, TurnCompleted)
    assert len(fault_server.requests_to(OPENAI_PATH)) == 2
    assert b"Rate limit" not in turn.raw  # raw is the final attempt's body


async def test_retry_after_ms_wins_over_retry_after(fault_server) -> None:
    sleep = RecordedSleep()
    turn = await scripted(fault_server, rate_limited(retry_after="7", retry_after_ms="5"), openai_stream(["ok"]),
                          sleep=sleep)
    assert sleep.waits == [0.005] and turn.retries[0].wait_ms == 5.0
    assert turn.text == "ok"


async def test_500_on_every_attempt(fault_server) -> None:
    sleep = RecordedSleep()
    turn = await scripted(fault_server, server_error(500), sleep=sleep, max_retries=3)
    assert [r.attempt for r in turn.retries] == [1, 2, 3]
    assert {r.error_type for r in turn.retries} == {"server_error"}
    end = failure(turn)
    assert (end.error_type, end.http_status) == ("server_error", 500)
    assert end.detail == "HTTP 500: The server had an error while processing your request."
    assert b"server_error" in turn.raw
    assert len(fault_server.requests_to(OPENAI_PATH)) == 4


async def test_retry_wait_beyond_the_turn_deadline_is_not_attempted(fault_server) -> None:
    sleep = RecordedSleep()
    turn = await scripted(fault_server, rate_limited(retry_after="20"), openai_stream(["late"]), sleep=sleep,
                          timeouts=Timeouts(total=2.0))
    assert turn.retries == [] and sleep.waits == []
    assert failure(turn).error_type == "rate_limited"


async def test_auth_and_client_errors_are_not_retried(fault_server) -> None:
    turn = await scripted(fault_server, unauthorized())
    end = failure(turn)
    assert (end.error_type, end.http_status, end.detail) == ("auth", 401, "HTTP 401: Incorrect API key provided.")
    fault_server.route(OPENAI_PATH, Reply(status=404, chunks=[b"gone"], content_type="text/plain", framing="length"))
    turn = await turn_against(fault_server.url + "/v1")
    assert (failure(turn).error_type, failure(turn).detail) == ("client_error", "HTTP 404: gone")
    assert turn.retries == [] and len(fault_server.received) == 2


async def test_reset_mid_stream_keeps_text_and_is_never_retried(fault_server) -> None:
    sleep = RecordedSleep()
    turn = await scripted(fault_server, reset_mid_stream(BEFORE), openai_stream(["duplicate"]), sleep=sleep,
                          max_retries=3)
    assert turn.text == "".join(BEFORE)
    end = failure(turn)
    assert end.error_type == "stream_error" and end.detail.startswith("connection lost mid-stream")
    assert end.http_status == 200 and b"so far" in turn.raw
    assert turn.retries == [] and len(fault_server.received) == 1


async def test_malformed_chunk_ends_the_turn(fault_server) -> None:
    turn = await scripted(fault_server, malformed_chunk(BEFORE))
    assert turn.text == "".join(BEFORE)
    end = failure(turn)
    assert end.error_type == "malformed" and end.detail.startswith("unparseable chunk: b'{\"choices\"")
    assert "never shown" not in turn.text


async def test_no_done_is_truncation_evidence(fault_server) -> None:
    turn = await scripted(fault_server, missing_done(BEFORE))
    assert turn.text == "".join(BEFORE)
    assert (failure(turn).error_type, failure(turn).detail) == ("stream_error", "stream ended without [DONE]")
    assert turn.meta["usage"]["completion_tokens"] == 3  # the usage chunk still counts


async def test_error_payload_mid_stream(fault_server) -> None:
    turn = await scripted(fault_server, error_payload(BEFORE))
    assert turn.text == "".join(BEFORE)
    assert failure(turn).detail == "error in stream: The model is overloaded. Please try again later."
    assert failure(turn).error_type == "stream_error"


async def test_stall_past_read_timeout(fault_server) -> None:
    turn = await scripted(fault_server, stall_after(BEFORE, 5.0), timeouts=Timeouts(read=0.3, total=30))
    assert turn.text == "".join(BEFORE)
    assert (failure(turn).error_type, failure(turn).detail) == ("timeout", "no data for 0.3s (read timeout)")


async def test_stall_past_total_deadline(fault_server) -> None:
    turn = await scripted(fault_server, stall_after(BEFORE, 5.0), timeouts=Timeouts(read=10, total=0.5))
    assert turn.text == "".join(BEFORE)
    end = failure(turn)
    assert (end.error_type, end.detail) == ("timeout", "the turn exceeded its total time limit of 0.5s")


async def test_connection_closed_without_response(fault_server) -> None:
    turn = await scripted(fault_server, Reply(framing="raw", chunks=[]), max_retries=2)
    end = failure(turn)
    assert end.error_type == "stream_error" and end.detail.startswith("connection lost before a response")
    assert turn.retries == []  # the request may have reached the model: not retried


async def test_ten_megabyte_stream_assembles_exactly(fault_server) -> None:
    reply, expected = big_stream(10 * 1024 * 1024)
    turn = await scripted(fault_server, reply)
    assert isinstance(turn.end, TurnCompleted)
    assert turn.text == expected
    assert turn.chunk_count == len(expected) // len("lorem ipsum dolor sit amet, ")  # every SSE chunk counted
    assert len(turn.deltas) < turn.chunk_count  # ...but text from one network read comes as one delta
    assert turn.raw == b"".join(reply.chunks) and not turn.end.raw_truncated


async def test_raw_body_beyond_the_cap_is_cut_but_text_is_whole(fault_server) -> None:
    reply, expected = big_stream(2 * 1024 * 1024)
    turn = await scripted(fault_server, reply, raw_cap=1024 * 1024)
    assert isinstance(turn.end, TurnCompleted) and turn.end.raw_truncated
    assert len(turn.raw) == 1024 * 1024 and turn.text == expected
    fault_server.route(OPENAI_PATH, Reply(chunks=reply.chunks[:20]))  # 1.25 MiB of it, cut before [DONE]
    cut = await turn_against(fault_server.url + "/v1", raw_cap=1024 * 1024)
    assert failure(cut).raw_truncated
    assert failure(cut).error_type == "stream_error"
    assert failure(cut).detail == "stream ended in the middle of a chunk; raw body truncated at 1048576 bytes"


async def test_retry_events_precede_any_text(fault_server) -> None:
    turn = await scripted(fault_server, server_error(503), server_error(502), openai_stream(BEFORE))
    kinds = [type(e).__name__ for e in turn.events]
    assert kinds[:3] == ["RequestSent", "RetryScheduled", "RetryScheduled"]
    assert all(isinstance(e, RetryScheduled) for e in turn.events[1:3])
    assert turn.text == "".join(BEFORE) and isinstance(turn.end, TurnCompleted)


async def test_text_in_the_same_read_as_a_fault_is_kept(fault_server) -> None:
    one_write = b"".join(malformed_chunk(BEFORE).chunks[:2])  # text events and the bad chunk in one piece
    turn = await scripted(fault_server, Reply(chunks=[one_write]))
    assert turn.text == "".join(BEFORE) and turn.chunk_count == len(BEFORE)
    assert failure(turn).error_type == "malformed"
    kinds = [type(e).__name__ for e in turn.events]
    assert kinds.index("TextDelta") < kinds.index("TurnFailed")
