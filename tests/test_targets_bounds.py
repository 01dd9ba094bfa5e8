"""A hostile endpoint cannot exhaust the client: text, line and unpacked size are bounded, and recorded.

Every body here comes from a real loopback server (tests/servers/hostile.py)
read by a real adapter. The hostile bodies are large but finite, so the tests
also end on a client that has no limits of its own (where they fail).
"""

from __future__ import annotations

import hashlib
from typing import Any

from app.formats.engagement import HttpShape, Limits, TargetSpec
from app.targets.base import TurnCompleted, TurnFailed
from app.targets.factory import make_target
from tests.servers.hostile import endless_line, endless_stream, gzip_bomb
from tests.servers.loopback import LoopbackServer
from tests.servers.stream_server import OPENAI_PATH, openai_stream
from tests.servers.turns import TurnRecord, chat, run_turn

MB = 1024 * 1024


async def turn(server: LoopbackServer, **limits: Any) -> TurnRecord:
    spec = TargetSpec(kind="openai", base_url=server.url + "/v1", model="m", max_retries=0,
                      limits=Limits(**limits) if limits else None)
    target = make_target(spec)
    try:
        return await run_turn(target, chat("hello"))
    finally:
        await target.aclose()


def stopped(record: TurnRecord, limit: str) -> TurnFailed:
    end = record.end
    assert isinstance(end, TurnFailed), end
    assert end.error_type == "too_large", end
    assert end.bounds is not None and end.bounds["stopped_by"] == limit, end.bounds
    return end


async def test_text_stops_at_its_cap_and_the_turn_says_so(fault_server: LoopbackServer) -> None:
    fault_server.route(OPENAI_PATH, endless_stream(upto=40 * MB))
    record = await turn(fault_server, text_bytes=300_000)
    end = stopped(record, "text_bytes")
    assert len(record.text.encode()) == 300_000  # exactly the cap: what arrived before it stands
    assert "300000 bytes" in end.detail and "limits.text_bytes" in end.detail
    received = end.bounds["bytes_received"]
    # Reading stopped at the cap: a few network reads past it, not the 40 MB on offer.
    assert 300_000 < received < 4 * MB
    assert end.bounds["limits"]["text_bytes"] == 300_000


async def test_a_line_that_never_ends_is_refused_at_the_line_cap(fault_server: LoopbackServer) -> None:
    fault_server.route(OPENAI_PATH, endless_line(upto=40 * MB))
    end = stopped(await turn(fault_server, line_bytes=256 * 1024), "line_bytes")
    assert "limits.line_bytes" in end.detail
    assert end.bounds["bytes_received"] < 4 * MB


async def test_data_lines_with_no_blank_line_are_one_event_and_capped(fault_server: LoopbackServer) -> None:
    fault_server.route(OPENAI_PATH, _many_data_lines())
    end = stopped(await turn(fault_server, line_bytes=128 * 1024), "line_bytes")
    assert end.bounds["bytes_received"] < 4 * MB


def _many_data_lines() -> Any:
    from tests.servers.loopback import Reply

    line = b"data: " + b"b" * 1000 + b"\n"
    return lambda request: Reply(chunks=[line * 64] * 700)  # ~45 MB in one event that never ends


async def test_an_ndjson_line_that_never_ends_is_capped(fault_server: LoopbackServer) -> None:
    fault_server.route("/gen", endless_line(upto=40 * MB, opening=b'{"text": "', content_type="application/x-ndjson"))
    spec = TargetSpec(kind="http", base_url=fault_server.url, http=HttpShape(path="/gen", stream=True),
                      limits=Limits(line_bytes=200_000))
    target = make_target(spec)
    try:
        record = await run_turn(target, chat("hello"))
    finally:
        await target.aclose()
    stopped(record, "line_bytes")


async def test_no_compression_is_offered_and_a_gzip_bomb_is_stopped(fault_server: LoopbackServer) -> None:
    script, wire = gzip_bomb(64 * MB)
    fault_server.route(OPENAI_PATH, script)
    record = await turn(fault_server)
    end = stopped(record, "compression_ratio")
    assert fault_server.requests_to(OPENAI_PATH)[0].headers["accept-encoding"] == "identity"
    assert len(record.text) < 4 * MB and end.bounds["bytes_received"] <= wire


