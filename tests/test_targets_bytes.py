"""Hostile text survives the trip byte for byte: every adapter, every split of the stream."""

from __future__ import annotations

import random
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from app.formats.engagement import HttpShape, TargetSpec
from app.targets.base import TurnCompleted
from app.targets.decoder import ChunkTemplate
from app.targets.factory import make_target
from tests.servers.loopback import Reply
from tests.servers.stream_server import (
    ANTHROPIC_PATH,
    OLLAMA_PATH,
    OPENAI_PATH,
    anthropic_events,
    chop,
    ndjson_lines,
    ollama_lines,
    openai_events,
    sse,
)
from tests.servers.turns import chat, run_turn

CONTROLS = "".join(chr(c) for c in range(0x20)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
HOSTILE = (
    "e\u0301 a\u0308\u0323 Z\u0351\u0362\u036a"  # combining marks
    + "👩🏽‍💻 🏳️‍🌈 🇺🇦 🙂"  # emoji with skin tone, ZWJ sequences, flags
    + "שלום עולם مرحبا \u202egnp.exe\u202c \u2066x\u2069"  # RTL text and bidi overrides
    + CONTROLS
    + "\x1b[31mred\x1b[0m \x1b]0;owned\x07 \x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\"  # ANSI, OSC
    + "[bold red]not markup[/] \ufeff\u200b\u2028\u2029 \\ \" '"
    + "\ndata: [DONE]\n\n{\"choices\":[]}\r\n"  # stream syntax inside the text is data
)


def hostile_text(seed: int = 11) -> str:
    rng = random.Random(seed)
    long_line = "".join(rng.choice("abcdéλ中🙂 \t") for _ in range(5000))
    return HOSTILE + long_line + "\n" + long_line[::-1] + HOSTILE * 3


def pieces_of(text: str, seed: int) -> list[str]:
    """The text cut into deltas at arbitrary code-point positions (even inside grapheme clusters)."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(text)), 120))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def openai_case(server: Any, texts: list[str]) -> tuple[TargetSpec, bytes]:
    return (TargetSpec(kind="openai", base_url=server.url + "/v1", model="m"),
            sse(openai_events(texts), crlf=True, comments=True))


def openai_lf_case(server: Any, texts: list[str]) -> tuple[TargetSpec, bytes]:
    """Plain LF framing and no comments: the decoder reads whole runs of chunks at once."""
    return TargetSpec(kind="openai", base_url=server.url + "/v1", model="m"), sse(openai_events(texts))


def anthropic_case(server: Any, texts: list[str]) -> tuple[TargetSpec, bytes]:
    return TargetSpec(kind="anthropic", base_url=server.url + "/v1", model="m"), sse(anthropic_events(texts))


def ollama_case(server: Any, texts: list[str]) -> tuple[TargetSpec, bytes]:
    return TargetSpec(kind="ollama", base_url=server.url, model="m"), ollama_lines(texts)


def http_case(server: Any, texts: list[str]) -> tuple[TargetSpec, bytes]:
    shape = HttpShape(path="/gen", response_path="out.0.t", stream=True)
    return TargetSpec(kind="http", base_url=server.url, http=shape), ndjson_lines(texts, "out.0.t")


CASES: dict[str, tuple[str, Callable[[Any, list[str]], tuple[TargetSpec, bytes]]]] = {
    "openai": (OPENAI_PATH, openai_case),
    "openai-lf": (OPENAI_PATH, openai_lf_case),
    "anthropic": (ANTHROPIC_PATH, anthropic_case),
    "ollama": (OLLAMA_PATH, ollama_case),
    "http": ("/gen", http_case),
}


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("split", ["random-cuts-paced", "tiny-sizes"])
async def test_hostile_text_assembles_exactly(stream_server, kind: str, split: str, monkeypatch) -> None:
    runs: list[int] = []
    read_run = ChunkTemplate.run

    def counted(self: ChunkTemplate, block: bytes) -> Any:
        read = read_run(self, block)
        runs.append(read is not None)
        return read

    monkeypatch.setattr(ChunkTemplate, "run", counted)
    original = hostile_text()
    path, build = CASES[kind]
    spec, body = build(stream_server, pieces_of(original, seed=len(kind)))
    if split == "random-cuts-paced":  # paced, so the client really reads these exact pieces
        reply = Reply(chunks=chop(body, 150, seed=len(kind)), delay=0.001)
    else:  # 1..13-byte writes: cuts inside UTF-8 sequences, escapes and CRLFs
        reply = Reply(chunks=chop(body, sizes=(1, 2, 3, 5, 8, 13)))
    stream_server.route(path, reply)
    target = make_target(spec)
    turn = await run_turn(target, chat("go"))
    await target.aclose()
    assert isinstance(turn.end, TurnCompleted), turn.end
    assert turn.text == original
    assert turn.text.encode("utf-8") == original.encode("utf-8")
    assert turn.raw == body  # the raw body, byte for byte
    if kind == "openai-lf":  # the run path really carried text (the CRLF case never takes it)
        assert sum(runs) > 0
