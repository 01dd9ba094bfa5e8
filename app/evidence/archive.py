"""Writing the bundle's zip: fixed entry dates, streamed entries, a SHA-256 of every file as it is written.

Entries are written through ``ZipFile.open(..., "w")`` so a large transcript
or report never sits in memory whole. Every entry carries the same date
(1980-01-01, the earliest a zip can hold) and the same attributes, so two
exports of the same data give the same bytes. The archive is built under a
temporary name and moved into place only when complete: a failed export
leaves nothing behind that could be mistaken for evidence.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable, Iterator

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FLUSH_AT = 1 << 16


@dataclass(frozen=True)
class Entry:
    path: str
    size: int
    sha256: str


class _HashingWriter:
    """Bytes to a zip entry, counted and hashed on the way."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._target.write(data)
        return len(data)


class TextSink:
    """A minimal text file (``write(str)``) over a hashing writer, buffered, UTF-8."""

    def __init__(self, writer: _HashingWriter) -> None:
        self._writer = writer
        self._parts: list[str] = []
        self._pending = 0

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._pending += len(text)
        if self._pending >= _FLUSH_AT:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            # JSON arrives surrogate-free (jsonstream escapes them); in a report or CSV a lone
            # surrogate from hostile output becomes "?" instead of failing the export.
            self._writer.write("".join(self._parts).encode("utf-8", "replace"))
            self._parts, self._pending = [], 0


class BundleArchive:
    """The zip being written; ``entries`` lists every file with its size and hash, in write order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        self._zip = zipfile.ZipFile(self._partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.entries: list[Entry] = []

    def _info(self, name: str) -> zipfile.ZipInfo:
        if any(e.path == name for e in self.entries):
            raise ValueError(f"duplicate bundle entry {name}")
        info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        return info

    @contextmanager
    def binary(self, name: str) -> Iterator[_HashingWriter]:
        with self._zip.open(self._info(name), "w", force_zip64=True) as handle:
            writer = _HashingWriter(handle)
            yield writer
        self.entries.append(Entry(name, writer.size, writer.digest.hexdigest()))

    @contextmanager
    def text(self, name: str) -> Iterator[TextSink]:
        with self.binary(name) as writer:
            sink = TextSink(writer)
            yield sink
            sink.flush()

    def write_chunks(self, name: str, chunks: Iterable[str]) -> None:
        with self.text(name) as sink:
            for chunk in chunks:
                sink.write(chunk)

    def write_file(self, name: str, source: Path) -> None:
        with self.binary(name) as writer, source.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                writer.write(chunk)

    def commit(self) -> None:
        self._zip.close()
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        self._zip.close()
        self._partial.unlink(missing_ok=True)


def repack(src: Path, dst: Path) -> None:
    """Copy a zip (an XLSX, a DOCX) with every entry dated 1980-01-01 and fixed attributes.

    Office libraries stamp their zip entries with the current time; this keeps
    the same evidence exporting to the same bytes.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            with zin.open(info) as source, zout.open(fixed, "w") as target:
                while chunk := source.read(1 << 16):
                    target.write(chunk)
