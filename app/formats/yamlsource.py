"""The one place that reads user YAML, and turns validation errors into located, plain problems.

``yaml.safe_load`` forgets where each value came from, so a pydantic error can
only say ``systems.0.target.api_key``. Here the document is composed into
nodes first (safe constructor only: no Python objects, ever), the node marks are
kept in a :class:`LocationIndex`, and every error becomes a
:class:`~app.errors.Problem` with file, line, column, a dotted field and a
sentence a tester can act on. Duplicate mapping keys, which PyYAML silently
resolves to the last one, are errors too: in an engagement file the first
``api_key`` being quietly ignored is exactly the kind of surprise to avoid.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.errors import FieldValueError, FileFormatError, Problem
from app.formats.plainwords import did_you_mean, plain_message  # noqa: F401  (did_you_mean: re-exported for the loaders)
from app.formats.yamlwrite import dump_yaml  # noqa: F401  (re-exported: the writer lives beside the reader)

DataPath = tuple[str | int, ...]
# Far beyond any real engagement or scenario file; stops a few nested aliases expanding to billions.
MAX_EXPANDED_NODES = 200_000
# The bundled files are under 10 KB; a file past this is refused before it is read, not parsed for a minute.
MAX_YAML_BYTES = 4 * 1024 * 1024
# Nesting past this is refused while composing: PyYAML's composer recurses once per level.
MAX_YAML_DEPTH = 64
Position = tuple[int, int]  # (line, column), both 1-based
M = TypeVar("M", bound=BaseModel)

# Fields whose input is never echoed back in a message: it may be a secret.
_SECRET_KEYS = frozenset({"api_key", "revoked_key", "headers"})

@dataclass
class LocationIndex:
    """Where each value of a loaded document sits in its file.

    ``keys`` holds the position of the key that introduces a mapping entry,
    ``values`` the position of every value (list items have only this one) and
    ``spans`` each value's character offsets into ``source``.
    """

    source: str = ""
    keys: dict[DataPath, Position] = field(default_factory=dict)
    values: dict[DataPath, Position] = field(default_factory=dict)
    spans: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def key(self, path: DataPath) -> Position | None:
        return self.keys.get(tuple(path))

    def value(self, path: DataPath) -> Position | None:
        return self.values.get(tuple(path))

    def get(self, path: DataPath) -> Position | None:
        """The key's position for a mapping entry, else the value's (a list item)."""
        path = tuple(path)
        return self.keys.get(path) or self.values.get(path)

    def nearest(self, path: DataPath) -> Position:
        """The position of ``path`` or of its closest ancestor that exists in the file."""
        path = tuple(path)
        while path:
            found = self.get(path)
            if found:
                return found
            path = path[:-1]
        return self.values.get((), (1, 1))

    def span(self, path: DataPath) -> tuple[int, int] | None:
        return self.spans.get(tuple(path))

    def __getitem__(self, path: DataPath) -> Position:
        found = self.get(path)
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self.get(path) is not None


class _Loader(yaml.SafeLoader):
    """SafeLoader whose impossible dates stay text, and that refuses nesting deeper than ``MAX_YAML_DEPTH``.

    The depth is counted as nodes are composed, so a hostile file stops at the
    first level past the limit, with that level's line and column, before any
    recursive step (composing, walking, constructing) can exhaust the stack.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_YAML_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _lenient_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:  # e.g. 2026-02-30: the resolver says "date", the calendar says no
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _lenient_timestamp)


