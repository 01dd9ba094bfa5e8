"""JSON string escapes undone, with a way back to where each character was written.

A body that is not streamed (a model listing, a raw ``http`` step, an error
message) is stored as the endpoint sent it, and JSON lets it spell any
character as ``\\uXXXX``: ``"sk-\\u0070roj-..."`` is a key that no search of
the text as written finds. The secret rules therefore also read the text with
its escapes undone (:func:`unescaped`) and map what they find there back to the
characters as written (:meth:`Unescaped.written`), so a detector quotes, and a
redaction replaces, the escaped spelling itself.

Only escapes are undone; nothing is parsed. There is no nesting to bound, the
work is one scan of the text, and a body cut off mid-document (at its size
limit) is read as far as it goes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(frozen=True)
class Unescaped:
    """``text`` with its escapes undone, and where each of its pieces was written.

    ``starts[i]`` is where piece ``i`` starts in ``text``; ``pieces[i]`` is (start as written,
    characters as written, whether it is one escape). A plain piece is as long as written; an
    escape wrote one character."""

    text: str
    starts: tuple[int, ...]
    pieces: tuple[tuple[int, int, bool], ...]

    def written(self, span: tuple[int, int]) -> tuple[int, int]:
        """The span of the text as written that spells ``text[start:end]``."""
        start, end = span
        return self._at(start)[0], self._at(max(start, end - 1))[1]

    def _at(self, index: int) -> tuple[int, int]:
        """Where the character at ``index`` of ``text`` was written: (start, end)."""
        piece = bisect_right(self.starts, index) - 1
        written, length, escape = self.pieces[piece]
        if escape:
            return written, written + length
        offset = written + index - self.starts[piece]
        return offset, offset + 1


def unescaped(text: str) -> Unescaped | None:
    """``text`` with its JSON string escapes undone, or None when it has none (the usual case)."""
    if "\\" not in text:
        return None
    parts: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, bool]] = []
    at = written = 0  # characters produced so far; position in the text as written
    found = False
    for match in _ESCAPE.finditer(text):
        start = match.start()
        if start > written:
            starts.append(at)
            pieces.append((written, start - written, False))
            parts.append(text[written:start])
            at += start - written
        hexa, simple = match.groups()
        if hexa is not None:
            char = chr(int(hexa, 16))
            end = match.end()
            if 0xD800 <= ord(char) <= 0xDBFF:  # a surrogate pair, written as two escapes, is one character
                low = _ESCAPE.match(text, end)
                if low is not None and low.group(1) is not None and 0xDC00 <= int(low.group(1), 16) <= 0xDFFF:
                    char = chr(0x10000 + ((ord(char) - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00))
                    end = low.end()
        else:
            char, end = _SIMPLE[simple], match.end()
        if end <= written:  # the low half of a pair already read
            continue
        starts.append(at)
        pieces.append((start, end - start, True))
        parts.append(char)
        at += 1
        written = end
        found = True
    if not found:
        return None
    if written < len(text):
        starts.append(at)
        pieces.append((written, len(text) - written, False))
        parts.append(text[written:])
    return Unescaped("".join(parts), tuple(starts), tuple(pieces))
