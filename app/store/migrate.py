"""Moving engagements between stores: a laptop's SQLite file to the team's server, or back.

Everything an engagement is goes across: its systems, control matrix and
windows, the scenarios as run, every run with its turns, streamed chunks
(raw bodies as stored, packed or not), verdicts, findings with their
occurrences, re-tests and management responses, and its whole audit chain.

Rows keep their ids. The chain's events name rows by id (``finding:12``) and
hash those names, and reports quote them ("finding 3", "run 14"), so a copy
under other ids would be a different record, not the same one moved. A target
that already holds one of those ids is refused before anything is written.

The copy is one transaction on the target, read from one snapshot of the
source; before it commits, each copied chain is verified in the target, so a
copy that would not verify is never left behind.

Attached files' bytes are not rows: they live in each store's attachment
folder (:func:`app.attachment_files.root`). They are copied first, each checked
against the SHA-256 its row records, as ``redline attach`` places a file before
its row; a file that is missing or no longer matches refuses the whole copy,
and the files already copied are removed again when anything is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from app.attachment_files import FilesCopied
    from app.store.location import StoreLocation

BATCH = 500


class MigrateError(RedlineError):
    """The copy cannot be made; nothing was written to the target."""


@dataclass
class Copied:
    engagements: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    chains: dict[str, str] = field(default_factory=dict)  # engagement -> head hash, verified in the target
    files: FilesCopied | None = None  # the attachment files, checked, in the target's attachment folder

    def summary(self) -> str:
        counts = ", ".join(f"{n} {t}" for t, n in self.rows.items() if n)
        heads = "; ".join(f"{name}: chain verified, head {head[:16]}…" for name, head in self.chains.items())
        files = f"; {self.files.summary()} in place, each matching its SHA-256" if self.files else ""
        return f"copied {', '.join(self.engagements)} ({counts}); {heads}{files}"


def _tables() -> dict[str, Table]:
    from sqlmodel import SQLModel

    import app.store.models  # noqa: F401  (registers the tables)

    return dict(SQLModel.metadata.tables)


def _rows(conn: Connection, table: Table, column: str, values: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows whose ``column`` is in ``values``, in id order, a bounded ``IN`` list at a time."""
    from sqlalchemy import select

    wanted = sorted(set(v for v in values if v is not None), key=str)
    out: list[dict[str, Any]] = []
    for start in range(0, len(wanted), BATCH):
        query = select(table).where(table.c[column].in_(wanted[start:start + BATCH]))
        out += [dict(row._mapping) for row in conn.execute(query)]
    key = "id" if "id" in table.c else column
    return sorted(out, key=lambda r: r[key])


def _collect(conn: Connection, names: list[str] | None) -> dict[str, list[dict[str, Any]]]:
    """Every row the chosen engagements own, table by table, in the order they can be inserted."""
    from sqlalchemy import select

    t = _tables()
    query = select(t["engagement"]).order_by(t["engagement"].c.id)
    engagements = [dict(r._mapping) for r in conn.execute(query)]
    if names is not None:
        missing = sorted(set(names) - {e["name"] for e in engagements})
        if missing:
            raise MigrateError(f"the source store has no engagement named {', '.join(missing)}")
        engagements = [e for e in engagements if e["name"] in names]
    ids = [e["id"] for e in engagements]
    got: dict[str, list[dict[str, Any]]] = {"engagement": engagements}
    for name in ("aisystem", "controlmapping", "testwindow", "run", "finding"):
        got[name] = _rows(conn, t[name], "engagement_id", ids)
    got["scenario"] = _rows(conn, t["scenario"], "id", [r["scenario_pk"] for r in got["run"]])
    got["turn"] = _rows(conn, t["turn"], "run_id", [r["id"] for r in got["run"]])
    got["turnchunk"] = _rows(conn, t["turnchunk"], "turn_id", [r["id"] for r in got["turn"]])
    got["verdict"] = _rows(conn, t["verdict"], "run_id", [r["id"] for r in got["run"]])
    finding_ids = [r["id"] for r in got["finding"]]
    for name in ("findingoccurrence", "retest", "managementresponse"):
        got[name] = _rows(conn, t[name], "finding_id", finding_ids)
    # Attached files: their rows (the chain pins each file's digest); migrate() copies the bytes.
    got["attachment"] = _rows(conn, t["attachment"], "engagement_id", ids)
    from app.store.audit import chain_name

    got["auditevent"] = _rows(conn, t["auditevent"], "chain", [chain_name(i) for i in ids])
    for name in ("criterion", "control"):  # the catalog snapshot the engagement was mapped against
        got[name] = [dict(r._mapping) for r in conn.execute(select(t[name]))]
    unknown = sorted(set(t) - set(got))
    if unknown:  # a table this copy does not know what to do with: refuse rather than leave evidence behind
        raise MigrateError(f"this Redline does not know how to copy the table(s) {', '.join(unknown)}")
    order = ["engagement", "aisystem", "controlmapping", "testwindow", "scenario", "criterion", "control", "run",
             "turn", "turnchunk", "verdict", "finding", "findingoccurrence", "retest", "managementresponse",
             "attachment", "auditevent"]
    return {name: got[name] for name in order}


