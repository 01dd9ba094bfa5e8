"""Framing a byte stream into lines, server-sent events, or NDJSON records.

The network splits a stream anywhere: inside a UTF-8 character, between the
``\\r`` and ``\\n`` of a CRLF, inside a 5,000-character line. Splitting on
newline *bytes* before decoding keeps multi-byte characters whole, and holding
a trailing ``\\r`` until the next chunk keeps CRLF one line ending.

Each ``feed`` takes one network read and returns every complete unit in it, so
the per-read cost is one call and the per-line cost is a few byte operations.

A line, and an event's data, are held only up to ``limit`` bytes: a line that
never ends raises a ``too_large`` fault (:func:`app.targets.bounds.limit_fault`)
instead of growing until the machine runs out of memory.
"""

from __future__ import annotations

from app.targets.bounds import limit_fault

Event = tuple[bytes | None, bytes]  # (event name or None, data)
RUN_LIMIT = 1024 * 1024  # an unfinished event held back for a run longer than this goes to the line framer


def line_fault(limit: int) -> Exception:
    return limit_fault("line_bytes", f"a line or event of the stream passed {limit} bytes without ending "
                                     "(limits.line_bytes)")


class LineSplitter:
    """Complete lines from arbitrarily split bytes; CRLF, LF and a lone CR each end a line."""

    __slots__ = ("_pending", "_size", "limit")

    def __init__(self, limit: int = 0) -> None:
        self._pending: list[bytes] = []  # an unfinished line, in pieces (avoids quadratic joins)
        self._size = 0  # bytes in _pending
        self.limit = limit  # longest unfinished line held, in bytes; 0: no limit

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.limit and self._size > self.limit:
            raise line_fault(self.limit)
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._pending.append(chunk)
                self._size += len(chunk)
                if self.limit and self._size > self.limit:
                    raise line_fault(self.limit)
            return []
        if self._pending:
            self._pending.append(chunk)
            data = b"".join(self._pending)
            self._pending = []
            self._size = 0
        else:
            data = chunk
        held = b""
        if b"\r" in data:
            if data.endswith(b"\r"):  # perhaps the first half of a CRLF split across reads
                data, held = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = data.split(b"\n")
        tail = lines.pop() + held
        if tail:  # one longer than the limit is refused at the next read, after this read's lines
            self._pending.append(tail)
            self._size = len(tail)
        return lines

    def flush(self) -> list[bytes]:
        """The last line when the stream ended without a line ending."""
        if not self._pending:
            return []
        if self.limit and self._size > self.limit:
            raise line_fault(self.limit)
        data = b"".join(self._pending)
        self._pending = []
        self._size = 0
        if data.endswith(b"\r"):
            data = data[:-1]
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")


class SSEFramer:
    """Server-sent events: ``event:`` names, ``data:`` lines joined by newlines, ``:`` comments skipped.

    One deliberate difference from the browser's rules: an event still open at
    the end of the stream (no blank line after it) is delivered, not dropped,
    because it is part of what the endpoint said.
    """

    __slots__ = ("_lines", "_name", "_data", "_size", "_cutting", "_held", "_run_limit")

    def __init__(self, *, cut_runs: bool = False, limit: int = 0) -> None:
        self._lines = LineSplitter(limit)
        self._name: bytes | None = None
        self._data: list[bytes] = []
        self._size = 0  # bytes in _data: an event's data is held only up to the limit too
        self._cutting = cut_runs  # see split()
        self._held = b""  # while cutting: the unfinished event after the last blank line
        self._run_limit = min(RUN_LIMIT, limit) if limit else RUN_LIMIT

    def feed(self, chunk: bytes) -> list[Event]:
        return self._frame(self._lines.feed(chunk))

    def split(self, chunk: bytes) -> tuple[bytes, list[Event]]:
        """One read as (whole events still in bytes, events framed here).

        While cutting runs, the first part is every event completed so far, up to
        and including its blank line, for a decoder that can read a run of events
        at once; it hands back to :meth:`feed` what it cannot read. A cut made
        right after a blank line leaves nothing pending in the framer, so either
        way gives exactly the same events. A CR (whose line endings a blank-line
        search would miss) or an event longer than ``RUN_LIMIT`` ends cutting for
        the rest of the stream.
        """
        if not self._cutting:
            return b"", self._frame(self._lines.feed(chunk))
        data = self._held + chunk if self._held else chunk
        if b"\r" in chunk:
            return b"", self._stop_cutting(data)
        end = data.rfind(b"\n\n")
        if end < 0:
            if len(data) > self._run_limit:
                return b"", self._stop_cutting(data)
            self._held = data
            return b"", []
        end += 2
        self._held = data[end:]
        return data[:end], []

    def _stop_cutting(self, data: bytes) -> list[Event]:
        """Frame ``data`` (what was held plus this read) by lines, and every later read too."""
        self._cutting, self._held = False, b""
        return self._frame(self._lines.feed(data))

    def flush(self) -> list[Event]:
        events = self._frame(self._lines.feed(self._held)) if self._held else []
        self._held = b""
        events += self._frame(self._lines.flush())
        if self._data:
            events.append(self._dispatch())
        return events

    def _dispatch(self) -> Event:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = (self._name, data)
        self._data = []
        self._size = 0
        self._name = None
        return event

    def _frame(self, lines: list[bytes]) -> list[Event]:
        limit = self._lines.limit
        if limit and self._size > limit:  # an event's data lines past the limit, with no blank line to end it
            raise line_fault(limit)
        events: list[Event] = []
        for line in lines:
            if line.startswith(b"data: "):  # the common case first
                self._data.append(line[6:])
                self._size += len(line)
            elif not line:
                if self._data:
                    events.append(self._dispatch())
                else:
                    self._name = None
            elif line[0] == 58:  # ":" comment, e.g. keep-alive pings
                continue
            else:
                name, _, value = line.partition(b":")
                if value.startswith(b" "):
                    value = value[1:]
                if name == b"data":
                    self._data.append(value)
                    self._size += len(value)
                elif name == b"event":
                    self._name = value
                # "id", "retry" and unknown fields carry nothing a turn needs
        return events


class NDJSONFramer:
    """Newline-delimited JSON: every non-blank line is one record."""

    __slots__ = ("_lines",)

    def __init__(self, *, limit: int = 0) -> None:
        self._lines = LineSplitter(limit)

    def feed(self, chunk: bytes) -> list[Event]:
        return [(None, line) for line in self._lines.feed(chunk) if line.strip()]

    def split(self, chunk: bytes) -> tuple[bytes, list[Event]]:
        """As :meth:`SSEFramer.split`; NDJSON records are never read as runs."""
        return b"", self.feed(chunk)

    def flush(self) -> list[Event]:
        return [(None, line) for line in self._lines.flush() if line.strip()]
