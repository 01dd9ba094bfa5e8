"""Property tests: hostile input meets the stream parsers, the file loaders and ``verify``.

Each property is bounded: a fixed number of examples of bounded size, drawn
deterministically (``derandomize``), with no example database written to the
checkout. They run in the normal suite.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from io import BytesIO
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.targets.anthropic import AnthropicDecoder
from app.targets.common import TargetFault
from app.targets.decoder import Decoder
from app.targets.http_json import HttpJsonDecoder
from app.targets.ollama import OllamaDecoder
from app.targets.openai import OpenAIDecoder
from app.targets.sse import NDJSONFramer, SSEFramer
from tests.servers.stream_server import anthropic_events, ollama_lines, openai_events, sse

BOUNDED = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

DECODERS: dict[str, Callable[[], Decoder]] = {
    "openai": OpenAIDecoder, "anthropic": AnthropicDecoder, "ollama": OllamaDecoder,
    "ndjson": lambda: HttpJsonDecoder("text", streamed=True),
}


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` split at ``points`` (taken modulo its length), as the network might deliver it."""
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(marks)]


def decode(decoder: Decoder, chunks: list[bytes]) -> str:
    """The adapter's read loop (app.targets.reading.read_stream) without the network: framing, runs, events."""
    framer = SSEFramer(cut_runs=decoder.reads_runs) if decoder.framing == "sse" else NDJSONFramer()
    texts: list[str] = []
    for chunk in chunks:
        if decoder.done:
            break
        run, events = framer.split(chunk)
        if run:
            read = decoder.run(run)
            if read is None:
                events = framer.feed(run)
            elif read[1]:
                texts.append(read[0])
        for name, data in events:
            text = decoder.event(name, data)
            if text:
                texts.append(text)
            if decoder.done:
                break
    if not decoder.done:
        for name, data in framer.flush():
            text = decoder.event(name, data)
            if text:
                texts.append(text)
        decoder.finish()
    return "".join(texts)


# Bytes that look like streams: SSE field names, JSON fragments, line endings, broken UTF-8.
_PIECES = st.sampled_from([b"data: ", b"data:", b"event: ", b": ping", b"\n", b"\r\n", b"\r", b"\n\n", b"{", b"}",
                           b'"content":', b'"text":', b'"choices":[{"delta":{', b'"done":true', b"[DONE]",
                           b'"type":"content_block_delta"', b'"delta":{"text":"', b"\xe2\x82", b"\xac", b"\\u00",
                           b'"', b"null", b"1e999", b"[", b"]", b","])
HOSTILE_BYTES = st.one_of(st.binary(max_size=600),
                          st.lists(st.one_of(_PIECES, st.binary(max_size=8)), max_size=80).map(b"".join))
SPLITS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@pytest.mark.parametrize("kind", sorted(DECODERS))
@BOUNDED
@given(data=HOSTILE_BYTES, points=SPLITS)
def test_stream_parsers_raise_only_their_typed_fault_on_any_bytes(kind: str, data: bytes, points: list[int]) -> None:
    try:
        decode(DECODERS[kind](), cut(data, points))
    except TargetFault as fault:
        assert fault.error_type in ("malformed", "stream_error", "model_error", "server_error", "rate_limited",
                                    "refused", "content_filter", "auth", "timeout"), fault.error_type


TEXTS = st.lists(st.text(max_size=12), min_size=1, max_size=12)


def _stream(kind: str, texts: list[str]) -> bytes:
    if kind == "openai":
        return sse(openai_events(texts))
    if kind == "anthropic":
        return sse(anthropic_events(texts))
    return ollama_lines(texts)


@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
@BOUNDED
@given(texts=TEXTS, points=SPLITS)
def test_a_real_stream_gives_the_same_text_however_it_is_split(kind: str, texts: list[str],
                                                              points: list[int]) -> None:
    """Any text a model could send (surrogates aside) assembles exactly, whatever the network's cuts."""
    data = _stream(kind, texts)
    assert decode(DECODERS[kind](), cut(data, points)) == "".join(texts)


# ------------------------------------------------------------------ loaders


YAML_PIECES = st.sampled_from(["id: x\n", "turns:\n", "  - user: hi\n", "- ", "[", "]", "{", "}", ": ", "&a ", "*a ",
                               "<<: *a\n", "!!python/object:os.system ", "\"\\x1b\"", "'", "\"", "\t", "\x1b", "\x00",
                               "\ufeff", "---\n", "...\n", "? ", "|\n", ">-\n", "#", "\r\n", "%YAML 1.2\n", "\u202e",
                               "detectors: [{type: regex, pattern: '(a+)+$'}]\n", "systems:\n", "name: acme\n"])
