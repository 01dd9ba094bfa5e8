"""Canonical JSON, written as it is produced.

Every JSON file in a bundle goes through here so that the same data always
gives the same bytes (sorted keys, UTF-8, one layout) and so that large lists
(runs, verdicts, OSCAL observations) can be generators: they are encoded one
element at a time and never held in memory whole.

The layout: objects are indented one space per level; each element of a list
is one compact line. That keeps a 10,000-turn file readable and diff-friendly
and lets the C encoder do the heavy work (Python's ``json`` falls back to its
pure-Python encoder whenever ``indent`` is set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

INDENT = 1
# A lone surrogate (which a model's JSON can smuggle in as "\\ud800") cannot be written as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")


def compact(value: Any) -> str:
    """One value on one line, sorted keys; raises TypeError if it holds something lazy.

    Text stays readable UTF-8; only a value holding a lone surrogate is written
    with ASCII escapes, which round-trip it exactly.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))
    if not text.isascii() and _SURROGATE.search(text):  # ASCII holds no surrogate: most lines skip the scan
        return json.dumps(value, ensure_ascii=True, allow_nan=False, sort_keys=True, separators=(",", ":"))
    return text


def iter_json(value: Any, level: int = 0) -> Iterator[str]:
    """Text pieces of ``value`` as canonical JSON; any non-string iterable is encoded as a list."""
    if value is None or isinstance(value, (str, bool, int, float)):
        yield compact(value)
        return
    pad = "\n" + " " * (INDENT * (level + 1))
    end = "\n" + " " * (INDENT * level)
    if isinstance(value, Mapping):
        if not value:
            yield "{}"
            return
        first = True
        for key in sorted(value):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            yield ("{" if first else ",") + pad + compact(key) + ": "
            yield from iter_json(value[key], level + 1)
            first = False
        yield end + "}"
        return
    if isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray)):
        first = True
        for item in value:
            prefix = ("[" if first else ",") + pad
            first = False
            try:
                yield prefix + compact(item)
            except TypeError:  # the item holds a generator: walk it
                yield prefix
                yield from iter_json(item, level + 1)
        yield "[]" if first else end + "]"
        return
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """The whole canonical text (for small documents), with a final newline."""
    return "".join(iter_json(value)) + "\n"


def line(value: Any) -> str:
    """One compact JSONL line with sorted keys (for transcripts and the audit trail)."""
    return compact(value) + "\n"