def field_name(path: Iterable[str | int]) -> str:
    """``("systems", 0, "target", "api_key")`` -> ``systems[0].target.api_key``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_text(path: Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """A user file's text, exactly as written (newlines untranslated), or a located error.

    The size is checked before reading, and the read itself stops past
    ``max_bytes`` (the file may grow, or not be a regular file).
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(raw) > max_bytes:
            raise FileFormatError([Problem(str(path), None, None, "", f"is {max(size, len(raw)):,} bytes, more "
                                           f"than the {max_bytes:,}-byte limit for a YAML file")])
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise FileFormatError([Problem(str(path), None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise FileFormatError([Problem(str(path), None, None, "", "is a folder, not a file")]) from None
    except PermissionError:
        raise FileFormatError([Problem(str(path), None, None, "", "cannot be read (permission denied)")]) from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            [Problem(str(path), None, None, "", f"is not UTF-8 text (byte {exc.start})")]
        ) from None


def load_yaml(path: Path) -> tuple[Any, LocationIndex]:
    """Parse ``path`` with safe-load semantics; return the data and where each part of it is."""
    return parse_yaml(read_text(path), path)


def parse_yaml(text: str, path: Path | str) -> tuple[Any, LocationIndex]:
    """As :func:`load_yaml`, for text already read (``path`` only names it in errors)."""
    try:
        loader = _Loader(text)  # the reader rejects control characters here, before any parsing
    except yaml.reader.ReaderError as exc:
        raise FileFormatError([_reader_problem(exc, text, str(path))]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LocationIndex(source=text)
        index = LocationIndex(source=text)
        problems: list[Problem] = []
        _walk(loader, node, (), index, problems, str(path), set())
        if problems:
            raise FileFormatError(problems)
        if _expanded_size(node, {}) > MAX_EXPANDED_NODES:
            raise FileFormatError([Problem(str(path), *_pos(node.start_mark), "", _too_large(node))])
        data = loader.construct_document(node)
        return data, index
    except yaml.MarkedYAMLError as exc:
        raise FileFormatError([_yaml_problem(exc, str(path))]) from None
    except yaml.YAMLError as exc:
        raise FileFormatError([Problem(str(path), None, None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()


def _too_large(node: yaml.Node) -> str:
    """Why the document is too large: its own values, or what its aliases expand to."""
    if _distinct_nodes(node) > MAX_EXPANDED_NODES:
        return f"has more than {MAX_EXPANDED_NODES:,} values; split it into several files"
    return "too large once its aliases (*name) are expanded"


def _distinct_nodes(node: yaml.Node) -> int:
    """How many nodes the file itself holds, each alias target counted once (no recursion)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(part for pair in current.value for part in pair)
    return len(seen)


_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x1b: "ESC", 0x7f: "DEL"}


def _reader_problem(exc: yaml.reader.ReaderError, text: str, path: str) -> Problem:
    """A character YAML forbids (a raw control character), named and located without echoing it."""
    position = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    name = _CONTROL_NAMES.get(code, "character")
    return Problem(path, line, column, "", f"invalid YAML: the control character {name} (U+{code:04X}) cannot "
                   "appear in a YAML file; write it as an escape in a double-quoted string (e.g. \\x1b)")


def _yaml_problem(exc: yaml.MarkedYAMLError, path: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    what = exc.problem or exc.context or "cannot parse"
    if exc.context and exc.problem:
        what = f"{exc.context}, {exc.problem}"
    return Problem(path, line, column, "", f"invalid YAML: {what}")


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the document has with every alias expanded (memoised, so linear in the file)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once
    if isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    else:
        total = 1
    sizes[id(node)] = total
    return total


def _pos(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)


def _walk(loader: yaml.SafeLoader, node: yaml.Node, path: DataPath, index: LocationIndex,
          problems: list[Problem], file: str, walked: set[int]) -> None:
    """Record positions under ``path`` and report duplicate keys.

    A node reached again through an alias is not walked again: its content
    was indexed at the anchor, and re-walking would let a few nested aliases
    ("billion laughs") cost exponential time. Paths under the alias then
    resolve, via :meth:`LocationIndex.nearest`, to the aliased node.
    """
    index.values.setdefault(path, _pos(node.start_mark))
    index.spans.setdefault(path, (node.start_mark.index, node.end_mark.index))
    if id(node) in walked:
        return
    walked.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, path + (i,), index, problems, file, walked)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # ``<<: *base``: the constructor merges; positions come from the anchor
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # the constructor reports unhashable keys with its own mark
            key = loader.construct_object(key_node, deep=True)
            where = _pos(key_node.start_mark)
            if key in seen:
                problems.append(Problem(
                    file, *where, field_name(path + (key,)),
                    f"duplicate key '{key}' (first at line {seen[key][0]})",
                ))
                continue
            seen[key] = where
            index.keys[path + (key,)] = where
            _walk(loader, value_node, path + (key,), index, problems, file, walked)


# ---------------------------------------------------------------- validation


def validate(model_cls: type[M], data: Any, locations: LocationIndex, path: Path | str, *,
             context: dict[str, Any] | None = None, at: DataPath = ()) -> M:
    """``model_cls`` built from ``data``, or a :class:`FileFormatError` with one problem per error.

    ``at`` is where ``data`` sits inside the document (e.g. ``(2,)`` for the
    third scenario of a list file): positions and field names are given from
    the document's root, so they match what the tester sees in the file.
    """
    try:
        return model_cls.model_validate(data, context=context)
    except ValidationError as exc:
        problems = explain(exc, model_cls, data, locations, path, at=at)
        raise FileFormatError(problems) from None


def explain(exc: ValidationError, model_cls: type[BaseModel], data: Any, locations: LocationIndex,
            path: Path | str, *, at: DataPath = ()) -> list[Problem]:
    """The located, plain-words problems behind a pydantic ``ValidationError``."""
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        problem = _problem(err, model_cls, data, locations, str(path), at)
        ident = (problem.line, problem.column, problem.field, problem.message)
        if ident not in seen:
            seen.add(ident)
            problems.append(problem)
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return problems


def _problem(err: Any, model_cls: type[BaseModel], data: Any, locations: LocationIndex,
             file: str, at: DataPath) -> Problem:
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    rel, leaf = _data_path(tuple(err["loc"]), data)
    error = ctx.get("error")
    if isinstance(error, FieldValueError):
        rel = rel + tuple(error.at)
    full = at + rel
    secret = any(part in _SECRET_KEYS for part in full if isinstance(part, str))
    message = plain_message(err, model_cls, secret)
    if kind == "union_tag_not_found":
        leaf = str(ctx.get("discriminator", "type")).strip("'")
        kind = "missing"
    if kind == "missing" and leaf is not None:
        # The key is absent: point at the mapping it belongs in.
        line, column = locations.key(full) or locations.nearest(full)
        return Problem(file, line, column, field_name(full + (leaf,)), message)
    if kind == "union_tag_invalid":
        full = full + ("type",)
    if kind == "extra_forbidden":
        position = locations.key(full) or locations.nearest(full)
    else:
        position = locations.value(full) or locations.nearest(full)
    return Problem(file, position[0], position[1], field_name(full), message)


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[DataPath, str | None]:
    """Map a pydantic ``loc`` onto the data: drop union tags; split off a missing key.

    Returns the path of the value the error is about and, for a missing key,
    the key's name (the path then being its would-be parent).
    """
    path: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict):
            is_tag = not last and isinstance(part, str) and (
                part not in current or current.get("type") == part
            )
            if is_tag:
                continue  # a discriminated union names the member it tried
            if part in current:
                path.append(part)
                current = current[part]
            elif last and isinstance(part, str):
                return tuple(path), part
            else:
                path.append(part)
                current = None
        else:
            path.append(part)
            current = None
    return tuple(path), None