HOSTILE_YAML = st.one_of(st.text(max_size=400), st.lists(YAML_PIECES, max_size=60).map("".join),
                         st.binary(max_size=300).map(lambda b: b.decode("latin-1")))


@pytest.mark.parametrize("kind", ["scenario", "engagement"])
@BOUNDED
@given(text=HOSTILE_YAML)
def test_loaders_return_an_object_or_a_located_error_never_a_traceback(kind: str, text: str,
                                                                       tmp_path_factory: Any) -> None:
    from app.engagements import load_engagement_file
    from app.errors import FileFormatError
    from app.formats.scenario_files import load_scenarios

    path = tmp_path_factory.mktemp("yaml") / "input.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        result = load_scenarios([path]) if kind == "scenario" else load_engagement_file(path)
    except FileFormatError as exc:
        assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)
        assert all(isinstance(p.message, str) and p.message for p in exc.problems)
    else:
        assert result is not None


# ------------------------------------------------------------------ verify


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: Any) -> bytes:
    """One real exported bundle's bytes (the engagement of tests/test_evidence_engagement.py)."""
    from test_evidence_engagement import build_engagement, export

    from app.store.engine import dispose_all

    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("REDLINE_HOME", str(home))
    dispose_all()
    try:
        world = build_engagement()
        out = tmp_path_factory.mktemp("bundle") / "bundle.zip"
        export(world.engagement_id, out)
        return out.read_bytes()
    finally:
        dispose_all()
        mp.undo()


def _entries(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return [(info.filename, archive.read(info.filename)) for info in archive.infolist()]


MUTATION = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 200)),
    st.tuples(st.just("rename"), st.integers(0, 200),
              st.sampled_from(["../x", "/abs", "a\\b", "manifest.json", "", "audit/events.jsonl", "dir/", "\x1b[2J"])),
    st.tuples(st.just("replace"), st.integers(0, 200), st.binary(max_size=200)),
    st.tuples(st.just("flip"), st.integers(0, 10_000_000), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000_000)),
    st.tuples(st.just("symlink"), st.integers(0, 200)),
    st.tuples(st.just("nest"), st.integers(0, 200), st.integers(1, 5000)),
)


def _mutate(original: bytes, mutations: list[tuple[Any, ...]]) -> bytes:
    """The real bundle with entries dropped, renamed, replaced or turned into links, then raw bytes broken."""
    items = [[name, data, 0o100644] for name, data in _entries(original)]
    raw_edits = []
    for mutation in mutations:
        op, index = mutation[0], mutation[1]
        if op in ("flip", "truncate"):
            raw_edits.append(mutation)
            continue
        if not items:
            continue
        item = items[index % len(items)]
        if op == "drop":
            items.remove(item)
        elif op == "rename":
            item[0] = mutation[2]
        elif op == "replace":
            item[1] = mutation[2]
        elif op == "nest":  # JSON nested ``depth`` deep, valid or not
            item[1] = b'{"files": ' + b"[" * mutation[2] + b"]" * mutation[2] + b"}"
        else:
            item[2] = 0o120777
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data, mode in items:
            info = zipfile.ZipInfo(name or "unnamed")
            info.create_system, info.external_attr = 3, mode << 16
            out.writestr(info, data)
    data = bytearray(buffer.getvalue())
    for edit in raw_edits:
        if not data:
            break
        if edit[0] == "flip":
            data[edit[1] % len(data)] ^= edit[2]
        else:
            del data[edit[1] % len(data):]
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@BOUNDED
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_verify_answers_0_1_or_2_with_a_message_on_any_zip_built_from_a_real_one(
        real_bundle: bytes, mutations: list[tuple[Any, ...]], tmp_path_factory: Any) -> None:
    import argparse
    import contextlib
    import io

    from app.commands.verify import run
    from app.errors import RedlineError

    path = tmp_path_factory.mktemp("verify") / "bundle.zip"
    path.write_bytes(_mutate(real_bundle, mutations))
    out = io.StringIO()
    args = argparse.Namespace(file=path, json=False, max_manifest_bytes=16 << 20, max_audit_line_bytes=8 << 20,
                              key=None)
    try:
        with contextlib.redirect_stdout(out):
            code = run(args)
    except RedlineError as exc:
        code, message = exc.exit_code, str(exc)
    else:
        message = out.getvalue()
    assert code in (0, 1, 2) and message.strip()
    if code == 0:
        assert message.startswith("OK: ")
