"""Which store this process uses: the embedded SQLite file, or a shared server named by a URL.

A team shares one engagement through a server (PostgreSQL); a tester alone keeps
the SQLite file in the data dir. ``--database-url`` (the CLI sets
``REDLINE_DATABASE_URL`` from it) or ``REDLINE_DATABASE_URL`` names the server
with any SQLAlchemy URL; with neither, the store is ``<data dir>/redline.db``.

The password is not meant to sit in the URL: it comes from the same secret
sources as a target's key (:mod:`app.secrets`): the keyring entry ``database``
(``redline secrets set database``) or, without a keyring, the environment
variable ``REDLINE_KEY_DATABASE``. A password that is in the URL still works,
and every place the URL is shown masks it (:func:`masked`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import RedlineError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

ENV_URL = "REDLINE_DATABASE_URL"
PASSWORD_KEY = "database"  # the keyring entry (and REDLINE_KEY_DATABASE) holding the server's password
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SUPPORTED = (SQLITE, POSTGRESQL)


class StoreURLError(RedlineError):
    """The database URL cannot be used; the message names the variable or flag it came from."""


@dataclass(frozen=True)
class StoreLocation:
    """A store as this process reaches it: the URL with its password, and how to show it."""

    url: URL
    origin: str  # where the URL came from: "--database-url", "REDLINE_DATABASE_URL", "the data dir"

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def shown(self) -> str:
        return masked(self.url)

    @property
    def sqlite_path(self) -> Path | None:
        """The file of an SQLite store (None for a server)."""
        if self.backend != SQLITE or not self.url.database or self.url.database == ":memory:":
            return None
        return Path(self.url.database)


def set_database_url(url: str) -> None:
    """Point the whole process (and any child process) at the store ``url`` names."""
    os.environ[ENV_URL] = url


def masked(url: URL | str) -> str:
    """The URL as it may be shown: any password replaced by ``***``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def parse(raw: str, origin: str) -> URL:
    """A URL given by the user, checked and given the driver Redline ships for its backend."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw.strip())
    except ArgumentError:
        # The raw text may hold a password: name only its origin and what shape is wanted.
        raise StoreURLError(f"{origin}: not a database URL (expected e.g. postgresql://user@host:5432/redline "
                            f"or sqlite:////path/to/redline.db)") from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED:
        raise StoreURLError(f"{origin}: {masked(url)} uses {backend!r}; Redline's store runs on "
                            f"{' or '.join(SUPPORTED)}")
    if backend == POSTGRESQL and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")  # the driver in the `postgres` extra
    return url


def with_password(url: URL) -> URL:
    """A server URL without a password gets one from the keyring or environment, if one is kept there."""
    if url.get_backend_name() == SQLITE or url.password is not None:
        return url
    from app.formats.engagement import KeyRef
    from app.secrets import SecretResolver, SecretUnavailable

    try:
        password = SecretResolver().resolve(KeyRef(keyring=PASSWORD_KEY))
    except SecretUnavailable:
        return url  # the server may need none (peer or trust authentication, a .pgpass file)
    return url.set(password=password)


_resolved: dict[str, StoreLocation] = {}


def current() -> StoreLocation:
    """The store this process uses now (a server's password is looked up once per URL, not per session)."""
    from sqlalchemy.engine import URL as SAURL

    raw = os.environ.get(ENV_URL, "").strip()
    if raw:
        if raw not in _resolved:
            _resolved[raw] = StoreLocation(with_password(parse(raw, ENV_URL)), ENV_URL)
        return _resolved[raw]
    from app.paths import db_path

    return StoreLocation(SAURL.create(SQLITE, database=str(db_path().resolve())), "the data dir")


def at(raw: str, origin: str) -> StoreLocation:
    """A store named on the command line (``redline migrate --from/--to``)."""
    url = parse(raw, origin)
    if url.get_backend_name() == SQLITE and url.database:
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    return StoreLocation(with_password(url), origin)


def describe() -> str:
    """One line for the cockpit and ``--version``-style output: which store, password masked."""
    location = current()
    if location.sqlite_path is not None:
        return f"SQLite {location.sqlite_path}"
    return f"PostgreSQL {location.shown}"
