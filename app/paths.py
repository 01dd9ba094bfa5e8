"""The data dir and the database location.

Precedence: ``--home DIR`` (the CLI sets ``REDLINE_HOME`` from it), then the
``REDLINE_HOME`` environment variable, then the platform's user data dir.
Nothing is created at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "REDLINE_HOME"
DB_FILENAME = "redline.db"


def home_dir(create: bool = True) -> Path:
    """The folder that holds the store; created on first use, not on import.

    ``create=False`` only names it, for readers that look for optional files
    (``catalog.d``) and must not leave an empty data dir behind. Created, it
    is owner-only (0700, :mod:`app.private`): it holds every transcript.
    """
    override = os.environ.get(ENV_HOME)
    if override:
        path = Path(override).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("redline", appauthor=False))
    if create:
        from app.private import private_dir

        private_dir(path, "the data dir")
    return path


def db_path() -> Path:
    return home_dir() / DB_FILENAME


def set_home(path: str | os.PathLike[str]) -> None:
    """Point the whole process (and any child servers) at another data dir."""
    os.environ[ENV_HOME] = str(Path(path).expanduser().resolve())
