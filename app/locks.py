"""Exclusive file locks that the OS drops when their process dies, however it dies.

A run being run and an export being written each hold one, in the data dir
(``runs/<id>.lock``, ``exports/<digest>.lock``). Whoever finds such a lock free
knows its process is gone: the run was interrupted, the ``.partial`` was left
half-written. Without ``fcntl`` (Windows) there are no locks: ``AVAILABLE`` is
false and callers say what they do instead.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

AVAILABLE = fcntl is not None
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def acquire(path: Path, *, create: bool = True) -> int | None:
    """A descriptor holding ``path``'s lock, or None if another holder has it (or, without ``create``, it is gone).

    The lock file is created 0600 and never through a symlink.
    """
    assert fcntl is not None, "callers check AVAILABLE first"
    flags = os.O_RDWR | _NOFOLLOW | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(path: Path, fd: int) -> None:
    """Remove the lock file, then let go of the lock (closing the descriptor drops it)."""
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether some process (this one included) holds ``path``'s lock right now."""
    if fcntl is None or not path.exists():
        return False
    fd = acquire(path, create=False)
    if fd is None:
        return path.exists()  # held, unless it vanished between the two looks
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return False
