"""Making untrusted text safe, in one place, for every sink.

Model output, scenario text, file contents and error messages are hostile:
they may carry terminal escape sequences, Rich/Textual markup, bidi overrides,
HTML, or spreadsheet formulas. The store keeps the raw text; each sink calls
the one function here that fits it.
"""

from __future__ import annotations

import re
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
# C0 controls except tab and newline, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides and isolates (Trojan Source), shown rather than obeyed.
_BIDI = {
    "\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO",
    "\u2066": "LRI", "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI",
    "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM",
}
_BIDI_RE = re.compile("[" + "".join(_BIDI) + "]")


def for_terminal(text: str) -> str:
    """Text that is safe to draw: no escape sequences, no control characters, visible bidi marks.

    Tabs and newlines stay; ``\\r`` becomes nothing so a carriage return cannot
    overwrite what came before on a line. Markup safety is not handled here:
    callers must also render with ``Text``/``Content``/``markup=False``.
    """
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CONTROL.sub(_control_picture, text)
    return _BIDI_RE.sub(lambda m: f"⟨{_BIDI[m.group()]}⟩", text)


def _control_picture(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r":
        return ""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # U+2400 control pictures: ␀ ␁ … ␛ ␟
    if code == 0x7F:
        return "␡"
    return "�"


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


def for_terminal_mapped(text: str) -> tuple[str, list[int]]:
    """:func:`for_terminal` plus, for each character it returns, the index of the input character it shows.

    Each shown character comes from exactly one input character, so a span
    ``[i, j)`` of the safe text maps back to ``[where[i], where[j - 1] + 1)`` of
    the raw text (the escape sequences around it stay out): a tester selects what
    the terminal shows, and the evidence quotes what the model sent. The list
    ends with ``len(text)`` so an empty span at the end maps too.
    """
    out: list[str] = []
    where: list[int] = []
    position = 0
    for match in [*_ESCAPE_SEQUENCE.finditer(text), None]:
        stop = match.start() if match is not None else len(text)
        for index in range(position, stop):
            char = text[index]
            control = _CONTROL.match(char)
            shown = _control_picture(control) if control else (f"⟨{_BIDI[char]}⟩" if char in _BIDI else char)
            out.append(shown)
            where.extend([index] * len(shown))
        if match is not None:
            position = match.end()
    where.append(len(text))
    return "".join(out), where
