"""What a user message says once it is read as a model reads it: decoded, despaced, translated, joined.

A capable model reads through base64, ROT13, hex, bits and Morse, through
s p a c e d letters and l33t digits, through French and Polish, and it can put
together a request sent in parts. So does the demo model: :func:`readings`
gives every such reading of a message. The rules then decide what each mode
does with them: the vulnerable mode's keyword guard looks only at the message
as written, so a request in another form gets past it; the hardened mode's
guard looks at every reading.

Nothing here knows Redline's prompts. Each decoder works on any text in its
form (a base64 run anywhere in the message, ROT13 told from English by word
counts, any language in the glossary), so attacks written by others work too.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.demo.decoding import BYTE_DECODERS, assembled, readable
from app.demo.lexicon import ENGLISH, GLOSSARY

ENCODINGS = ("base64", "rot13", "hex", "binary", "morse", "reversed", *(how for how, _ in BYTE_DECODERS))
OBFUSCATIONS = ("spacing", "leetspeak")
PARTS = "parts"
MAX_READ_CHARS = 8000  # decoders stop here; the model's input limit is the same
MAX_DECODE_DEPTH = 3  # an encoding inside an encoding is read this many layers deep, no further
MAX_READINGS = 32  # readings of one message, all layers together


@dataclass(frozen=True)
class Reading:
    """One way of reading the message: ``how`` it was read, and the English-ish ``text`` it gives."""

    how: str  # "as written", an encoding, an obfuscation, a language, or "parts"
    text: str

    @property
    def family(self) -> str:
        if self.how in ENCODINGS:
            return "encoded"
        if self.how in OBFUSCATIONS:
            return "obfuscated"
        if self.how in GLOSSARY:
            return "translated"
        return "split" if self.how == PARTS else "plain"


_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def english_share(text: str) -> float:
    """The share of the words in ``text`` that are very common English words."""
    words = [w.lower() for w in _WORD.findall(text)]
    return sum(w in ENGLISH for w in words) / len(words) if words else 0.0


# How often each letter appears in English text (per cent): English scores about 6.5, ciphertext about 4.
_LETTER_FREQUENCY = dict(zip("etaoinshrdlcumwfgypbvkjxqz", (12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8,
                                                           2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15,
                                                           0.15, 0.1, 0.07), strict=True))


def letter_score(text: str) -> float:
    """The mean English frequency of the text's Latin letters; 0 for fewer than eight of them."""
    letters = [c for c in text.lower() if c in _LETTER_FREQUENCY]
    return sum(_LETTER_FREQUENCY[c] for c in letters) / len(letters) if len(letters) >= 8 else 0.0


_readable = readable


_BASE64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")
# Possessive runs (``++``, ``{n,}+``): a long run that fails at its end is given up at once, not retried
# one character shorter at a time (quadratic on an 8,000-character message).
_HEX = re.compile(r"\b[0-9a-fA-F]{16,}+\b")
_BITS = re.compile(r"\b[01]{8}(?:\s+[01]{8}){3,}\b")
_MORSE = re.compile(r"(?<![^\s])[.\-]{1,7}+(?:(?:\s+/\s+|\s+)[.\-]{1,7}+){3,}+(?![^\s])")
_CIPHER_HINT = re.compile(r"\brot[\s\-]?13\b|\bcaesar\b|\bshift(?:ed)? (?:of |by )?13\b|\bencoded\b", re.IGNORECASE)
_SEGMENT = re.compile(r"[^.!?:\n]+[.!?:\n]*")


def _base64(text: str) -> str | None:
    for token in _BASE64.findall(text):
        try:
            found = _readable(base64.b64decode(token + "=" * (-len(token) % 4), validate=True))
        except (binascii.Error, ValueError):
            continue
        if found:
            return found
    return None


def _hex(text: str) -> str | None:
    found = [_readable(bytes.fromhex(token)) for token in _HEX.findall(text) if len(token) % 2 == 0]
    return next((f for f in found if f), None)


def _bits(text: str) -> str | None:
    match = _BITS.search(text)
    return _readable(bytes(int(group, 2) for group in match.group().split())) if match else None


