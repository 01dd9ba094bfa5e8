"""Making untrusted text safe, in one place, for every sink.

Model output, scenario text, file contents and error messages are hostile:
they may carry terminal escape sequences, Rich/Textual markup, bidi overrides,
HTML, or spreadsheet formulas. The store keeps the raw text; each sink calls
the one function here that fits it.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from typing import Any

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST),
# DCS/SOS/PM/APC (ESC P|X|^|_ ... ST), and two-byte escapes.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)?"
)
# Bidi embeddings, overrides and isolates (Trojan Source), shown rather than obeyed.
_BIDI = {
    "\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO",
    "\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI",
    "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM",
}


def for_terminal(text: str) -> str:
    """Text that is safe to draw: no escape sequences, no control characters, visible bidi marks.

    Tabs and newlines stay; ``\\r`` becomes nothing so a carriage return cannot
    overwrite what came before on a line. Markup safety is not handled here:
    callers must also render with ``Text``/``Content``/``markup=False``.
    """
    return for_terminal_mapped(text)[0]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet program would read this text as a formula (or the start of one) if untyped."""
    return text.startswith(_FORMULA_START)


def for_spreadsheet(value: Any) -> Any:
    """A CSV cell that no spreadsheet will evaluate: text starting with = + - @ tab or CR gets a leading quote.

    CSV cells carry no type, so the quote is the only defence there. An XLSX
    cell is typed instead (a string with Excel's quote-prefix style), which
    keeps the value exactly as recorded; see ``app.evidence.workpapers``.
    """
    if isinstance(value, str):
        if starts_like_formula(value):
            return "'" + value
        return value
    return value


def for_html(text: str) -> str:
    """HTML-escaped text (templates autoescape too; this is for code that builds markup by hand)."""
    from markupsafe import escape

    return str(escape(text))


def one_line(text: str, limit: int = 80) -> str:
    """A terminal-safe single-line preview, e.g. for a table cell."""
    flat = for_terminal(text).replace("\n", " ⏎ ").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def for_xml(text: str) -> str:
    """Text an XML 1.0 document can carry (e.g. a JUnit report); the XML writer still does the escaping.

    C0 controls become their visible control pictures, like :func:`for_terminal`;
    surrogates and the two non-characters become U+FFFD.
    """
    return _XML_INVALID.sub(
        lambda m: chr(0x2400 + ord(m.group())) if ord(m.group()) < 0x20 else "\ufffd", text
    )


# Controls shown as one picture each: C0 (but tab, newline, CR and ESC), DEL, and C1 (but CSI and OSC).
_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A, 0x0D, 0x1B)}
_PICTURES[0x7F] = "\u2421"  # ␡
_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0) if code not in (0x9B, 0x9D)})
_ONE_FOR_ONE = "".join(chr(code) for code in _PICTURES)
# Where the shown text can differ from the raw: a run of controls drawn one for one, or one character that may
# start an escape sequence, vanish (CR) or widen (a bidi mark; a tab when asked).
_SPECIAL = "\x1b\x9b\x9d\r" + "".join(_BIDI)
# One plain character class: the scan over text with nothing to escape is several times faster than an alternation.
_DIFFERS = re.compile(f"[{re.escape(_ONE_FOR_ONE + _SPECIAL)}]")
_DIFFERS_OR_TAB = re.compile(f"[{re.escape(_ONE_FOR_ONE + _SPECIAL)}\t]")
_RUN = re.compile(f"[{re.escape(_ONE_FOR_ONE)}]+")
_INTRODUCERS = "\x1b\x9b\x9d"
# Offsets as 32-bit ints: 8 bytes a piece. A bigger text than 2**31 characters is beyond every read limit.
_INDEX = "i" if array("i").itemsize == 4 else "l"


class OffsetMap:
    """Where each shown character came from in the raw text: ``where[i]`` is the raw index behind shown index ``i``.

    Stored sparsely, as the pieces where the offset changes (an escape sequence
    removed, a bidi mark or a tab widened), never one int per character: text
    with nothing to escape is one piece, and a 10 MB reply costs a few bytes.
    Indexing behaves as the list it replaces, one entry per shown character and
    a last one, ``len(raw)``, so an empty span at the end maps too.
    """

    __slots__ = ("_shown", "_raw", "length", "raw_length")

    def __init__(self, length: int, raw_length: int, shown: array | None = None,
                 raw: array | None = None) -> None:
        self.length, self.raw_length = length, raw_length
        # Piece k starts at shown index _shown[k]; _raw[k] >= 0: raw index there, counting up one per character;
        # _raw[k] < 0: every shown character of the piece shows the one raw character -(_raw[k] + 1).
        self._shown = shown if shown is not None else array(_INDEX, [0])
        self._raw = raw if raw is not None else array(_INDEX, [0])

    def __len__(self) -> int:
        return self.length + 1

    def __getitem__(self, index: int) -> int:
        if index < 0:
            index += self.length + 1
        if not 0 <= index <= self.length:
            raise IndexError(index)
        if index == self.length:
            return self.raw_length
        piece = bisect_right(self._shown, index) - 1
        raw = self._raw[piece]
        return -raw - 1 if raw < 0 else raw + index - self._shown[piece]

    def shown_index(self, raw: int) -> int:
        """The first shown index whose raw index is ``raw`` or more (``len(shown)`` if none)."""
        low, high = 0, self.length
        while low < high:
            middle = (low + high) // 2
            if self[middle] < raw:
                low = middle + 1
            else:
                high = middle
        return low

    @property
    def pieces(self) -> int:
        return len(self._shown)


