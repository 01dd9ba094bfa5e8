"""Owner-only files and folders, whatever the umask, as ssh and gpg keep theirs.

The store holds every prompt and answer of an engagement, and an export is the
evidence a CPA firm receives: on a shared or stolen machine neither may be
readable by another account. The data dir and every folder Redline makes in it
are 0700; the store, its WAL and SHM files, exports and their ``.partial``
files are 0600. Modes are set explicitly after creation, so a permissive umask
cannot widen them; an existing store found looser is tightened, and the
change is reported (:func:`take_notices`) rather than made silently.

Files are opened without following a symlink at the final component, so a
link planted where an export or the store will be written cannot redirect it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600
_notices: list[str] = []


def take_notices() -> list[str]:
    """What was tightened since the last call (each once), for the CLI or the cockpit to show."""
    taken = list(_notices)
    _notices.clear()
    return taken


def _tighten(path: Path, mode: int, what: str) -> None:
    """Set ``mode`` on ``path`` if it grants anything to group or others; a notice says so."""
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return
    if path.is_symlink():
        return  # never chmod through a link
    if current & 0o077:
        try:
            os.chmod(path, mode)
        except OSError as exc:  # not ours to change (another owner): say so, and carry on
            _notices.append(f"{what} {path} is readable by other accounts ({current:o}) and cannot be made "
                            f"{mode:o} ({exc.strerror or exc})")
            return
        _notices.append(f"{what} {path} was readable by other accounts ({current:o}); it is now {mode:o}")


def shared_folder(path: Path) -> bool:
    """A folder every account may write in, guarded by the sticky bit (``/tmp``): never Redline's to tighten."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_ISVTX and mode & stat.S_IWOTH)


def private_dir(path: Path, what: str = "the folder") -> Path:
    """``path`` as a folder only its owner can enter: created 0700, or tightened with a notice.

    A shared folder (:func:`shared_folder`) is left as it is: tightening ``/tmp`` would break every other
    program on the machine, and the files Redline keeps in it are made owner-only one by one.
    """
    if path.is_dir():
        if not shared_folder(path):
            _tighten(path, DIR_MODE, what)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:  # a peer made it first; its mode is checked like any existing one
        _tighten(path, DIR_MODE, what)
        return path
    os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path, what: str = "the file") -> Path:
    """``path`` as a file only its owner can read: created empty at 0600 if missing, else tightened."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE, what)
        return path
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path) -> IO[bytes]:
    """``path`` opened for writing from empty (read-write, seekable), 0600 whatever it was before.

    An existing file (a ``.partial`` left by a killed export) is truncated and
    reused; a symlink at ``path`` is refused rather than followed.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "w+b")


def tighten_existing(path: Path, what: str = "the file") -> None:
    """Bring an existing file (a WAL or SHM file) to 0600 if it is looser; absent files are left absent."""
    _tighten(path, FILE_MODE, what)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
