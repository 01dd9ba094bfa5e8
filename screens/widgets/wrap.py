"""Wrapping untrusted text for the transcript, and the map from what is shown back to what was sent.

Greedy word wrap by terminal cells, returned as ``(start, end)`` offsets so a
selection can be painted and mapped back; wrapping again from any row's start
reproduces the rows after it, which lets a streaming turn re-wrap only its last
row. What is shown is :func:`app.text.for_terminal` of the raw text (tabs as
spaces); :func:`display_text` also returns where each shown character came from,
as a sparse :class:`app.text.OffsetMap` (a few bytes, whatever the length).
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import get_character_cell_size

from app.text import OffsetMap, for_terminal_mapped

TAB = "    "


def wrap_spans(text: str, width: int, start: int = 0) -> list[tuple[int, int]]:
    """Greedy word wrap of ``text[start:]`` into ``(start, end)`` rows of at most ``width`` cells.

    Newlines end a row (they belong to no row); a break at a space drops that
    space; a word longer than a row is cut. Wrapping again from any row's start
    reproduces the rows after it, which is what lets streaming re-wrap only the
    last row.
    """
    return list(wrap_iter(text, width, start))


def wrap_iter(text: str, width: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """:func:`wrap_spans` one row at a time, for storing a long text's rows without a list of them."""
    width = max(1, width)
    i, n = start, len(text)
    while True:
        newline = text.find("\n", i)
        stop = n if newline < 0 else newline
        while True:
            end, resume = _fit(text, i, stop, width)
            yield i, end
            if resume >= stop:
                break
            i = resume
        if newline < 0:
            return
        i = newline + 1


def _fit(text: str, i: int, stop: int, width: int) -> tuple[int, int]:
    """Where the row starting at ``i`` ends, and where the next one starts."""
    piece = text[i:i + width + 1]
    if piece.isascii():  # the common case: one cell per character
        if stop - i <= width:
            return stop, stop
        over = i + width
    else:
        cells, over = 0, i
        while over < stop:
            cells += get_character_cell_size(text[over])
            if cells > width:
                break
            over += 1
        if over >= stop:
            return stop, stop
        if over == i:  # one character wider than the row: it gets a row of its own
            return i + 1, i + 1
    if text[over] == " ":
        return over, over + 1
    space = text.rfind(" ", i, over)
    if space > i:
        return space, space + 1
    return over, over


def display_text(raw: str) -> tuple[str, OffsetMap]:
    """What the terminal shows for ``raw`` (tabs as spaces) and the raw index behind each shown character."""
    return for_terminal_mapped(raw, TAB)


def safe_chunk(chunk: str) -> str:
    """One streamed chunk made safe on its own (an escape split across chunks is shown inert, never obeyed)."""
    return for_terminal_mapped(chunk, TAB)[0]
