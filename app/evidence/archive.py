"""Writing the bundle's zip: fixed entry dates, streamed entries, a SHA-256 of every file as it is written.

Entries are written through ``ZipFile.open(..., "w")`` so a large transcript
or report never sits in memory whole. Every entry carries the same date
(1980-01-01, the earliest a zip can hold) and the same attributes, so two
exports of the same data give the same bytes. The archive is built under a
temporary name and moved into place only when complete: a failed export
leaves nothing behind that could be mistaken for evidence.

Both the ``.partial`` file and the bundle are owner-only (0600,
:mod:`app.private`). While an export runs, it holds a lock file in the data
dir's ``exports/`` folder naming its ``.partial``; a process killed mid-export
leaves that lock free, and :func:`sweep_unfinished_exports` (run at the next
start) deletes the half-written file it names. A ``.partial`` found at the
same path by the next export is truncated and reused, never appended to.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO

from app import locks
from app.private import open_private, private_dir

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FLUSH_AT = 1 << 16
_JOIN_PIECES = 1024


def fixed_info(name: str) -> zipfile.ZipInfo:
    """A zip entry dated 1980-01-01, deflated, Unix, mode 0644: the same bytes for the same content, always."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


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
        self._claim = _claim(self._partial)
        try:
            self._handle = open_private(self._partial)
        except BaseException:
            _release(self._claim)
            raise
        self._zip = zipfile.ZipFile(self._handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.entries: list[Entry] = []
        self._names: set[str] = set()  # every name written: a duplicate is refused without scanning the entries

    def _info(self, name: str) -> zipfile.ZipInfo:
        if name in self._names:
            raise ValueError(f"duplicate bundle entry {name}")
        self._names.add(name)
        return fixed_info(name)

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
        """Text pieces into one entry. A template yields a piece per tag and value (a million for a large
        report), so they are joined a thousand at a time before they reach the sink."""
        pieces = iter(chunks)
        with self.text(name) as sink:
            while batch := "".join(islice(pieces, _JOIN_PIECES)):
                sink.write(batch)

    def write_file(self, name: str, source: Path) -> None:
        with source.open("rb") as handle:
            self.write_stream(name, handle)

    def write_stream(self, name: str, source: IO[bytes]) -> None:
        with self.binary(name) as writer:
            while chunk := source.read(1 << 16):
                writer.write(chunk)

    def commit(self) -> None:
        self._zip.close()
        self._handle.close()
        os.replace(self._partial, self.path)
        _release(self._claim)

    def abort(self) -> None:
        try:
            self._zip.close()
            self._handle.close()
        finally:
            self._partial.unlink(missing_ok=True)
            _release(self._claim)


# ------------------------------------------------------------ unfinished exports

_Claim = tuple[Path, int | None]


def _claims_dir() -> Path:
    from app.paths import home_dir

    return private_dir(home_dir() / "exports", "the exports folder")


def _claim(partial: Path) -> _Claim:
    """Name ``partial`` in a lock file held for as long as this export runs (none without file locks)."""
    absolute = partial.absolute()
    lock = _claims_dir() / (hashlib.sha256(str(absolute).encode()).hexdigest()[:24] + ".lock")
    if not locks.AVAILABLE:  # Windows: no sweep; a re-export still reuses its .partial safely
        return lock, None
    fd = locks.acquire(lock)
    if fd is None:
        from app.errors import RedlineError

        raise RedlineError(f"{partial.with_suffix('')} is being exported by another Redline process")
    os.ftruncate(fd, 0)
    os.write(fd, os.fsencode(str(absolute)))
    return lock, fd


def _release(claim: _Claim) -> None:
    lock, fd = claim
    if fd is not None:
        locks.release(lock, fd)


def sweep_unfinished_exports() -> list[str]:
    """Delete the ``.partial`` files of exports whose process died; one notice per file removed.

    A lock still held belongs to an export in progress (this process's or
    another's) and is left alone. Only a regular file whose name ends in
    ``.partial`` is ever deleted: the lock file's content is not trusted to
    point anywhere else.
    """
    from app.paths import home_dir

    folder = home_dir(create=False) / "exports"
    if not locks.AVAILABLE or not folder.is_dir():
        return []
    notices: list[str] = []
    for lock in sorted(folder.glob("*.lock")):
        fd = locks.acquire(lock, create=False)
        if fd is None:
            continue
        try:
            if os.fstat(fd).st_ino != os.stat(lock).st_ino:
                os.close(fd)
                continue  # released and claimed anew since it was opened: a live export's
            partial = Path(os.fsdecode(os.read(fd, 1 << 16)))
            if partial.name.endswith(".partial") and partial.is_file() and not partial.is_symlink():
                partial.unlink()
                notices.append(f"removed {partial}, left half-written by an export that was stopped")
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        locks.release(lock, fd)
    return notices


def repack(src: Path, dst: Path) -> None:
    """Copy a zip (an XLSX, a DOCX) with every entry dated 1980-01-01 and fixed attributes.

    Office libraries stamp their zip entries with the current time; this keeps
    the same evidence exporting to the same bytes.
    """
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zout:
        for info in zin.infolist():
            with zin.open(info) as source, zout.open(fixed_info(info.filename), "w") as target:
                while chunk := source.read(1 << 16):
                    target.write(chunk)