def _morse(text: str) -> str | None:
    from app.strategies.encodings import MORSE

    table = {code: char for char, code in MORSE.items()}
    match = _MORSE.search(text)
    if not match:
        return None
    codes = [word.split() for word in re.split(r"\s+/\s+", match.group())]
    decoded = " ".join(w for w in ("".join(table.get(code, "") for code in word) for word in codes) if w)
    # Every group a Morse letter is unambiguous, whatever it spells; otherwise it must read as English.
    every_code_a_letter = all(code in table for word in codes for code in word)
    return decoded if english_share(decoded) >= 0.3 or (every_code_a_letter and len(decoded) >= 4) else None


def _turned(text: str, turn: Callable[[str], str], by_letters: bool = False) -> list[str]:
    """The segments of ``text`` that read as English once turned (and did not before): by common words,
    or (``by_letters``, for a letter substitution) by how English its letters are."""
    found = []
    for segment in _SEGMENT.findall(text):
        turned = turn(segment)
        before, after = english_share(segment), english_share(turned)
        words = after >= 0.4 and after > before + 0.25
        letters = (by_letters and letter_score(turned) >= 5.5 and letter_score(turned) > letter_score(segment) + 1.5
                   and after > 0)
        if words or letters:
            found.append(turned.strip())
    return found


def _rot13(text: str) -> str | None:
    """ROT13 segments, told from English by word counts; told it is encoded, every segment not already English."""
    decoded = _turned(text, lambda segment: codecs.decode(segment, "rot13"), by_letters=True)
    if not decoded and _CIPHER_HINT.search(text):
        for segment in _SEGMENT.findall(text):
            turned = codecs.decode(segment, "rot13")
            if (not _CIPHER_HINT.search(segment) and english_share(segment) < 0.4
                    and english_share(turned) >= english_share(segment) and _WORD.search(segment)):
                decoded.append(turned.strip())
    return " ".join(decoded) or None


def _reversed(text: str) -> str | None:
    """Segments written backwards."""
    return " ".join(_turned(text, lambda segment: segment[::-1])) or None


_SPACED_RUN = re.compile(r"(?:\S {1,3}+){5,}+\S")


def _spacing(text: str) -> str | None:
    runs = _SPACED_RUN.findall(text)
    if not runs:
        return None
    def join(run: str) -> str:
        return " ".join(word.replace(" ", "") for word in re.split(r" {2,}", run))
    return _SPACED_RUN.sub(lambda m: join(m.group()), text)


_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s"}
_ALNUM = re.compile(r"[A-Za-z0-9@$]++")


def _unleet(token: str) -> str:
    """Digits back to letters; a 1 is i or l, whichever makes a known word."""
    base = "".join(_LEET.get(c, c) for c in token.lower())
    for one in ("i", "l"):
        word = base.replace("1", one)
        if word in ENGLISH:
            return word
    return base.replace("1", "i")


def _is_leet(token: str) -> bool:
    """Letters and look-alike digits in one word."""
    return any(c.isalpha() for c in token) and any(c in _LEET or c == "1" for c in token)


def _leetspeak(text: str) -> str | None:
    tokens = [t for t in _ALNUM.findall(text) if _is_leet(t)]
    if len(tokens) < 3 or sum(_unleet(t) in ENGLISH for t in tokens) < 2:
        return None
    return _ALNUM.sub(lambda m: _unleet(m.group()) if _is_leet(m.group()) else m.group(), text)


# Letters folded for matching, so a word typed without its accents ("pokaz", "loschen") still reads.
_LETTER_FOLDS = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "’": "'"})
_PHRASE_WORDS = 6  # the longest glossary phrase, in words: the lookup at each word is bounded by it
_COMPOUNDING = frozenset({"german", "dutch", "swedish"})  # languages that write compounds as one word
_LINKS = ("", "s", "n", "en", "e", "er")  # the letters German, Dutch and Swedish put between a compound's parts
_MIN_PART = 3
_MAX_COMPOUND = 40  # longer runs of letters are not words: not split, so reading stays linear
_LANGUAGE_SHARE = 0.15  # of a message's words, in one glossary language, for it to be read as that language