def for_terminal_mapped(text: str, tabs: str | None = None) -> tuple[str, OffsetMap]:
    """:func:`for_terminal` (tabs as ``tabs`` if given) plus the :class:`OffsetMap` back to ``text``.

    Each shown character comes from exactly one input character, so a span
    ``[i, j)`` of the safe text maps back to ``[where[i], where[j - 1] + 1)`` of
    the raw text (the escape sequences around it stay out): a tester selects what
    the terminal shows, and the evidence quotes what the model sent.

    Linear in the text and lazy about it: text with nothing to escape is
    returned as is (no copy) after one regular-expression scan, and the work is
    per escaped run, not per character. :class:`SafeText` does the same in steps.
    """
    prepared = SafeText(text, tabs)
    prepared.advance(len(text))
    return prepared.result()


class SafeText:
    """:func:`for_terminal_mapped` in steps, for a text too long to prepare in one go on a UI loop.

    :meth:`advance` prepares the raw text up to a given index (an escape
    sequence that crosses it is taken whole) and returns the shown text it
    adds; what it returns, joined, is exactly what the one-go preparation
    shows, wherever the steps fall. Each step scans only its own stretch.
    """

    def __init__(self, text: str, tabs: str | None = None) -> None:
        self.text, self.tabs = text, tabs
        self.position = 0  # raw text prepared up to here
        self.shown_length = 0
        self._differs = _DIFFERS_OR_TAB if tabs is not None else _DIFFERS
        self._pieces: list[str] = []
        self._changed = False  # while False, the shown text is the raw text itself
        self._shown_at, self._raw_at = array(_INDEX, [0]), array(_INDEX, [0])

    @property
    def done(self) -> bool:
        return self.position >= len(self.text)

    def _piece(self, shown_start: int, raw_start: int) -> None:
        self._changed = True
        if self._shown_at[-1] == shown_start:  # the piece before it is empty: replace it
            self._raw_at[-1] = raw_start
        else:
            self._shown_at.append(shown_start)
            self._raw_at.append(raw_start)

    def advance(self, stop: int) -> str:
        """Prepare the raw text up to ``stop`` at least; returns the shown text this step adds."""
        text, differs, tabs = self.text, self._differs, self.tabs
        stop = min(stop, len(text))
        out: list[str] = []
        position, shown = self.position, self.shown_length
        while position < stop:
            found = differs.search(text, position, stop)  # a match can only start at one of these characters
            if found is None:
                out.append(text[position:stop])
                shown += stop - position
                position = stop
                break
            start = found.start()
            if start > position:
                out.append(text[position:start])
                shown += start - position
            char = text[start]
            end = start + 1
            if char in _ONE_FOR_ONE:  # a run drawn one picture per control: the offset stands
                end = _RUN.match(text, start, stop).end()  # type: ignore[union-attr]
                out.append(text[start:end].translate(_PICTURES))
                shown += end - start
                self._changed = True
            else:
                sequence = _ESCAPE_SEQUENCE.match(text, start) if char in _INTRODUCERS else None
                if sequence is not None or char == "\r":  # removed
                    end = sequence.end() if sequence is not None else end
                    self._piece(shown, end)
                elif char in _INTRODUCERS:  # a lone ESC, CSI or OSC: a picture, one for one
                    out.append("\u241b" if char == "\x1b" else "\ufffd")
                    shown += 1
                    self._changed = True
                else:  # widened: every shown character of it maps to the one raw character
                    wide = tabs if char == "\t" and tabs is not None else f"⟨{_BIDI[char]}⟩"
                    self._piece(shown, -start - 1)
                    out.append(wide)
                    shown += len(wide)
                    self._piece(shown, end)
            position = end
        self.position, self.shown_length = position, shown
        added = "".join(out)
        self._pieces.append(added)
        return added

    def result(self) -> tuple[str, OffsetMap]:
        """The whole shown text and its map (the raw text itself, not a copy, if nothing needed escaping)."""
        self.advance(len(self.text))
        if not self._changed:
            return self.text, OffsetMap(len(self.text), len(self.text))
        shown = "".join(self._pieces)
        self._pieces = [shown]
        return shown, OffsetMap(self.shown_length, len(self.text), self._shown_at, self._raw_at)
