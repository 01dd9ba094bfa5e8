"""Compact storage for what the transcript draws: wrapped rows as two int arrays, streamed text as blocks.

A 10 MB reply wraps into some 140,000 rows; as a list of tuples that is about
200 bytes a row (more than the text itself), and growing a string by each
streamed batch copies all that came before it. These two keep 8 bytes a row,
and append without copying what is already there.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import overload

_INDEX = "i" if array("i").itemsize == 4 else "l"


class RowSpans:
    """``(start, end)`` offsets of wrapped rows, in order; indexed and sized like a list of pairs."""

    __slots__ = ("starts", "ends")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self.starts, self.ends = array(_INDEX), array(_INDEX)
        self.extend(spans)

    def extend(self, spans: Iterable[tuple[int, int]]) -> None:
        for start, end in spans:
            self.starts.append(start)
            self.ends.append(end)

    def replace_from(self, index: int, spans: Iterable[tuple[int, int]]) -> None:
        """Drop the rows from ``index`` on and add ``spans`` (a streaming turn re-wraps its last row)."""
        del self.starts[index:], self.ends[index:]
        self.extend(spans)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> tuple[int, int]:
        return self.starts[index], self.ends[index]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends, strict=True)

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (RowSpans, list)) else NotImplemented

    def row_of(self, offset: int) -> int:
        """The row holding text offset ``offset`` (the last row for an offset past the end)."""
        row = bisect_right(self.starts, offset) - 1
        return max(0, min(row, len(self) - 1))


class GrowingText:
    """Append-only text: full blocks stay as they are, so an append never copies what came before it.

    Slicing and indexing read like a ``str``; the open tail is joined only when
    read (at most once per repaint while a turn streams).
    """

    BLOCK = 1 << 16

    def __init__(self, text: str = "") -> None:
        self._blocks: list[str] = []
        self._starts: list[int] = []
        self._tail: list[str] = []
        self._tail_length = 0
        self._length = 0
        if text:
            self.append(text)

    def append(self, text: str) -> None:
        if not text:
            return
        self._tail.append(text)
        self._tail_length += len(text)
        self._length += len(text)
        if self._tail_length >= self.BLOCK:
            self._seal()

    def _seal(self) -> None:
        if self._tail:
            self._starts.append(self._length - self._tail_length)
            self._blocks.append("".join(self._tail))
            self._tail, self._tail_length = [], 0

    def __len__(self) -> int:
        return self._length

    def __str__(self) -> str:
        self._seal()
        if len(self._blocks) > 1:
            self._blocks, self._starts = ["".join(self._blocks)], [0]
        return self._blocks[0] if self._blocks else ""

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> str: ...

    def __getitem__(self, index: int | slice) -> str:
        if isinstance(index, int):
            if index < 0:
                index += self._length
            if not 0 <= index < self._length:
                raise IndexError(index)
            return self._slice(index, index + 1)
        start, stop, step = index.indices(self._length)
        assert step == 1, "rows are read forward"
        return self._slice(start, stop) if stop > start else ""

    def _slice(self, start: int, stop: int) -> str:
        if self._tail and stop > self._length - self._tail_length:
            self._seal()  # reading the open tail: it becomes a block (a few per second while streaming)
        block = bisect_right(self._starts, start) - 1
        out: list[str] = []
        while start < stop:
            base = self._starts[block]
            piece = self._blocks[block][start - base:stop - base]
            out.append(piece)
            start += len(piece)
            block += 1
        return "".join(out)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (GrowingText, str)):
            return len(self) == len(other) and str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))
