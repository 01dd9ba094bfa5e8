"""The chunk-template fast path reads exactly what the full JSON parser reads, and refuses what it refuses."""

from __future__ import annotations

import json

import pytest

from app.targets.common import TargetFault
from app.targets.decoder import ChunkTemplate
from app.targets.openai import OpenAIDecoder

HEAD = b'{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m-1","system_fingerprint":"fp_1",' \
       b'"choices":[{"index":0,"delta":{"content":'
TAIL = b'},"finish_reason":null}]}'

TRICKY = [
    "plain", 'a "quoted" word', "back\\slash", "line\nbreak\r\n", "tab\there", "\x00nul and \x1b[31mESC",
    "ünïcödé 漢字 🙂", "\u2028\u2029", "\u202eRLO", "[bold]x[/bold]", "x" * 5000, " ", "\ud83d\ude42 pair",
]


def chunk(literal: bytes) -> bytes:
    return HEAD + literal + TAIL


def learned() -> OpenAIDecoder:
    decoder = OpenAIDecoder()
    assert decoder.event(None, chunk(b'"Hello"')) == "Hello"  # fully parsed; the template is learned
    return decoder


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_fast_path_equals_the_full_parser(text: str, ascii_only: bool) -> None:
    if not ascii_only and "\ud83d" in text:
        pytest.skip("lone surrogates have no UTF-8 form; only their escaped JSON form exists")
    data = chunk(json.dumps(text, ensure_ascii=ascii_only).encode("utf-8"))
    decoder = learned()
    assert decoder._template.text(data) is not None  # the fast path took it
    assert decoder.event(None, data) == OpenAIDecoder().event(None, data) == json.loads(data)["choices"][0]["delta"]["content"]


@pytest.mark.parametrize("literal", [
    b'"raw \x01 control"', b'"unescaped " quote"', b'"bad \\x escape"', b'"\xff\xfe not utf-8"',
    b'"cut \\u12"', b'"no closing quote', b'42', b'"a" , "b"',
])
def test_a_bad_literal_that_fits_the_template_is_still_malformed(literal: bytes) -> None:
    decoder = learned()
    assert decoder._template.text(chunk(literal)) is None
    with pytest.raises(TargetFault) as fault:
        decoder.event(None, chunk(literal))
    assert fault.value.error_type == "malformed"


def test_other_shapes_still_take_the_full_path() -> None:
    decoder = learned()
    usage = b'{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m-1","choices":[],' \
            b'"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    assert decoder.event(None, usage) is None and decoder.usage == {"prompt_tokens": 1, "completion_tokens": 2,
                                                                    "total_tokens": 3}
    with pytest.raises(TargetFault) as fault:
        decoder.event(None, b'{"error":{"message":"overloaded"}}')
    assert fault.value.error_type == "stream_error"
    assert decoder.event(None, b"[DONE]") is None and decoder.done


def test_an_ambiguous_key_teaches_nothing() -> None:
    template = ChunkTemplate(b'"content":')
    data = b'{"a":{"content":"x"},"content":"x"}'
    template.learn(data, "x")
    assert template.text(data) is None


# -- runs: many framed chunks read at once ---------------------------------------------------

def framed(*literals: bytes) -> bytes:
    return b"".join(b"data: " + chunk(literal) + b"\n\n" for literal in literals)


def per_chunk(literals: list[bytes]) -> tuple[str, int]:
    """What the one-chunk-at-a-time path makes of the same chunks."""
    decoder = learned()
    texts = [decoder.event(None, chunk(literal)) for literal in literals]
    return "".join(t for t in texts if t), sum(1 for t in texts if t)


@pytest.mark.parametrize("ascii_only", [True, False])
def test_a_run_reads_what_the_chunks_read_one_by_one(ascii_only: bool) -> None:
    texts = [t for t in TRICKY if ascii_only or "\ud83d" not in t] + ["", "tail"]
    literals = [json.dumps(t, ensure_ascii=ascii_only).encode("utf-8") for t in texts]
    read = learned().run(framed(*literals))
    assert read is not None
    assert read == per_chunk(literals)
    assert read[0] == "".join(json.loads(literal) for literal in literals)
    assert read[1] == len(texts) - 1  # the empty delta carried no text


def test_a_surrogate_pair_split_over_two_chunks_stays_two_lone_halves() -> None:
    literals = [b'"\\ud83d"', b'"\\ude42"']
    read = learned().run(framed(*literals))
    assert read == per_chunk(literals) == ("\ud83d\ude42", 2)


@pytest.mark.parametrize("block", [
    framed(b'"a"', b'"raw \x01 control"'),
    framed(b'"a"', b'"bad \\x escape"'),
    framed(b'"a"', b'"\xff\xfe not utf-8"'),
    framed(b'"caf\xc3', b'\xa9"'),  # one character cut between two chunks: neither chunk is UTF-8
    framed(b'"a"') + b": keep-alive\n\n" + framed(b'"b"'),
    framed(b'"a"') + b"data: [DONE]\n\n",
    framed(b'"a"') + b"event: x\n" + framed(b'"b"'),
    framed(b'"a"', b'"b"')[:-1],  # the last event not yet ended
    framed(b'"a"').replace(b"data: ", b"data:"),
    b"",
])
def test_a_run_with_anything_else_in_it_is_left_to_the_framer(block: bytes) -> None:
    assert learned().run(block) is None


def test_nothing_is_read_as_a_run_before_a_template_is_learned() -> None:
    assert OpenAIDecoder().run(framed(b'"a"')) is None


def test_a_character_cut_between_chunks_is_still_malformed_on_the_full_path() -> None:
    decoder = learned()
    with pytest.raises(TargetFault):
        decoder.event(None, chunk(b'"caf\xc3'))
