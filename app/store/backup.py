"""Consistent copies of the store, and putting one back, while other processes use it.

Copying ``redline.db`` with ``cp`` while a run writes can catch the file
between its WAL and its checkpoint and give a torn copy. :func:`backup_store`
uses SQLite's online backup API instead: it copies the pages of one read
transaction, which in WAL mode neither blocks the writer nor sees half of its
commit. The copy is written under a ``.partial`` name (0600) and checked with
``PRAGMA integrity_check`` before it takes the final name.

Attached evidence files live beside the database, not in it, so a copy of the
database alone would restore rows whose files are gone. The backup reads the
attachment rows from its own copy (the files are in place before their rows
commit, so every row of that snapshot has its file) and copies each file into
``FILE.attachments`` with :func:`app.attachment_files.copy_files`, checked
against its recorded SHA-256; one that no longer matches is reported, not kept.

:func:`restore_store` never trusts the file it is given: it must be a SQLite
database that passes ``integrity_check``, whose schema version this Redline
can read, and which holds Redline's tables. It is upgraded on a private copy,
then copied into the live store with the same backup API, so other
connections see the old store or the new one, never a mix; and the restore is
the first event of the restored store's global audit chain. The backup's
attachment files go back beside the store before the database does, and never
over a different file already there. A run that
another process is running right now would keep writing into rows the
restored store may not have, so restoring is refused while one is live unless
``force`` is given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import RedlineError
from app.private import private_dir, private_file

# The tables a file must have to be taken for a Redline store at all.
_REQUIRED_TABLES = ("engagement", "run", "turn", "auditevent")
_BUSY_TIMEOUT_S = 10.0

if TYPE_CHECKING:
    from app.attachment_files import FilesCopied


class BackupError(RedlineError):
    """A backup could not be written, or a file given to restore is not a store this Redline can use."""

    exit_code = 2


@dataclass(frozen=True)
class StoreCopy:
    path: Path
    size: int
    sha256: str
    schema_version: int
    engagements: int
    runs: int
    files: FilesCopied | None = None  # the attachment files copied with it (backup, restore)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    return sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S)


def inspect_store(path: Path) -> StoreCopy:
    """What ``path`` holds, or a :class:`BackupError` naming why it is not a usable Redline store."""
    from app.store.schema import CURRENT_VERSION

    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with closing(_connect(path, read_only=True)) as con:
            result = [row[0] for row in con.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                raise BackupError(f"{path}: fails SQLite's integrity check ({'; '.join(result[:3])})")
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = [t for t in _REQUIRED_TABLES if t not in tables]
            if missing or version < 1:
                raise BackupError(f"{path}: not a Redline store (no {', '.join(missing) or 'schema version'})")
            if version > CURRENT_VERSION:
                raise BackupError(f"{path}: written by a newer Redline (schema version {version}; this one "
                                  f"reads up to {CURRENT_VERSION}); upgrade Redline to restore it")
            engagements = int(con.execute("SELECT count(*) FROM engagement").fetchone()[0])
            runs = int(con.execute("SELECT count(*) FROM run").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a readable SQLite database ({exc})") from None
    return StoreCopy(path, path.stat().st_size, _sha256(path), version, engagements, runs)


def _sqlite_store(command: str) -> Path:
    """The SQLite file this process uses; on a server, what to do instead (SQLite's backup API copies files)."""
    from app.store.location import current

    location = current()
    if location.sqlite_path is None:
        raise BackupError(f"`redline {command}` works on the embedded SQLite store, and this one is a server "
                          f"({location.shown}, from {location.origin}). Use the server's own backups (pg_dump, "
                          "pg_restore) with each tester's attachments/ folder, or copy engagements and their "
                          "attached files out with `redline migrate --from URL --to sqlite:////path/to/copy.db`")
    return location.sqlite_path


def backup_store(out: Path, store: Path | None = None) -> StoreCopy:
    """A consistent copy of the store at ``out`` (0600) and its attachment files, checked before they take
    their names."""
    from app.attachment_files import beside, copy_files, in_backup, rows_in
    from app.store.engine import get_engine

    store = store or _sqlite_store("backup")
    get_engine(store)  # a store that does not exist yet is created, so the copy is of a real store
    out = out.expanduser()
    if out.resolve() == store.resolve():
        raise BackupError(f"{out}: is the store itself; choose another file")
    kept = in_backup(out)
    if kept.is_symlink() or (kept.exists() and not kept.is_dir()):
        raise BackupError(f"{kept}: is where the backup keeps its attachments, and something else is there; "
                          "choose another file name")
    partial = out.with_name(out.name + ".partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        private_file(partial)
        with closing(_connect(store)) as source, closing(_connect(partial)) as target:
            source.backup(target)  # all pages in one step: one read transaction, one consistent copy
            target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write {out}: {exc}") from None
    kept_partial = kept.with_name(kept.name + ".partial")
    try:
        copy = inspect_store(partial)
        shutil.rmtree(kept_partial, ignore_errors=True)
        files = copy_files(rows_in(partial), beside(store), private_dir(kept_partial, "the backup's attachments"))
    except BaseException:
        partial.unlink(missing_ok=True)
        shutil.rmtree(kept_partial, ignore_errors=True)
        raise
    os.replace(partial, out)
    superseded = kept.with_name(kept.name + ".old")  # an older backup's files, under the name this one takes
    shutil.rmtree(superseded, ignore_errors=True)
    if kept.is_dir():
        os.replace(kept, superseded)
    os.replace(kept_partial, kept)
    shutil.rmtree(superseded, ignore_errors=True)
    return StoreCopy(out, copy.size, copy.sha256, copy.schema_version, copy.engagements, copy.runs, files)


def live_runs(store: Path | None = None) -> list[int]:
    """Runs some process is running right now (their lock is held)."""
    from app.runner.recovery import is_live
    from app.store.engine import get_engine

    with get_engine(store).connect() as conn:
        running = [row[0] for row in conn.exec_driver_sql("SELECT id FROM run WHERE status = 'running'")]
    return [run_id for run_id in running if is_live(run_id)]


def restore_store(source: Path, *, force: bool = False, store: Path | None = None) -> StoreCopy:
    """Put the store in ``source`` and its attachment files back as the live store, after checking them."""
    from app.attachment_files import beside, copy_files, in_backup, rows_in
    from app.store import audit
    from app.store.engine import get_engine, session

    store = store or _sqlite_store("restore")
    source = source.expanduser()
    checked = inspect_store(source)
    live = live_runs(store)
    if live and not force:
        raise BackupError(f"run(s) {', '.join(map(str, live))} are being run by another Redline process; "
                          "wait for them or cancel them, or restore with --force")
    with tempfile.TemporaryDirectory(prefix="redline-restore-", dir=private_dir(store.parent)) as tmp:
        staged = Path(tmp) / "staged.db"
        private_file(staged)
        with closing(_connect(source, read_only=True)) as src, closing(_connect(staged)) as dst:
            src.backup(dst)
        from app.store.engine import dispose

        get_engine(staged)  # brings an older backup to this Redline's schema, on the copy
        dispose(staged)
        inspect_store(staged)
        # The files go first, as `redline attach` places a file before its row: every restored row finds its own.
        files = copy_files(rows_in(staged), in_backup(source), beside(store))
        if files.conflicts:
            files.undo()
            raise BackupError("; ".join(files.conflicts) + ". Nothing was restored: move those files away first")
        try:
            with closing(_connect(staged, read_only=True)) as src, closing(_connect(store)) as dst:
                src.backup(dst)  # under the store's write lock: readers see all of the old or all of the new
        except sqlite3.Error as exc:
            files.undo()
            raise BackupError(f"cannot restore into {store}: {exc}") from None
    with session(store) as db:
        audit.record(db, engagement_id=None, action="store.restored", entity=f"file:{source.name}",
                     payload={"sha256": checked.sha256, "schema_version": checked.schema_version,
                              "engagements": checked.engagements, "runs": checked.runs,
                              "attachments": files.files, "attachment_bytes": files.bytes,
                              "attachment_problems": files.problems,
                              "forced_over_live_runs": live if force else []})
    return StoreCopy(checked.path, checked.size, checked.sha256, checked.schema_version, checked.engagements,
                     checked.runs, files)


def copied_files_report(copy: StoreCopy) -> int:
    """Print what a backup or restore did with the attachment files; 1 when one could not be vouched for."""
    from app.text import for_terminal

    files = copy.files
    if files is None:
        return 0
    print(for_terminal(f"  {files.summary()}, each checked against its recorded SHA-256"))
    for problem in files.problems:
        print(for_terminal(f"  problem: {problem}"))
    return 1 if files.problems else 0
