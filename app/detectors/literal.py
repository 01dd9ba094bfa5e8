"""Families that look for given text in the response: ``contains``, ``regex`` and ``recall``."""

from __future__ import annotations

from typing import Any

import regex

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import (
    literal_pattern,
    problem,
    quoted,
    reject_unknown,
    want_bool,
    want_str,
    want_str_list,
)
from app.detectors.patterns import (
    FLAGS,
    TIME_LIMIT_S,
    PatternLimitReached,
    catastrophic,
    compiled,
    search,
    syntax_error,
    want_time_limit,
)

Match = tuple[tuple[int, int] | None, str] | None

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
# Compiled with the ``regex`` module and matched with a time limit (app.detectors.patterns).


def _check_regex(params: dict[str, Any]) -> None:
    reject_unknown("regex", params, ("pattern", "flags", "timeout"))
    pattern = want_str("regex", params, "pattern", required=True)
    flags = params.get("flags", "")
    if not isinstance(flags, str):
        raise problem("regex", "parameter 'flags' must be a string of letters such as \"im\"")
    for letter in flags:
        if letter not in FLAGS:
            raise problem("regex", f"parameter 'flags' has unknown flag '{letter}' (known: {', '.join(FLAGS)})")
    want_time_limit("regex", params)
    try:
        pattern_ = compiled(pattern or "", flags)
    except regex.error as exc:
        raise problem("regex", f"parameter 'pattern' is not a valid regular expression: "
                               f"{syntax_error(pattern or '', flags) or exc}") from None
    if pattern_.search("") is not None:
        raise problem("regex", "parameter 'pattern' matches empty text, so it would match every response")


def regex_warning(params: dict[str, Any]) -> str | None:
    """For the scenario loader: why this detector's pattern may backtrack without end, or None."""
    why = catastrophic(str(params.get("pattern") or ""), str(params.get("flags") or ""))
    if why is None:
        return None
    return (f"detector 'regex': parameter 'pattern' may take exponential time on some answers ({why}); "
            f"each match stops after {params.get('timeout', TIME_LIMIT_S):g}s and the turn is then "
            "inconclusive, so rewrite it without nested or overlapping repeats")


def _match_regex(params: dict[str, Any], obs: TurnObservation) -> Match:
    pattern = compiled(params["pattern"], params.get("flags", ""))
    try:
        found = search(pattern, obs.text, want_time_limit("regex", params))
    except PatternLimitReached as exc:
        raise exc.cannot_judge() from None
    if found is None:
        return None
    return found.span(), f"pattern matched {quoted(found.group())}"


REGEX = DetectorFamily(
    name="regex",
    check=_check_regex,
    match=_match_regex,
    miss=lambda params, obs: f"pattern {quoted(params['pattern'], 50)} did not match",
    describe=f"the response matches a regular expression (pattern, flags: i m s x, timeout: seconds, "
             f"default {TIME_LIMIT_S:g})",
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
