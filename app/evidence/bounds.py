"""What ``verify`` checks before it trusts a zip enough to read it: entry names, sizes and nesting.

A bundle handed to ``redline verify`` may come from anyone. Redline never
writes an entry with an absolute path, a ``..`` component, a backslash or a
symlink, so such an entry is a problem even when the manifest lists it with
the right hash: unzipping the bundle would write outside its folder. And a
small zip can declare a huge file: ``manifest.json`` and each audit line are
read only up to a limit, JSON is checked for nesting depth before it is
parsed (Python's parser recurses), and an entry whose declared size differs
from the manifest is reported without being decompressed. Every limit is a
field of :class:`VerifyLimits`, and ``redline verify`` can raise it.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class VerifyLimits:
    """How much of a bundle ``verify`` reads before calling it a problem, not a crash."""

    manifest_bytes: int = 16 * MIB  # a manifest of 100,000 files is about 15 MB
    audit_line_bytes: int = 8 * MIB  # one audit event, payload included
    json_depth: int = 64  # Redline's deepest document nests under 10 levels
    data_file_bytes: int = 512 * MIB  # data/runs.json, data/verdicts.json: 10,000 runs are about 20 MB
    transcript_line_bytes: int = 96 * MIB  # one turn: a capped raw body in base64 plus its text


# The limits ``verify`` uses unless told otherwise (one shared, immutable default).
DEFAULT_LIMITS = VerifyLimits()


class TooLarge(ValueError):
    """More bytes than the limit allows."""


def unsafe_entries(archive: zipfile.ZipFile) -> list[str]:
    """One problem per entry that no Redline export writes and that could escape the bundle's folder."""
    problems: list[str] = []
    for info in archive.infolist():
        name = info.filename
        why = _unsafe_name(name)
        if why is None and info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            why = "a symbolic link"
        if why is None and info.is_dir():
            why = "a folder entry"
        if why is not None:
            problems.append(f"unsafe entry: {name!r} is {why}; Redline never writes one")
    return problems


def _unsafe_name(name: str) -> str | None:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if "\\" in name:
        return "a path with a backslash"
    if any(part == ".." for part in name.split("/")):
        return "a path that climbs out of the bundle (..)"
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "a name with control characters"
    return None


def size_mismatch(info: zipfile.ZipInfo, listed_size: Any) -> bool:
    """Whether the zip's declared size already differs from the manifest's, so hashing can be skipped."""
    return info.file_size != listed_size


def read_bounded(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """An entry's bytes, never more than ``limit`` of them (the declared size may lie)."""
    if archive.getinfo(name).file_size > limit:
        raise TooLarge(f"{name} is larger than the {limit:,}-byte limit")
    with archive.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{name} is larger than the {limit:,}-byte limit")
    return data


def bounded_lines(handle: IO[bytes], limit: int) -> Iterator[tuple[int, bytes]]:
    """``(number, line)`` pairs, each line read only up to ``limit`` bytes."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit:
            raise TooLarge(f"line {number} is longer than the {limit:,}-byte limit")
        yield number, line


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of ``raw`` nest, counted without parsing (strings ignored)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(raw: bytes, max_depth: int) -> Any:
    """``json.loads`` that refuses, as a ``ValueError``, a document nested deeper than ``max_depth``."""
    if json_depth(raw) > max_depth:
        raise ValueError(f"nested more than {max_depth} levels deep")
    return json.loads(raw.decode("utf-8"))
