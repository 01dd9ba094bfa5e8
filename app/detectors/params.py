"""Parameter checks shared by every detector family.

A scenario author reads these messages after a typo, so each one names the
detector, the parameter and what was expected; the scenario loader adds the
file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from app.text import one_line


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def problem(family: str, message: str) -> ValueError:
    return ValueError(f"detector '{family}': {message}")


def reject_unknown(family: str, params: dict[str, Any], known: Iterable[str]) -> None:
    """Unknown keys are typos more often than not, so they are errors, never ignored."""
    allowed = sorted(known)
    for key in params:
        if key not in allowed:
            hint = f" (known: {', '.join(allowed)})" if allowed else " (it takes none)"
            raise problem(family, f"unknown parameter '{key}'{hint}")


def want_str(family: str, params: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise problem(family, f"missing parameter '{key}'")
        return None
    if not isinstance(value, str):
        raise problem(family, f"parameter '{key}' must be a string, not {_kind_of(value)}")
    if not value:
        raise problem(family, f"parameter '{key}' must not be empty")
    return value


def want_str_list(family: str, params: dict[str, Any], key: str, *, required: bool = False,
                  choices: Iterable[str] | None = None) -> list[str] | None:
    value = params.get(key)
    if value is None:
        if required:
            raise problem(family, f"missing parameter '{key}'")
        return None
    if not isinstance(value, list):
        raise problem(family, f"parameter '{key}' must be a list of strings, not {_kind_of(value)}")
    if not value:
        raise problem(family, f"parameter '{key}' must not be an empty list")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise problem(family, f"parameter '{key}' item {index} must be a string, not {_kind_of(item)}")
        if not item:
            raise problem(family, f"parameter '{key}' item {index} must not be empty")
    if choices is not None:
        options = list(choices)
        for item in value:
            if item not in options:
                raise problem(family, f"parameter '{key}' has unknown value '{item}' (known: {', '.join(options)})")
    return list(value)


def want_bool(family: str, params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise problem(family, f"parameter '{key}' must be true or false, not {_kind_of(value)}")
    return value


def want_positive_number(family: str, params: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = params.get(key)
    if value is None:
        if required:
            raise problem(family, f"missing parameter '{key}'")
        return None
    # YAML ``true`` is a bool, and bool is an int in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise problem(family, f"parameter '{key}' must be a number, not {_kind_of(value)}")
    if not value > 0:
        raise problem(family, f"parameter '{key}' must be greater than 0, not {value}")
    return float(value)


def want_choice(family: str, params: dict[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(key, default)
    if value not in choices:
        shown = value if isinstance(value, str) else _kind_of(value)
        raise problem(family, f"parameter '{key}' must be one of {', '.join(choices)}, not '{shown}'")
    return str(value)


def quoted(text: str, limit: int = 60) -> str:
    """A short one-line quote of matched text for a reason (the full text stays in the turn)."""
    return '"' + one_line(text, limit) + '"'


def literal_pattern(needles: Iterable[str], case_sensitive: bool) -> re.Pattern[str]:
    """One alternation for many literal strings; runs of whitespace in a needle match any whitespace,
    so a reply that re-wraps a line still matches."""
    return _literal_pattern(tuple(sorted(set(needles), key=lambda n: (-len(n), n))), case_sensitive)


@lru_cache(maxsize=256)
def _literal_pattern(needles: tuple[str, ...], case_sensitive: bool) -> re.Pattern[str]:
    parts = []
    for needle in needles:  # longest first: the fullest match wins at a given position
        words = needle.split()
        parts.append(r"\s+".join(re.escape(w) for w in words) if words else re.escape(needle))
    return re.compile("|".join(parts), 0 if case_sensitive else re.IGNORECASE)