async def test_the_unpacked_size_has_its_own_cap(fault_server: LoopbackServer) -> None:
    script, _ = gzip_bomb(64 * MB)
    fault_server.route(OPENAI_PATH, script)
    end = stopped(await turn(fault_server, compression_ratio=100_000, decompressed_bytes=3 * MB),
                  "decompressed_bytes")
    assert "limits.decompressed_bytes" in end.detail


async def test_an_honest_gzip_body_still_reads_exactly(fault_server: LoopbackServer) -> None:
    import gzip

    plain = openai_stream(["héllo ", "wörld"])
    body = gzip.compress(b"".join(plain.chunks))
    from tests.servers.loopback import Reply

    fault_server.route(OPENAI_PATH, Reply(chunks=[body[:7], body[7:]], headers=[("Content-Encoding", "gzip")]))
    record = await turn(fault_server)
    assert isinstance(record.end, TurnCompleted) and record.text == "héllo wörld"


async def test_every_turn_records_its_limits_bytes_and_digest(fault_server: LoopbackServer) -> None:
    reply = openai_stream(["all ", "good"])
    fault_server.route(OPENAI_PATH, reply)
    record = await turn(fault_server, text_bytes=5000)
    end = record.end
    assert isinstance(end, TurnCompleted) and end.bounds is not None
    body = b"".join(reply.chunks)
    assert end.bounds["bytes_received"] == len(body)
    assert end.bounds["raw_sha256"] == hashlib.sha256(body).hexdigest()
    assert end.bounds["stopped_by"] == "" and end.bounds["limits"]["text_bytes"] == 5000
    assert end.bounds["limits"]["line_bytes"] == Limits().line_bytes


def test_limits_in_the_engagement_file_are_checked_and_part_of_the_system_as_tested(tmp_path: Any) -> None:
    import pytest
    import yaml

    from app.engagements import load_engagement_file
    from app.errors import FileFormatError
    from app.resources import assets_dir
    from app.system_config import system_snapshot

    example = assets_dir() / "examples" / "acme-2026.yaml"
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    data["scenario_paths"] = [str(example.parent / p) for p in data["scenario_paths"]]
    data["systems"][0]["target"]["limits"] = {"text_bytes": 0, "line_bites": 5}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        load_engagement_file(bad)
    shown = "\n".join(str(p) for p in caught.value.problems)
    assert "limits.text_bytes" in shown and "limits.line_bites" in shown

    data["systems"][0]["target"]["limits"] = {"text_bytes": 2_000_000}
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(data), encoding="utf-8")
    spec = load_engagement_file(good)
    first, second = spec.systems[0], spec.systems[1]
    assert first.target.limits is not None and first.target.limits.text_bytes == 2_000_000
    assert second.target.limits is None  # the defaults stay out of a system's stored configuration

    class Row:  # an AISystem row as the importer stores it
        def __init__(self, system: Any) -> None:
            self.name, self.in_scope, self.models = system.name, system.in_scope, system.models
            self.target = system.target.model_dump(mode="json", exclude_none=True)

    assert system_snapshot(Row(first))["target"]["limits"]["text_bytes"] == 2_000_000
    assert "limits" not in system_snapshot(Row(second))["target"]


async def test_a_single_request_records_its_bounds_too(fault_server: LoopbackServer) -> None:
    from tests.servers.loopback import json_reply

    reply = json_reply({"deleted": True})
    fault_server.route("/v1/forget", reply)
    spec = TargetSpec(kind="openai", base_url=fault_server.url + "/v1", model="m", limits=Limits(raw_bytes=4096))
    target = make_target(spec)
    try:
        result = await target.request("DELETE", "/forget")
    finally:
        await target.aclose()
    body = b"".join(reply.chunks)
    assert result.bounds["bytes_received"] == len(body) and result.bounds["limits"]["raw_bytes"] == 4096
    assert result.bounds["raw_sha256"] == hashlib.sha256(body).hexdigest()
