"""The byte encodings and text assemblies a capable model reads through, beyond the common ones.

Public red-team tools wrap their payloads in many more forms than base64 and
ROT13: base32, percent-encoding, quoted-printable, hex bytes written with
separators or ``\\x`` escapes, decimal character codes and Unicode braille. They
also hide a request in code: string literals joined with ``+``, or variables
set to fragments and then concatenated. A real model reads every one of these,
so the demo model does too (:mod:`app.demo.reading` runs these decoders beside
its own). Each decoder works on any text in its form, is bounded by the
caller's input limit and by the sizes below, and returns ``None`` unless the
result is readable text.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Callable, Sequence
from urllib.parse import unquote

MAX_LITERAL = 300  # characters in one quoted fragment or variable value
MAX_TERMS = 24  # terms in one concatenation
MAX_VARIABLES = 40  # assignments read across a conversation


def readable(raw: bytes) -> str | None:
    """The bytes as text when they are UTF-8 that reads as words (mostly letters and spaces), else ``None``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    letters = sum(c.isalpha() or c.isspace() for c in text)
    if not text.strip() or not text.isprintable() or letters < 0.6 * len(text):
        return None
    return text.strip()


def _first(found: Sequence[str | None]) -> str | None:
    texts = [text for text in found if text]
    return " ".join(texts) if texts else None


_BASE32 = re.compile(r"(?<![A-Za-z0-9+/])[A-Z2-7]{16,}+={0,6}")


def base32(text: str) -> str | None:
    """RFC 4648 base32 runs (upper case, as every encoder writes them)."""
    found = []
    for token in _BASE32.findall(text):
        body = token.rstrip("=")
        try:
            found.append(readable(base64.b32decode(body + "=" * (-len(body) % 8))))
        except (binascii.Error, ValueError):
            continue
    return _first(found)


_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def percent(text: str) -> str | None:
    """URL (percent) encoding: any whitespace-free run holding at least three ``%XX`` escapes."""
    tokens = [t for t in text.split() if len(_PERCENT.findall(t)) >= 3]
    return _first([readable(unquote(t, errors="strict").encode()) if _decodes(t) else None for t in tokens])


def _decodes(token: str) -> bool:
    try:
        unquote(token, errors="strict")
    except UnicodeDecodeError:
        return False
    return True


_QP_TOKEN = re.compile(r"(?:[^\s=]*+=(?:[0-9A-Fa-f]{2}|\r?\n))++[^\s=]*+")


def quoted_printable(text: str) -> str | None:
    """Quoted-printable: runs with at least three ``=XX`` escapes (soft line breaks allowed)."""
    tokens = [t for t in _QP_TOKEN.findall(text) if len(re.findall(r"=[0-9A-Fa-f]{2}", t)) >= 3]
    return _first([readable(quopri.decodestring(t.encode("utf-8", "replace"))) for t in tokens])


_HEX_SPACED = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}(?:[ ,:\-][0-9A-Fa-f]{2}){7,}+(?![0-9A-Fa-f])")
_HEX_ESCAPED = re.compile(r"(?:(?:\\x|0x)[0-9A-Fa-f]{2}[\s,]*+){4,}+")


def hex_bytes(text: str) -> str | None:
    """Hex written byte by byte: ``49 67 6e``, ``49:67:6e``, ``\\x49\\x67`` or ``0x49, 0x67``."""
    found = []
    for match in (*_HEX_SPACED.finditer(text), *_HEX_ESCAPED.finditer(text)):
        pairs = re.findall(r"[0-9A-Fa-f]{2}", re.sub(r"\\x|0x", " ", match.group()))
        found.append(readable(bytes(int(pair, 16) for pair in pairs)))
    return _first(found)


_DECIMAL = re.compile(r"(?<![\d.])\d{2,3}+(?:[ ,]++\d{2,3}+){3,}+(?![\d.])")