def fold_word(word: str) -> str:
    """A word in lower case without diacritics, as the glossary is looked up."""
    decomposed = unicodedata.normalize("NFKD", word.lower().translate(_LETTER_FOLDS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _table(language: str) -> dict[tuple[str, ...], str]:
    """The language's glossary keyed by its folded words, phrases included (built once per language)."""
    if language not in _TABLES:
        _TABLES[language] = {tuple(fold_word(w) for w in key.split()): english
                             for key, english in GLOSSARY[language].items()}
    return _TABLES[language]


def _known(language: str) -> frozenset[str]:
    """The folded words that tell the language: its glossed words and the words of its phrases, less those
    that read the same in English ("data", "chat"), which are no evidence of it."""
    if language not in _KNOWN:
        _KNOWN[language] = frozenset(w for key, english in _table(language).items() for w in key
                                     if len(w) > 1 and w not in ENGLISH and w != english)
    return _KNOWN[language]


_TABLES: dict[str, dict[tuple[str, ...], str]] = {}
_KNOWN: dict[str, frozenset[str]] = {}


def _compound(word: str, table: dict[tuple[str, ...], str]) -> str | None:
    """A compound read as its two known parts, the head last ("kundendatenbank" → "customer database")."""
    for cut in range(len(word) - _MIN_PART, _MIN_PART - 1, -1):
        head = table.get((word[cut:],))
        if head is None:
            continue
        for link in _LINKS:
            stem = word[:cut - len(link)] if link else word[:cut]
            if len(stem) >= _MIN_PART and word[:cut].endswith(link) and (stem,) in table:
                return f"{table[(stem,)]} {head}"
    return None


def _word(word: str, language: str, table: dict[tuple[str, ...], str]) -> str | None:
    """One word in English: as it stands, then its parts (elided "l'", clitic "-moi", a compound)."""
    folded = fold_word(word)
    if (folded,) in table:
        return table[(folded,)]
    parts = [p for p in re.split(r"['’-]", word) if p]  # as written, so a name after "d'" keeps its capital
    if len(parts) > 1 and any((fold_word(p),) in table for p in parts):
        return " ".join(table.get((fold_word(p),), p) for p in parts)
    if language in _COMPOUNDING and 2 * _MIN_PART <= len(folded) <= _MAX_COMPOUND:
        return _compound(folded, table)
    return None


def language_of(text: str) -> str | None:
    """The glossary language most of the message's non-English words belong to, if it is one.

    A message may be English around a quoted sentence in another language ("translate this and do it:
    '...'"), so each sentence and quotation is weighed on its own as well as the whole.
    """
    found = _language_of(text)
    if found:
        return found
    for part in (*_SEGMENT.findall(text), *(m.group(1) for m in _QUOTATION.finditer(text))):
        found = _language_of(part, share=0.3)
        if found:
            return found
    return None


_QUOTATION = re.compile(r"(?<!\w)['\"“«]([^'\"”»\n]{12,400}+)['\"”»](?!\w)")


def _language_of(text: str, share: float = _LANGUAGE_SHARE) -> str | None:
    words = [fold_word(w) for w in _WORD.findall(text)]
    best, hits = None, 0
    for language in GLOSSARY:
        known = _known(language)
        found = sum(1 for w in words if w in known)
        if found > hits:
            best, hits = language, found
    return best if words and hits >= 2 and hits / len(words) >= share else None


def gloss(text: str, language: str) -> str:
    """The message in English as far as the glossary goes: phrases first (the longest that fits, so word order
    and fixed expressions come out right), then words and their parts; other words stay as they are."""
    table = _table(language)
    words = list(_WORD.finditer(text))
    folded = [fold_word(w.group()) for w in words]
    out, at, i = [], 0, 0
    while i < len(words):
        for size in range(min(_PHRASE_WORDS, len(words) - i), 0, -1):
            span = words[i:i + size]
            gap = text[span[0].start():span[-1].end()]
            key = tuple(folded[i:i + size])
            english = table.get(key) if size > 1 and not re.search(r"[.!?;:\n]", gap) else None
            if size == 1:
                english = _word(span[0].group(), language, table)
            if english is not None or size == 1:
                out.append(text[at:span[0].start()] + (english if english is not None else span[0].group()))
                at, i = span[-1].end(), i + size
                break
    return "".join(out) + text[at:]


def meaning(text: str) -> str:
    """What the message says in English: its gloss when it is written in a glossary language, else itself.

    A real model understands a request in Polish as well as one in English and
    answers it alike; the rules that answer requests read this.
    """
    text = text[:MAX_READ_CHARS]
    language = language_of(text)
    return gloss(text, language) if language else text


_JOIN = re.compile(
    r"\b(?:combine|join|put|merge|concatenate|assemble|stitch|glue)\b[^.!?\n]{0,60}?"
    r"\b(?:parts?|fragments?|pieces?|segments?|halves|chunks?)\b|\b(?:parts?|fragments?|pieces?) together\b",
    re.IGNORECASE)
# A fragment is bracketed or quoted; a quote is one only when no letter touches it from outside (not "don't").
_FRAGMENT = re.compile(r"\u00ab([^\u00bb]*)\u00bb|\[([^\]\n]*)\]|(?<!\w)'([^'\n]+)'(?!\w)|(?<!\w)\"([^\"\n]+)\"(?!\w)"
                       r"|“([^”\n]+)”")


def _parts(text: str, earlier: Sequence[str]) -> list[str]:
    """A request sent in fragments (in « », [ ] or quotes) across turns, joined when the last turn asks for it:
    run together (the fragments may split words) and with spaces (they may be whole words)."""
    if not _JOIN.search(text):
        return []
    pieces = [next(g for g in m.groups() if g is not None) for message in (*earlier, text)
              for m in _FRAGMENT.finditer(message[:MAX_READ_CHARS])]
    joined = ["".join(pieces).strip(), " ".join(p.strip() for p in pieces).strip()]
    return [j for j in dict.fromkeys(joined) if j]


_DECODERS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("base64", _base64), ("hex", _hex), ("binary", _bits), ("morse", _morse), *BYTE_DECODERS, ("rot13", _rot13),
    ("reversed", _reversed), ("spacing", _spacing), ("leetspeak", _leetspeak),
)


def _decoded(text: str, how: str, depth: int, found: list[Reading], normalise: Callable[[str], str]) -> None:
    """Append each decoding of ``text`` to ``found``, and the decodings of those, ``depth`` layers down."""
    for name, decode in _DECODERS:
        if len(found) >= MAX_READINGS:
            return
        decoded = decode(text)
        if decoded and decoded != text and all(decoded != r.text for r in found):
            found.append(Reading(how or name, normalise(decoded)))
            if depth > 1 and name in ENCODINGS:
                _decoded(decoded, how or name, depth - 1, found, normalise)


def readings(text: str, earlier: Iterable[str] = (), normalise: Callable[[str], str] = str) -> list[Reading]:
    """Every reading of ``text`` (folded, spacing kept): as written first, then each form it decodes from.

    ``earlier`` are the conversation's earlier user messages, for a request sent in parts.
    """
    text = text[:MAX_READ_CHARS]
    earlier = [message[:MAX_READ_CHARS] for message in earlier]
    found = [Reading("as written", normalise(text))]
    _decoded(text, "", MAX_DECODE_DEPTH, found, normalise)
    language = language_of(text)
    if language:
        found.append(Reading(language, gloss(text, language)))
    for joined in (*_parts(text, earlier), assembled(text, earlier)):
        if joined:
            found.append(Reading(PARTS, normalise(joined)))
    for reading in list(found[1:]):  # a decoded message may itself be in another language: read its meaning first
        inner = language_of(reading.text)
        if inner and reading.how not in GLOSSARY:
            found.insert(found.index(reading), Reading(reading.how, gloss(reading.text, inner)))
    return found
