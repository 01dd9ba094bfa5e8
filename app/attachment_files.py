"""Where attached files' bytes live, and the one copy of them that backup, restore and migrate share.

An attachment's row and its ``attachment.added`` event are in the database, but
its bytes are a file in the store's attachment folder (:mod:`app.attachments`).
Whatever copies a store (``redline backup``, ``redline restore``, ``redline
migrate``) must take those files along, or the copy holds rows whose evidence
is gone and every later verify and export fails on it.

:func:`root` is the one rule for where the folder is: beside the database file
for an SQLite store, and in this machine's data dir for a server, whose
database holds no file bytes. :func:`copy_files` is the one copy:

- each file is opened without following a symlink and read at most to its
  recorded size plus one byte: the limit it was attached under, so a file
  swapped for a larger one costs no more than the original;
- it is hashed while it is copied, and the copy takes its name only when its
  SHA-256 and size match the row; a file that no longer matches is reported
  and left out, never copied as good;
- copies are owner-only (0700 folders, 0600 files), written under a staging
  name and renamed once checked;
- a different file already at the destination is never replaced: it is
  reported as a conflict, and the caller decides (every caller refuses).
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store.location import StoreLocation

FOLDER = "attachments"  # the folder's name beside a store, and the attachments' folder in a bundle

_CHUNK = 1 << 16
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_COLUMNS = ("id", "engagement_id", "filename", "stored_name", "sha256", "size")


def root(location: StoreLocation | None = None) -> Path:
    """The attachment folder of the store at ``location`` (default: the one this process uses)."""
    from app.store.location import current

    location = location or current()
    if location.sqlite_path is not None:
        return beside(location.sqlite_path)
    from app.paths import home_dir

    return home_dir() / FOLDER  # a server's database holds rows, not bytes: they stay on this machine


def beside(sqlite_file: Path) -> Path:
    """The attachment folder of the SQLite store ``sqlite_file``: ``attachments/`` in the same folder."""
    return sqlite_file.parent / FOLDER


def in_backup(backup_file: Path) -> Path:
    """The folder a backup's attachments are kept in: ``FILE.attachments`` beside the copied database."""
    return backup_file.with_name(backup_file.name + "." + FOLDER)


def rows_in(sqlite_file: Path) -> list[dict[str, Any]]:
    """Every attachment row of an SQLite store, read straight from the file (a backup, a staged restore)."""
    with closing(sqlite3.connect(f"{sqlite_file.resolve().as_uri()}?mode=ro", uri=True)) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'attachment'").fetchone():
            return []  # a store from before attachments existed
        found = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM attachment ORDER BY id").fetchall()
    return [dict(zip(_COLUMNS, row, strict=True)) for row in found]


@dataclass
class FilesCopied:
    """What a copy of attachment files did: the files now in place, and every one it could not vouch for."""

    files: int = 0  # attachments whose checked bytes are at the destination
    bytes: int = 0
    problems: list[str] = field(default_factory=list)  # source missing or no longer matching its row
    conflicts: list[str] = field(default_factory=list)  # a different file already at the destination
    created: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.files} attachments ({self.bytes:,} bytes)"

    def undo(self) -> None:
        """Remove the files this copy created (the copy as a whole was refused)."""
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()


def _label(row: Mapping[str, Any]) -> str:
    return f"attachment {row['id']} ({row['filename']})"


def _place(row: Mapping[str, Any]) -> Path:
    """``<engagement id>/<stored name>``, refused if it could leave its folder or the row's figures are not
    numbers: a backup or a store from elsewhere is input, read before it is trusted."""
    name = str(row["stored_name"])
    if not name or name != Path(name).name or name.startswith(".") or "\x00" in name:
        raise ValueError(f"its stored name {name!r} is not a plain file name")
    engagement, size = row["engagement_id"], row["size"]
    if not isinstance(engagement, int) or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"its engagement {engagement!r} or size {size!r} is not a whole number")
    if not isinstance(row["sha256"], str):
        raise ValueError("its SHA-256 is not text")
    return Path(str(engagement)) / name


