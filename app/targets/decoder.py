"""Reading one API's stream: the :class:`Decoder` contract and the strict chunk parser.

A decoder turns framed events (SSE events or NDJSON lines) into response text
and the facts the endpoint reported about itself. It raises
:class:`~app.targets.common.TargetFault` for an error payload or a chunk it
cannot read; the shared loop in :mod:`app.targets.adapter` does the rest.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Optional

from app.targets.base import ResponseMeta
from app.targets.common import TargetFault

# The C scanner behind json.loads, called directly: per chunk it halves the
# parse overhead (no encoding sniffing, no wrapper calls) with the same strictness.
_scan_once = json.JSONDecoder().scan_once


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

    def __init__(self) -> None:
        self.done = False
        self.model_id: Optional[str] = None
        self.system_fingerprint: Optional[str] = None
        self.usage: Optional[dict[str, Any]] = None

    def event(self, name: Optional[bytes], data: bytes) -> Optional[str]:
        raise NotImplementedError

    def whole(self, body: bytes) -> Optional[str]:
        """A complete, non-streamed JSON body (some servers ignore ``stream: true``)."""
        raise TargetFault("malformed", "expected a stream, got a single JSON body")

    def finish(self) -> None:
        """At the end of the body: a stream that stopped before its end marker is truncation evidence."""
        if self.end_marker and not self.done:
            raise TargetFault("stream_error", f"stream ended without {self.end_marker}")

    def meta(self, http_status: int) -> Optional[ResponseMeta]:
        if self.model_id is None and self.system_fingerprint is None and self.usage is None:
            return None
        return ResponseMeta(http_status=http_status, model_id=self.model_id,
                            system_fingerprint=self.system_fingerprint, usage=self.usage)
