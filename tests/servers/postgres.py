"""A real PostgreSQL server for the test session: ``initdb`` and ``pg_ctl`` in a temp dir, on a loopback port.

PostgreSQL refuses to run as root, so when the tests run as root the cluster
belongs to ``nobody`` (the temp dir is handed to it). The superuser ``redline``
has a password and host connections need it (SCRAM), so the tests reach the
server the way a team would: the password through Redline's secret sources
(``REDLINE_KEY_DATABASE``), never in the URL.

Without server binaries the PostgreSQL half of the suite is skipped, with a
message naming what is missing; under ``CI=true`` missing binaries fail
instead, so CI cannot pass by skipping. ``REDLINE_PG_BIN`` names the folder of
``initdb``/``pg_ctl``/``postgres`` when they are not on the PATH or in
``/usr/lib/postgresql/<version>/bin``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

USER = "redline"
PASSWORD = "test-only-db-secret"
_names = itertools.count(1)


def server_binaries() -> tuple[Path | None, str]:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None and why not."""
    candidates = [os.environ.get("REDLINE_PG_BIN", "")]
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in filter(None, candidates):
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder), ""
    return None, ("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on the PATH, in "
                  "/usr/lib/postgresql/*/bin or in $REDLINE_PG_BIN; install the `postgresql` package to run "
                  "the PostgreSQL half of these tests")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin: Path
    root: Path
    port: int = field(default_factory=_free_port)
    uid: int | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, tool: str, *args: str) -> None:
        kwargs: dict[str, Any] = {"user": self.uid, "group": self.uid} if self.uid is not None else {}
        done = subprocess.run([str(self.bin / tool), *args], capture_output=True, text=True, timeout=120,
                              cwd=self.root, **kwargs)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def start(self) -> PostgresServer:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD)
        if self.uid is not None:
            for path in (self.root, pwfile):
                os.chown(path, self.uid, self.uid)
        self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "-t", "60",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A URL without its password: that comes from the secret sources, as it would for a team."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD,
                               dbname="postgres", autocommit=True)

    def create_database(self) -> str:
        name = f"redline_t{os.getpid()}_{next(_names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server() -> Iterator[PostgresServer]:
    """The session's server, or a skip (a failure under CI) saying why there is none."""
    folder, why = server_binaries()
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        folder, why = None, "the PostgreSQL driver is not installed (pip install -e '.[test]' brings psycopg)"
    if folder is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs both backends: {why}")
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    uid = None
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        import pwd

        uid = pwd.getpwnam("nobody").pw_uid
    root = Path(tempfile.mkdtemp(prefix="redline-pg-"))
    server = PostgresServer(folder, root, uid=uid)
    try:
        server.start()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from start_server()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database on the session's server; the password reaches Redline by its secret sources."""
    from app.store.engine import dispose_all

    name = postgres_server.create_database()
    monkeypatch.setenv("REDLINE_KEY_DATABASE", PASSWORD)
    try:
        yield postgres_server.url(name)
    finally:
        dispose_all()
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once on the embedded SQLite store and once on a fresh PostgreSQL database.

    The store is chosen the way a user chooses it (``REDLINE_DATABASE_URL``),
    so the code under test is exactly what runs in production.
    """
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("REDLINE_DATABASE_URL", url)
    from app.store.engine import dispose_all

    dispose_all()
    return str(request.param)