def decimal_codes(text: str) -> str | None:
    """Character codes written in decimal (``73 103 110``), when every one is printable ASCII."""
    found = []
    for match in _DECIMAL.finditer(text):
        codes = [int(code) for code in re.findall(r"\d+", match.group())]
        if all(32 <= code <= 126 for code in codes):
            decoded = readable(bytes(codes))
            found.append(decoded if decoded and re.search(r"[A-Za-z]{3}", decoded) else None)
    return _first(found)


# Grade 1 braille: the 26 letters; ⠠ marks a capital and ⠼ a number (a-j then stand for 1-0).
_BRAILLE = dict(zip("⠁⠃⠉⠙⠑⠋⠛⠓⠊⠚⠅⠇⠍⠝⠕⠏⠟⠗⠎⠞⠥⠧⠺⠭⠽⠵", "abcdefghijklmnopqrstuvwxyz", strict=True))
_BRAILLE_PUNCT = {"\u2800": " ", "⠂": ",", "⠲": ".", "⠦": "?", "⠖": "!", "⠄": "'", "⠤": "-"}
_BRAILLE_RUN = re.compile(r"[\u2801-\u28ff][\u2800-\u28ff ]*+")


def braille(text: str) -> str | None:
    """Unicode braille (grade 1) runs of four cells or more."""
    found = []
    for run in (r.rstrip(" \u2800") for r in _BRAILLE_RUN.findall(text)):
        if sum(c != " " and c != "\u2800" for c in run) < 4:
            continue
        out, capital, number = [], False, False
        for cell in run:
            if cell == "⠠":
                capital = True
            elif cell == "⠼":
                number = True
            elif cell in _BRAILLE:
                letter = _BRAILLE[cell]
                if number and letter in "abcdefghij":
                    out.append("1234567890"["abcdefghij".index(letter)])
                else:
                    out.append(letter.upper() if capital else letter)
                capital = False
            else:
                out.append(" " if cell == " " else _BRAILLE_PUNCT.get(cell, ""))
                number = number and cell not in (" ", "\u2800")
        found.append("".join(out).strip() or None)
    return _first(found)


BYTE_DECODERS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("base32", base32), ("url", percent), ("quoted-printable", quoted_printable), ("hex", hex_bytes),
    ("decimal", decimal_codes), ("braille", braille),
)

_QUOTED = rf"(?:\"([^\"\n]{{0,{MAX_LITERAL}}}+)\"|'([^'\n]{{0,{MAX_LITERAL}}}+)'|“([^”\n]{{0,{MAX_LITERAL}}}+)”)"
_NAME = r"[A-Za-z_]\w{0,30}+"
_ASSIGNMENT = re.compile(rf"\b({_NAME})\s*(?::=|=|:)\s*{_QUOTED}")
_TERM = rf"(?:{_NAME}|\"[^\"\n]{{0,{MAX_LITERAL}}}+\"|'[^'\n]{{0,{MAX_LITERAL}}}+'|“[^”\n]{{0,{MAX_LITERAL}}}+”)"
_CONCATENATION = re.compile(rf"{_TERM}(?:\s*\+\s*{_TERM}){{1,{MAX_TERMS}}}")
_ONE_TERM = re.compile(_TERM)


def assembled(text: str, earlier: Sequence[str]) -> str | None:
    """A request put together in code: quoted fragments joined with ``+``, or variables set to fragments
    (in this message or an earlier one) and then concatenated (``a + b``). The longest such result."""
    variables: dict[str, str] = {}
    for message in (*earlier, text):
        for match in _ASSIGNMENT.finditer(message):
            if len(variables) < MAX_VARIABLES or match.group(1) in variables:
                variables[match.group(1)] = next(g for g in match.groups()[1:] if g is not None)
    best = ""
    for match in _CONCATENATION.finditer(text):
        parts = []
        for term in _ONE_TERM.findall(match.group()):
            if term[0] in "\"'“":
                parts.append(term[1:-1])
            elif term in variables:
                parts.append(variables[term])
            else:
                parts = []
                break
        joined = "".join(parts).strip()
        if len(parts) >= 2 and len(joined) > len(best):
            best = joined
    return best or None
