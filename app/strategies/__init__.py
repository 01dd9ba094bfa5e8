"""Prompt strategies: pure, deterministic transformations of a chat step's message.

A scenario step names one with ``strategy: base64``; the runner sends
``apply(name, text)`` and stores both the original and the transformed prompt.
``reveal`` inverts the strategies that can be inverted, so triage can show
what an encoded prompt asked.
"""

from __future__ import annotations

from typing import Callable

from app.strategies import disguises, encodings, wrappers

STRATEGIES: dict[str, Callable[[str], str]] = {
    "base64": encodings.to_base64,
    "rot13": encodings.rot13,
    "leetspeak": encodings.leetspeak,
    "zero_width": disguises.zero_width,
    "homoglyph": disguises.homoglyph,
    "reverse": encodings.reverse,
    "markdown_comment": wrappers.markdown_comment,
    "json_wrapper": wrappers.json_wrapper,
}

# leetspeak has no inverse: a digit in the output may have been a digit in the input.
REVEAL: dict[str, Callable[[str], str]] = {
    "base64": encodings.from_base64,
    "rot13": encodings.from_rot13,
    "zero_width": disguises.from_zero_width,
    "homoglyph": disguises.from_homoglyph,
    "reverse": encodings.from_reverse,
    "markdown_comment": wrappers.from_markdown_comment,
    "json_wrapper": wrappers.from_json_wrapper,
}


def check_strategy(name: str) -> None:
    """Raise ValueError naming the known strategies when ``name`` is not one (for the scenario loader)."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy '{name}' (known: {', '.join(sorted(STRATEGIES))})")


def apply(name: str, text: str) -> str:
    check_strategy(name)
    return STRATEGIES[name](text)


def reveal(name: str, prompt: str) -> str:
    """The original message behind a transformed prompt; ValueError when the strategy has no inverse
    or the prompt is not one it wrote."""
    check_strategy(name)
    if name not in REVEAL:
        raise ValueError(f"strategy '{name}' cannot be reversed")
    return REVEAL[name](prompt)
