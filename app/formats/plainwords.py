"""Pydantic validation errors in plain words, for people editing YAML by hand.

A raw pydantic message ("Input should be 'high', 'medium' or 'low'") is
written for Python programmers; these say what the file needs ("expected one
of 'high', 'medium', 'low', got 'critical'"), suggest the key that was meant,
and never repeat a value from a field that may hold a secret.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

# Patterns used by the models, in words.
_PATTERN_WORDS = {
    r"^[a-z0-9][a-z0-9._-]*$": "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$": "use letters, digits, '.', '_' and '-', starting with a letter or digit",
}


def _show(value: Any) -> str:
    """A short, YAML-flavoured rendering of an input value for a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return "'" + text.replace("\n", "\\n") + "'"


def _got(err: Any, secret: bool) -> str:
    return "" if secret else f", got {_show(err.get('input'))}"


_TYPE_WORDS = {
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "date_type": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)", "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
    "datetime_type": "a date and time", "datetime_parsing": "a date and time",
}
_BOUNDS = {
    "greater_than": ("must be greater than", "gt"), "greater_than_equal": ("must be at least", "ge"),
    "less_than": ("must be less than", "lt"), "less_than_equal": ("must be at most", "le"),
}


def plain_message(err: Any, model_cls: type[BaseModel], secret: bool) -> str:
    """One pydantic error dict as a sentence; ``secret`` keeps the input value out of it."""
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    loc = tuple(err["loc"])
    if kind == "extra_forbidden":
        name = str(loc[-1])
        hint = did_you_mean(name, _allowed_keys(model_cls, loc[:-1]))
        return f"unknown key '{name}'{hint}"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    if kind == "literal_error":
        return f"expected one of {_choices(ctx.get('expected', ''))}{_got(err, secret)}"
    if kind == "union_tag_invalid":
        return f"expected one of {_choices(ctx.get('expected_tags', ''))}{_got_tag(ctx)}"
    if kind == "union_tag_not_found":
        return f"missing required key '{str(ctx.get('discriminator', 'type')).strip(chr(39))}'"
    if kind == "string_type" and isinstance(err.get("input"), (int, float, bool, _dt.date)) and not secret:
        raw = _show(err.get("input"))
        return f"expected text, got {raw} (put it in quotes: '{raw}')"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}{_got(err, secret)}"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{words} {bound}{_got(err, secret)}"
    if kind == "too_short":
        need = ctx.get("min_length", 1)
        return f"needs at least {need} item{'s' if need != 1 else ''}"
    if kind == "too_long":
        most = ctx.get("max_length")
        return f"has too many items (at most {most})"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        words = _PATTERN_WORDS.get(pattern, f"it must match {pattern}")
        return f"{_show(err.get('input'))} is not allowed here ({words})"
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        return str(error) if error is not None else err["msg"].removeprefix("Value error, ")
    return err["msg"][:1].lower() + err["msg"][1:]


def _choices(expected: str) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as ``'a', 'b', 'c'``."""
    return expected.replace(" or ", ", ")


def _got_tag(ctx: dict[str, Any]) -> str:
    tag = ctx.get("tag")
    return f", got '{tag}'" if tag is not None else ""


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or "" when none is close enough to help."""
    close = difflib.get_close_matches(value, sorted(options), n=1, cutoff=0.7)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _allowed_keys(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found at ``loc`` (for did-you-mean hints); [] if unclear."""
    current: Any = model_cls
    for part in loc:
        current = _step_into(current, part)
        if current is None:
            return []
    models = _models_in(current)
    return list(models[0].model_fields) if len(models) == 1 else []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _step_into(annotation: Any, part: Any) -> Any:
    """Follow one ``loc`` element through an annotation: a field, a list index or a union tag."""
    models = _models_in(annotation)
    if isinstance(part, int):
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (list, tuple, set) and args:
            return args[0]
        for arg in args:
            if typing.get_origin(arg) in (list, tuple, set) or typing.get_origin(arg) is typing.Annotated:
                found = _step_into(arg, part)
                if found is not None:
                    return found
        return None
    for model in models:
        if part in model.model_fields:
            if len(models) == 1:
                return model.model_fields[part].annotation
        type_field = model.model_fields.get("type")
        if type_field is not None and type_field.default == part:
            return model  # the union member a discriminated union picked
        literal = type_field.annotation if type_field is not None else None
        if literal is not None and part in typing.get_args(literal):
            return model
    return None
