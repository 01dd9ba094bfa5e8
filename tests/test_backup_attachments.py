"""Backups, restores and migrations take attached evidence along: every row's file, checked against its hash."""

from __future__ import annotations

import hashlib
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.test_lifecycle_support import demo, make_engagement, run  # noqa: F401

TICKET = b"%PDF-1.4\nCHG-4711 deployed 2026-03-02, approved by the CAB\n%%EOF\n"
ALERTS = b"2026-03-02T10:14Z alert 881 prompt-injection reviewed by SOC (SOC-991)\n" * 40


@pytest.fixture
def engagement(demo: Any, tmp_path: Path, capsys: Any) -> int:  # noqa: F811
    """acme with a finding and a run, a change ticket on the finding and an alert log on the run."""
    eid = make_engagement(demo.base_url)
    run(eid)  # the vulnerable demo fails: finding 1 from run 1
    (tmp_path / "CHG-4711.pdf").write_bytes(TICKET)
    (tmp_path / "alerts.log").write_bytes(ALERTS)
    assert main(["attach", "acme", str(tmp_path / "CHG-4711.pdf"), "--finding", "1", "--note", "change ticket"]) == 0
    assert main(["attach", "acme", str(tmp_path / "alerts.log"), "--run", "1", "--note", "alert log"]) == 0
    capsys.readouterr()
    return eid


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_copies_every_attachment_checked_owner_only_and_says_what_it_copied(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any) -> None:
    out = tmp_path / "backups" / "acme.db"
    assert main(["backup", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    kept = out.with_name("acme.db.attachments") / str(engagement)
    assert (kept / "1-CHG-4711.pdf").read_bytes() == TICKET
    assert hashlib.sha256((kept / "2-alerts.log").read_bytes()).hexdigest() == hashlib.sha256(ALERTS).hexdigest()
    assert {_mode(p) for p in kept.iterdir()} == {0o600}
    assert _mode(kept) == 0o700 and _mode(kept.parent) == 0o700
    assert f"{out.stat().st_size:,} bytes" in said
    assert f"2 attachments ({len(TICKET) + len(ALERTS):,} bytes)" in said
    assert "problem" not in said

    # A stored file changed since it was attached is reported, and not copied into the backup as good.
    stored = redline_home / "attachments" / str(engagement) / "2-alerts.log"
    stored.write_bytes(ALERTS.replace(b"reviewed", b"IGNORED!"))
    again = tmp_path / "backups" / "again.db"
    assert main(["backup", "--out", str(again)]) == 1
    said = capsys.readouterr().out
    assert again.is_file()  # the database copy is still good and kept
    assert f"1 attachments ({len(TICKET):,} bytes)" in said
    assert "attachment 2 (alerts.log)" in said and "does not match the SHA-256" in said
    assert not (again.with_name("again.db.attachments") / str(engagement) / "2-alerts.log").exists()
    # A file replaced by a longer one is read no further than its recorded size (plus one byte).
    stored.write_bytes(ALERTS * 1000)
    assert main(["backup", "--out", str(again)]) == 1
    assert f"longer than the {len(ALERTS):,} bytes recorded" in capsys.readouterr().out


def test_a_store_restored_from_a_backup_verifies_and_its_bundle_ships_the_attachments(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any) -> None:
    out = tmp_path / "backups" / "acme.db"
    assert main(["backup", "--out", str(out)]) == 0
    # The machine is lost: the store and its attachment folder are gone.
    from app.store.engine import dispose_all

    dispose_all()
    shutil.rmtree(redline_home)
    capsys.readouterr()
    assert main(["restore", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"2 attachments ({len(TICKET) + len(ALERTS):,} bytes)" in said
    assert (redline_home / "attachments" / str(engagement) / "1-CHG-4711.pdf").read_bytes() == TICKET
    assert _mode(redline_home / "attachments" / str(engagement) / "2-alerts.log") == 0o600
    assert main(["verify", "--engagement", "acme"]) == 0
    bundle = tmp_path / "bundle.zip"
    assert main(["export", "acme", "--out", str(bundle)]) == 0
    assert main(["verify", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("attachments/1-CHG-4711.pdf") == TICKET
        assert archive.read("attachments/2-alerts.log") == ALERTS


def test_restore_never_overwrites_a_different_file_and_writes_nothing_then(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any) -> None:
    out = tmp_path / "acme.db"
    assert main(["backup", "--out", str(out)]) == 0
    stored = redline_home / "attachments" / str(engagement) / "1-CHG-4711.pdf"
    stored.write_bytes(b"other bytes under the same name")
    (redline_home / "attachments" / str(engagement) / "2-alerts.log").unlink()
    capsys.readouterr()
    assert main(["restore", str(out)]) == 2
    err = capsys.readouterr().err
    assert "attachment 1 (CHG-4711.pdf)" in err and "holds other bytes" in err
    assert stored.read_bytes() == b"other bytes under the same name"
    assert not (redline_home / "attachments" / str(engagement) / "2-alerts.log").exists()


def test_migrate_to_another_sqlite_file_takes_the_attachment_bytes_along(
        engagement: int, tmp_path: Path, redline_home: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.store.engine import dispose_all

    copy = tmp_path / "laptop-b" / "redline.db"
    stored = redline_home / "attachments" / str(engagement) / "2-alerts.log"
    good = stored.read_bytes()
    stored.write_bytes(b"tampered")
    source = f"sqlite:///{redline_home / 'redline.db'}"
    assert main(["migrate", "--from", source, "--to", f"sqlite:///{copy}"]) == 2
    assert "attachment 2 (alerts.log)" in capsys.readouterr().err
    assert not (copy.parent / "attachments").exists() or not any((copy.parent / "attachments").rglob("*-*"))
    stored.write_bytes(good)
    assert main(["migrate", "--from", source, "--to", f"sqlite:///{copy}"]) == 0
    said = capsys.readouterr().out
    assert f"2 attachments ({len(TICKET) + len(ALERTS):,} bytes)" in said
    moved = copy.parent / "attachments" / str(engagement)
    assert (moved / "1-CHG-4711.pdf").read_bytes() == TICKET and _mode(moved / "2-alerts.log") == 0o600

    # Another machine opens the copy: its attachments are beside it, not in that machine's data dir.
    monkeypatch.setenv("REDLINE_HOME", str(tmp_path / "other-home"))
    monkeypatch.setenv("REDLINE_DATABASE_URL", f"sqlite:///{copy}")
    dispose_all()
    assert main(["verify", "--engagement", "acme"]) == 0
    bundle = tmp_path / "moved.zip"
    assert main(["export", "acme", "--out", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("attachments/2-alerts.log") == ALERTS


@pytest.mark.postgresql
def test_migrate_through_the_team_server_and_back_keeps_the_attachments(
        engagement: int, postgres_url: str, tmp_path: Path, redline_home: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Laptop → server → a file elsewhere: the server's rows point at this machine's data dir, the file copy
    gets the bytes beside it, and both verify."""
    from app.store.engine import dispose_all

    source = f"sqlite:///{redline_home / 'redline.db'}"
    assert main(["migrate", "--from", source, "--to", postgres_url]) == 0
    assert f"2 attachments ({len(TICKET) + len(ALERTS):,} bytes)" in capsys.readouterr().out
    monkeypatch.setenv("REDLINE_DATABASE_URL", postgres_url)
    dispose_all()
    assert main(["verify", "--engagement", "acme"]) == 0
    back = tmp_path / "back" / "redline.db"
    assert main(["migrate", "--from", postgres_url, "--to", f"sqlite:///{back}"]) == 0
    assert (back.parent / "attachments" / str(engagement) / "2-alerts.log").read_bytes() == ALERTS
    monkeypatch.setenv("REDLINE_HOME", str(tmp_path / "other-home"))
    monkeypatch.setenv("REDLINE_DATABASE_URL", f"sqlite:///{back}")
    dispose_all()
    capsys.readouterr()
    assert main(["verify", "--engagement", "acme"]) == 0


def test_the_copy_never_leaves_its_folder_follows_a_link_or_replaces_other_bytes(tmp_path: Path) -> None:
    """Rows come from a file the user hands over (a backup to restore): each is input, checked before any read."""
    from app.attachment_files import copy_files

    source, target = tmp_path / "from", tmp_path / "to"
    (source / "1").mkdir(parents=True)
    (source / "1" / "1-ticket.pdf").write_bytes(TICKET)
    secret = tmp_path / "outside.txt"
    secret.write_bytes(TICKET)
    (source / "1" / "2-link.pdf").symlink_to(secret)
    (target / "1").mkdir(parents=True)
    (target / "1" / "3-taken.pdf").write_bytes(b"someone else's file")
    (source / "1" / "3-taken.pdf").write_bytes(TICKET)
    digest = hashlib.sha256(TICKET).hexdigest()

    def row(number: int, stored: str) -> dict[str, Any]:
        return {"id": number, "engagement_id": 1, "filename": stored, "stored_name": stored, "sha256": digest,
                "size": len(TICKET)}

    done = copy_files([row(1, "1-ticket.pdf"), row(2, "2-link.pdf"), row(3, "3-taken.pdf"),
                       row(4, "../../outside.txt"), {**row(5, "1-ticket.pdf"), "size": "65"}], source, target)
    assert (done.files, done.bytes) == (1, len(TICKET))
    assert (target / "1" / "1-ticket.pdf").read_bytes() == TICKET
    assert not (target / "1" / "2-link.pdf").exists()
    assert (target / "1" / "3-taken.pdf").read_bytes() == b"someone else's file"
    assert [p.split(":")[0] for p in done.problems] == [
        "attachment 2 (2-link.pdf)", "attachment 4 (../../outside.txt)", "attachment 5 (1-ticket.pdf)"]
    assert "cannot be read" in done.problems[0] and "not a plain file name" in done.problems[1]
    assert "size '65' is not a whole number" in done.problems[2]
    assert done.conflicts == [f"attachment 3 (3-taken.pdf): {target / '1' / '3-taken.pdf'} already exists and "
                              "holds other bytes; it was left as it is"]
    assert sorted(p.name for p in (target / "1").iterdir()) == ["1-ticket.pdf", "3-taken.pdf"]  # no staging left
    done.undo()
    assert not (target / "1" / "1-ticket.pdf").exists()


def test_backups_taken_while_another_process_attaches_hold_every_rows_file(
        engagement: int, tmp_path: Path, redline_home: Path) -> None:
    """Whatever the interleaving, each backup's rows all have their files, byte for byte (and none extra)."""
    import os
    import sqlite3
    import subprocess
    import sys

    from app.store.backup import backup_store

    logs = []
    for number in range(40):
        logs.append(tmp_path / f"log-{number:02d}.txt")
        logs[-1].write_bytes(f"alert {number} reviewed\n".encode() * (number + 1))
    script = ("import sys\nfrom app.cli import main\n"
              "for name in sys.argv[1:]:\n"
              "    assert main(['attach', 'acme', name, '--run', '1', '--note', 'alert log']) == 0\n")
    child = subprocess.Popen([sys.executable, "-c", script, *map(str, logs)], cwd=Path(__file__).parent.parent,
                             env=os.environ.copy(), stderr=subprocess.PIPE)
    taken = 0
    try:
        while child.poll() is None or taken == 0:
            out = tmp_path / "backups" / f"b{taken}.db"
            copy = backup_store(out)
            taken += 1
            assert copy.files is not None and copy.files.problems == []
            with sqlite3.connect(out) as con:
                rows = con.execute("SELECT stored_name, sha256, size FROM attachment").fetchall()
            kept = out.with_name(out.name + ".attachments") / str(engagement)
            on_disk = {p.name: p.read_bytes() for p in kept.iterdir()} if kept.exists() else {}
            assert sorted(on_disk) == sorted(name for name, _, _ in rows)
            for name, sha, size in rows:
                assert (hashlib.sha256(on_disk[name]).hexdigest(), len(on_disk[name])) == (sha, size)
            assert copy.files.files == len(rows)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
