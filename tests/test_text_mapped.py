"""The map from shown text back to raw text: the same result as drawing character by character, in linear
time and a few bytes, whatever the size; hostile text still never reaches the terminal."""

from __future__ import annotations

import random
import re
import sys
import tracemalloc

from app.text import OffsetMap, for_terminal, for_terminal_mapped

# The rule as first written, one character at a time: the oracle the fast version must match exactly.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*(?:\x07|\x9c)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = {"\u202a": "LRE", "\u202b": "RLE", "\u202c": "PDF", "\u202d": "LRO", "\u202e": "RLO", "\u2066": "LRI",
         "\u2067": "RLI", "\u2068": "FSI", "\u2069": "PDI", "\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM"}


def _picture(char: str) -> str:
    code = ord(char)
    return "" if char == "\r" else chr(0x2400 + code) if code < 0x20 else "␡" if code == 0x7F else "�"


def slow_mapped(text: str, tabs: str | None = None) -> tuple[str, list[int]]:
    out: list[str] = []
    where: list[int] = []
    position = 0
    for match in [*_ESCAPE.finditer(text), None]:
        stop = match.start() if match is not None else len(text)
        for index in range(position, stop):
            char = text[index]
            if tabs is not None and char == "\t":
                shown = tabs
            elif _CONTROL.match(char):
                shown = _picture(char)
            else:
                shown = f"⟨{_BIDI[char]}⟩" if char in _BIDI else char
            out.append(shown)
            where.extend([index] * len(shown))
        if match is not None:
            position = match.end()
    where.append(len(text))
    return "".join(out), where


PIECES = ["plain ", "漢字", "🙂", "\t", "\n", "\r", "\r\n", "\x00", "\x07", "\x7f", "\x85", "\x9b", "\x9d", "\x1b",
          "\x1b[31m", "\x1b[", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x1bP1$r\x1b\\", "\x1b7", "\x9b2J",
          "\x9d0;t\x9c", "\u202e", "\u2066", "\u061c", "[bold]", "[/]", "[@click=app.quit]"]


def hostile_samples() -> list[str]:
    rng = random.Random(18)
    return ["", "nothing to escape", "\x1b", "\x1b]unterminated", *PIECES] + [
        "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))) for _ in range(600)]


def test_the_map_matches_drawing_character_by_character() -> None:
    for text in hostile_samples():
        for tabs in (None, "    "):
            shown, where = for_terminal_mapped(text, tabs)
            expected, expected_where = slow_mapped(text, tabs)
            assert shown == expected, repr(text)
            assert len(where) == len(expected_where) and list(where) == expected_where, repr(text)
            assert [where[-k] for k in range(1, len(where) + 1)] == expected_where[::-1]
            for raw in range(len(text) + 1):  # the reverse look-up, as bisect on the list gave it
                low = next((i for i, r in enumerate(expected_where[:-1]) if r >= raw), len(expected))
                assert where.shown_index(raw) == low, (repr(text), raw)
        assert for_terminal(text) == slow_mapped(text)[0]


def test_hostile_text_never_reaches_the_terminal() -> None:
    for text in hostile_samples():
        shown, _ = for_terminal_mapped(text, "    ")
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]",
                             shown.replace("\n", "")), repr(text)


def test_text_with_nothing_to_escape_is_not_copied() -> None:
    text = "a reply with nothing to escape, [bold]markup[/bold] included\n" * 1000
    shown, where = for_terminal_mapped(text)
    assert shown is text and isinstance(where, OffsetMap) and where.pieces == 1
    assert where[0] == 0 and where[len(text) - 1] == len(text) - 1 and where[-1] == len(text)


def test_ten_megabytes_are_prepared_with_no_per_character_objects() -> None:
    """Linear: the memory kept and the peak are bounded per character, far below one Python int each."""
    line = "Refunds above $500 need a human agent.\tSee [bold]policy[/bold] \u202e7.2\u202c.\n"
    text = line * (10_000_000 // len(line))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        shown, where = for_terminal_mapped(text, "    ")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shown.startswith("Refunds above $500 need a human agent.    See [bold]policy[/bold] ⟨RLO⟩7.2⟨PDF⟩.")
    assert where.pieces <= 6 * text.count("\n") + 1  # one piece per change of offset, never one per character
    # Kept: the shown text (two bytes a character here, for its ⟨ ⟩) and a map of at most one byte per
    # character for this dense text; per-character Python objects (an int or a str each) would cost 28 or more.
    assert kept - before - sys.getsizeof(shown) <= len(text), kept - before - sys.getsizeof(shown)
    # At the peak the pieces are joined: the shown text twice, and the pieces' headers.
    assert peak - before - 2 * sys.getsizeof(shown) <= 8 * len(text), peak - before - 2 * sys.getsizeof(shown)


def test_preparing_in_steps_gives_what_one_go_gives_wherever_the_steps_fall() -> None:
    from app.text import SafeText

    rng = random.Random(7)
    for text in hostile_samples()[:300]:
        prepared = SafeText(text, "    ")
        added = []
        while not prepared.done:
            added.append(prepared.advance(prepared.position + rng.randint(1, 12)))
        shown, where = prepared.result()
        expected, expected_where = slow_mapped(text, "    ")
        assert "".join(added) == shown == expected, repr(text)
        assert list(where) == expected_where, repr(text)