def _check_free(conn: Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Refuse when the target already holds a row under an id the copy needs (the same scenario or catalog
    entry, byte for byte, is shared instead)."""
    t = _tables()
    for name, items in rows.items():
        table = t[name]
        key = "id"
        taken = {r[key]: r for r in _rows(conn, table, key, [r[key] for r in items])}
        for row in items:
            there = taken.get(row[key])
            if there is None:
                continue
            if name in ("scenario", "criterion", "control") and there == row:
                continue
            what = f"engagement '{row['name']}'" if name == "engagement" else f"{name} {row[key]}"
            raise MigrateError(f"the target store already holds {what}; the copy keeps every id (the audit chain "
                               "names rows by id), so it needs a store without them: migrate into an empty store")


def migrate(source: StoreLocation, target: StoreLocation, engagements: list[str] | None = None) -> Copied:
    """Copy the named engagements (default: all) from ``source`` to ``target``; verified before it commits."""
    from app.attachment_files import copy_files, root
    from app.store.engine import get_engine

    if source.url == target.url:
        raise MigrateError(f"--from and --to name the same store ({source.shown})")
    reader = get_engine(location=source)
    with reader.connect() as read:
        if read.dialect.name == "postgresql":  # every table read from one snapshot, while others keep writing
            read = read.execution_options(isolation_level="REPEATABLE READ")
        else:
            read.exec_driver_sql("BEGIN")  # SQLite: one read transaction is one snapshot
        rows = _collect(read, engagements)
        read.rollback()
    if not rows["engagement"]:
        raise MigrateError(f"the source store ({source.shown}) holds no engagement to copy")
    done = Copied(engagements=[e["name"] for e in rows["engagement"]])
    engine = get_engine(location=target)
    files = copy_files(rows["attachment"], root(source), root(target))
    if files.problems or files.conflicts:
        files.undo()
        raise MigrateError("; ".join(files.problems + files.conflicts) + f". Nothing was written to {target.shown}")
    try:
        _write(engine, rows, done, target)
    except BaseException:
        files.undo()
        raise
    done.files = files
    return done


def _write(engine: Any, rows: dict[str, list[dict[str, Any]]], done: Copied, target: StoreLocation) -> None:
    """Insert the rows in one transaction on the target, committed only once every copied chain verifies."""
    from sqlmodel import Session

    from app.store import audit, portable

    t = _tables()
    with engine.begin() as write:
        _check_free(write, rows)
        for name, items in rows.items():
            fresh = items
            if name in ("scenario", "criterion", "control"):
                present = {r["id"] for r in _rows(write, t[name], "id", [r["id"] for r in items])}
                fresh = [r for r in items if r["id"] not in present]
            if name == "run":  # a re-test run names its finding, inserted later: linked once the findings are in
                fresh = [{**r, "retest_of": None} for r in items]
            for start in range(0, len(fresh), BATCH):
                write.execute(t[name].insert(), fresh[start:start + BATCH])
            done.rows[name] = len(fresh)
        for run in rows["run"]:
            if run["retest_of"] is not None:
                write.execute(t["run"].update().where(t["run"].c.id == run["id"]).values(retest_of=run["retest_of"]))
        portable.reset_id_sequences(write, list(t.values()))
        with Session(bind=write) as db:
            for engagement in rows["engagement"]:
                problems = audit.verify_chain(db, engagement["id"])
                if problems:
                    raise MigrateError(f"engagement '{engagement['name']}': the copied audit chain does not verify "
                                       f"({problems[0]}); nothing was written to {target.shown}")
                last = audit.head(db, engagement["id"])
                done.chains[engagement["name"]] = last.hash if last is not None else audit.GENESIS