def _open_source(path: Path) -> int:
    """A read descriptor on a regular file at ``path``, never through a symlink; OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "not a regular file", str(path))
    return fd


def _digest(fd: int, size: int, sink: Any = None) -> str:
    """SHA-256 of what ``fd`` holds, reading at most ``size + 1`` bytes; a mismatch message, or ""."""
    digest, read = hashlib.sha256(), 0
    while read <= size:
        chunk = os.read(fd, min(_CHUNK, size + 1 - read))
        if not chunk:
            break
        read += len(chunk)
        if read > size:
            return f"its file is longer than the {size:,} bytes recorded"
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    if read < size:
        return f"its file holds {read:,} bytes, not the {size:,} recorded"
    return digest.hexdigest()


def _matches(path: Path, row: Mapping[str, Any]) -> str:
    """"" when the file at ``path`` holds exactly the row's bytes; else why not."""
    fd = _open_source(path)
    try:
        found = _digest(fd, int(row["size"]))
    finally:
        os.close(fd)
    return _verdict(found, row)


def _verdict(found: str, row: Mapping[str, Any]) -> str:
    """"" when ``found`` (a digest, or :func:`_digest`'s mismatch) is the row's SHA-256; else why not."""
    if len(found) != 64:
        return found
    return "" if found == row["sha256"] else (f"its file does not match the SHA-256 recorded when it was attached "
                                              f"({found[:16]}…, recorded {str(row['sha256'])[:16]}…)")


def _copy_one(row: Mapping[str, Any], source: Path, dest: Path, done: FilesCopied) -> None:
    from app.private import open_private, private_dir

    size = int(row["size"])
    if dest.exists() or dest.is_symlink():
        try:
            problem = _matches(dest, row)
        except OSError as exc:  # a link, a folder, a file we may not read: not ours to replace either
            problem = exc.strerror or str(exc)
        if problem:
            done.conflicts.append(f"{_label(row)}: {dest} already exists and holds other bytes; it was left as it is")
        else:
            done.files, done.bytes = done.files + 1, done.bytes + size  # already there, byte for byte
        return
    fd = _open_source(source)
    private_dir(dest.parent.parent, "the attachment folder")
    private_dir(dest.parent, "the attachment folder")
    staging = dest.parent / f".incoming-{os.getpid()}-{os.urandom(6).hex()}"
    try:
        with open_private(staging) as sink:
            problem = _verdict(_digest(fd, size, sink), row)
            sink.flush()
            os.fsync(sink.fileno())
        if problem:
            staging.unlink()
            done.problems.append(f"{_label(row)}: {problem}; not copied")
            return
        os.replace(staging, dest)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    done.created.append(dest)
    done.files, done.bytes = done.files + 1, done.bytes + size


def copy_files(rows: Iterable[Mapping[str, Any]], source_root: Path, target_root: Path) -> FilesCopied:
    """Copy each row's file from ``source_root`` to ``target_root``, checked; see the module docstring."""
    done = FilesCopied()
    for row in rows:
        try:
            relative = _place(row)
        except ValueError as exc:
            done.problems.append(f"{_label(row)}: {exc}; not copied")
            continue
        source, dest = source_root / relative, target_root / relative
        try:
            if source.resolve() == dest.resolve():  # the same folder serves both stores: check, copy nothing
                problem = _matches(source, row)
                if problem:
                    done.problems.append(f"{_label(row)}: {problem}")
                else:
                    done.files, done.bytes = done.files + 1, done.bytes + int(row["size"])
                continue
            _copy_one(row, source, dest, done)
        except FileNotFoundError:
            done.problems.append(f"{_label(row)}: its file {source} is missing; not copied")
        except OSError as exc:
            done.problems.append(f"{_label(row)}: its file {source} cannot be read "
                                 f"({exc.strerror or exc}); not copied")
    return done


__all__ = ["FOLDER", "FilesCopied", "beside", "copy_files", "in_backup", "root", "rows_in"]
