"""Reading one API's stream: the :class:`Decoder` contract and the strict chunk parser.

A decoder turns framed events (SSE events or NDJSON lines) into response text
and the facts the endpoint reported about itself. It raises
:class:`~app.targets.common.TargetFault` for an error payload or a chunk it
cannot read; the shared loop in :mod:`app.targets.adapter` does the rest.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from app.targets.base import ResponseMeta
from app.targets.common import TargetFault

# The C scanner behind json.loads, called directly: per chunk it halves the
# parse overhead (no encoding sniffing, no wrapper calls) with the same strictness.
_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # C scanner; typeshed omits it


def load_chunk(data: bytes) -> dict[str, Any]:
    """One JSON object from the stream; anything else is a malformed chunk."""
    try:
        text = data.decode("utf-8")
        value, end = _scan_once(text, 0)
        if end != len(text) and text[end:].strip():
            raise ValueError("extra data after the JSON value")
    except StopIteration:  # the scanner's "no value here", e.g. leading whitespace: the full parser decides
        try:
            value = json.loads(data)
        except ValueError:
            raise TargetFault("malformed", f"unparseable chunk: {data[:80]!r}") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise TargetFault("malformed", f"unparseable chunk: {data[:80]!r}") from None
    if type(value) is not dict:
        raise TargetFault("malformed", f"chunk is not a JSON object: {data[:80]!r}")
    return value


def payload_message(error: Any) -> str:
    """The message of an error payload found inside a stream (a string, or an object with one)."""
    if isinstance(error, dict):
        for key in ("message", "type", "code"):
            if error.get(key):
                return str(error[key])
        return json.dumps(error, ensure_ascii=False)
    return str(error)


class Decoder:
    """Turns one attempt's response into text; a fresh instance per attempt.

    ``event`` returns the text a framed event carries (or None) and raises
    :class:`TargetFault` for an error payload or a chunk it cannot read.
    """

    framing: str = "sse"  # "sse" | "ndjson" | "json" (one JSON body)
    end_marker: ClassVar[str] = ""  # what a complete stream ends with, for the truncation message
    reads_runs: ClassVar[bool] = False  # True when :meth:`run` can read whole framed events at once

    def __init__(self) -> None:
        self.done = False
        self.model_id: str | None = None
        self.system_fingerprint: str | None = None
        self.usage: dict[str, Any] | None = None

    def event(self, name: bytes | None, data: bytes) -> str | None:
        raise NotImplementedError

    def run(self, block: bytes) -> tuple[str, int] | None:
        """Text read straight from whole framed events (see :meth:`ChunkTemplate.run`), or None.

        None means "frame these bytes and call :meth:`event` for each", which is
        always correct; a decoder offers runs only as a faster way to the same text.
        """
        return None

    def whole(self, body: bytes) -> str | None:
        """A complete, non-streamed JSON body (some servers ignore ``stream: true``)."""
        raise TargetFault("malformed", "expected a stream, got a single JSON body")

    def finish(self) -> None:
        """At the end of the body: a stream that stopped before its end marker is truncation evidence."""
        if self.end_marker and not self.done:
            raise TargetFault("stream_error", f"stream ended without {self.end_marker}")

    def meta(self, http_status: int) -> ResponseMeta | None:
        if self.model_id is None and self.system_fingerprint is None and self.usage is None:
            return None
        return ResponseMeta(http_status=http_status, model_id=self.model_id,
                            system_fingerprint=self.system_fingerprint, usage=self.usage)


_NEEDS_SCAN = re.compile(rb'["\\\x00-\x1f]')
# A JSON string literal's body: no quote, backslash or control character unescaped,
# and only the escapes JSON defines.
_LITERAL_BODY = rb'(?:[^"\\\x00-\x1f]++|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+'
  # in a string literal's body: needs the full JSON scanner
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]  # C scanner; typeshed omits it


class ChunkTemplate:
    """A fast path for streams whose chunks differ only in one text field.

    OpenAI-style streams repeat the same bytes around each delta (id, model,
    fingerprint, indexes). After one chunk has been fully parsed, the bytes
    before and after its text literal are the template; a later chunk that is
    exactly ``prefix + <valid JSON string literal> + suffix`` is valid JSON of the
    same shape, so its text is read without building any dicts. Anything else
    (errors, usage, other shapes, a bad literal) falls back to the full parser,
    which keeps every strictness rule.
    """

    __slots__ = ("_key", "_prefix", "_suffix", "_tries", "_envelope", "_run", "_fixed")

    def __init__(self, key: bytes, envelope: tuple[bytes, bytes] = (b"data: ", b"\n\n")) -> None:
        self._key = key  # e.g. b'"content":'
        self._prefix = b""
        self._suffix = b""
        self._tries = 3  # chunks to learn from before giving up on a stream whose shape keeps changing
        self._envelope = envelope  # the framing around one chunk in a run of them (SSE: "data: " ... blank line)
        self._run: re.Pattern[bytes] | None = None  # one framed chunk, its literal's body captured
        self._fixed = 0  # a framed chunk's length less its literal's body

    def text(self, data: bytes) -> str | None:
        """The text of ``data`` if it fits the template, else None (parse it fully)."""
        prefix, suffix = self._prefix, self._suffix
        if not prefix or not data.startswith(prefix) or not data.endswith(suffix):
            return None
        start, stop = len(prefix), len(data) - len(suffix)
        if stop - start < 2 or data[start] != 34 or data[stop - 1] != 34:  # 34 is '"'
            return None
        body = data[start + 1:stop - 1]
        if _NEEDS_SCAN.search(body) is None:
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                return None
        try:
            literal = data[start:stop].decode("utf-8")
            value, end = _scanstring(literal, 1, True)
        except (UnicodeDecodeError, ValueError):
            return None
        return value if end == len(literal) else None

    def learn(self, data: bytes, value: str) -> None:
        """Take the template from a fully parsed chunk whose text field held ``value``.

        Only when the key occurs exactly once and its literal decodes to ``value``,
        so the template's hole is certainly that field.
        """
        if self._prefix or self._tries <= 0:
            return
        self._tries -= 1
        text = data.decode("utf-8")
        key = self._key.decode()
        at = text.find(key)
        if at < 0 or text.find(key, at + 1) >= 0:
            return
        start = at + len(key)
        if not text.startswith('"', start):
            return
        try:
            found, end = _scanstring(text, start + 1, True)
        except ValueError:
            return
        if found == value:
            self._prefix, self._suffix = text[:start].encode("utf-8"), text[end:].encode("utf-8")
            before = self._envelope[0] + self._prefix
            after = self._suffix + self._envelope[1]
            self._run = re.compile(re.escape(before) + b'"(' + _LITERAL_BODY + b')"' + re.escape(after))
            self._fixed = len(before) + len(after) + 2

    def run(self, block: bytes) -> tuple[str, int] | None:
        """The text of a run of whole framed chunks that all fit the template, and how many carried text.

        None unless every byte of ``block`` belongs to such a chunk: one other
        event, a comment or a bad literal anywhere sends the whole block through
        the framer and the full parser instead. Matches never overlap, so their
        lengths summing to the block's length means they tile it.
        """
        pattern = self._run
        if pattern is None:
            return None
        literals = pattern.findall(block)
        if not literals or len(literals) * self._fixed + sum(map(len, literals)) != len(block):
            return None
        joined = b"".join(literals)
        if joined.isascii() and b"\\" not in joined:
            text = joined.decode("ascii")
        else:
            # Escapes or non-ASCII: decode each literal on its own, as the per-chunk
            # path does, so a character split across chunks or a lone surrogate
            # escape is refused or kept exactly as that path would.
            try:
                text = "".join(_scan_once((b'["' + b'","'.join(literals) + b'"]').decode("utf-8"), 0)[0])
            except (UnicodeDecodeError, ValueError, StopIteration):
                return None
        return text, len(literals) - literals.count(b"")
