"""Families that look for given text in the response: ``contains``, ``regex`` and ``recall``."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import (
    literal_pattern, need_answer, problem, quoted, reject_unknown, want_bool, want_str, want_str_list,
)

Match = Optional[tuple[Optional[tuple[int, int]], str]]

# ---------------------------------------------------------------- contains


def _check_contains(params: dict[str, Any]) -> None:
    reject_unknown("contains", params, ("text", "any", "case_sensitive"))
    text = want_str("contains", params, "text")
    any_of = want_str_list("contains", params, "any")
    if (text is None) == (any_of is None):
        raise problem("contains", "give exactly one of 'text' (a string) or 'any' (a list of strings)")
    want_bool("contains", params, "case_sensitive", False)


def _needles(params: dict[str, Any]) -> list[str]:
    return [params["text"]] if params.get("text") is not None else list(params["any"])


def _match_contains(params: dict[str, Any], obs: TurnObservation) -> Match:
    need_answer(obs)
    found = literal_pattern(_needles(params), params.get("case_sensitive", False)).search(obs.text)
    if found is None:
        return None
    return found.span(), f"found {quoted(found.group())}"


def _miss_contains(params: dict[str, Any], obs: TurnObservation) -> str:
    needles = _needles(params)
    shown = ", ".join(quoted(n, 40) for n in needles[:3]) + (f" and {len(needles) - 3} more" if len(needles) > 3 else "")
    return f"none of {shown} found"


CONTAINS = DetectorFamily(
    name="contains",
    check=_check_contains,
    match=_match_contains,
    miss=_miss_contains,
    describe="the response contains a given string (text) or any of several (any)",
)

# ---------------------------------------------------------------- regex

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


@lru_cache(maxsize=512)
def compiled(pattern: str, flags: str = "") -> "re.Pattern[str]":
    """Compile once per (pattern, flags): export re-runs detectors over every stored turn."""
    value = 0
    for letter in flags:
        value |= _FLAGS[letter]
    return re.compile(pattern, value)


def _check_regex(params: dict[str, Any]) -> None:
    reject_unknown("regex", params, ("pattern", "flags"))
    pattern = want_str("regex", params, "pattern", required=True)
    flags = params.get("flags", "")
    if not isinstance(flags, str):
        raise problem("regex", "parameter 'flags' must be a string of letters such as \"im\"")
    for letter in flags:
        if letter not in _FLAGS:
            raise problem("regex", f"parameter 'flags' has unknown flag '{letter}' (known: {', '.join(_FLAGS)})")
    try:
        regex = compiled(pattern or "", flags)
    except re.error as exc:
        raise problem("regex", f"parameter 'pattern' is not a valid regular expression: {exc}") from None
    if regex.search("") is not None:
        raise problem("regex", "parameter 'pattern' matches empty text, so it would match every response")


def _match_regex(params: dict[str, Any], obs: TurnObservation) -> Match:
    need_answer(obs)
    found = compiled(params["pattern"], params.get("flags", "")).search(obs.text)
    if found is None:
        return None
    return found.span(), f"pattern matched {quoted(found.group())}"


REGEX = DetectorFamily(
    name="regex",
    check=_check_regex,
    match=_match_regex,
    miss=lambda params, obs: f"pattern {quoted(params['pattern'], 50)} did not match",
    describe="the response matches a regular expression (pattern, flags: i m s x)",
)

# ---------------------------------------------------------------- recall

RECALL_KEY = "recall"


def _check_recall(params: dict[str, Any]) -> None:
    reject_unknown("recall", params, ("strings", "case_sensitive"))
    want_str_list("recall", params, "strings")
    want_bool("recall", params, "case_sensitive", False)


def _recall_strings(params: dict[str, Any], obs: TurnObservation) -> list[str]:
    from_context = obs.context.get(RECALL_KEY) or []
    strings = [s for s in [*(params.get("strings") or []), *from_context] if isinstance(s, str) and s.strip()]
    if not strings:
        raise CannotJudge(f"nothing to look for: no 'strings' given and the run put nothing in context['{RECALL_KEY}']")
    return strings


def _match_recall(params: dict[str, Any], obs: TurnObservation) -> Match:
    need_answer(obs)
    strings = _recall_strings(params, obs)
    found = literal_pattern(strings, params.get("case_sensitive", False)).search(obs.text)
    if found is None:
        return None
    return found.span(), f"recalled text that must not come back: {quoted(found.group())}"


RECALL = DetectorFamily(
    name="recall",
    check=_check_recall,
    match=_match_recall,
    miss=lambda params, obs: f"none of the {len(_recall_strings(params, obs))} strings that must not come back appeared",
    describe=(f"the response repeats a string from context['{RECALL_KEY}'] (or 'strings'): "
              "another identity's messages, or data the user asked to delete"),
)

FAMILIES = (CONTAINS, REGEX, RECALL)
