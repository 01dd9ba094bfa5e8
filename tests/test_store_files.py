"""Owner-only files whatever the umask, a killed export's leftovers, and recovery before every evidence read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import select

from tests.test_runner_support import PYTHON, REPO, engagement_file, import_engagement_file, openai_system


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def redline(*args: str, umask_value: int | None = None) -> subprocess.CompletedProcess[str]:
    def child() -> None:
        if umask_value is not None:
            os.umask(umask_value)

    return subprocess.run([PYTHON, "-m", "app.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=os.environ.copy(), preexec_fn=child)


def crashed_run(tmp_path: Path, chunks: list[str]) -> tuple[int, int]:
    """An engagement with one run left ``running`` by a dead process, its turn's text only in its chunks."""
    from app.store import session
    from app.store.models import AISystem, Run, Scenario, Turn, TurnChunk

    engagement = import_engagement_file(engagement_file(tmp_path, [openai_system("bot", "http://127.0.0.1:9/v1")]))
    with session() as db:
        system = db.exec(select(AISystem)).one()
        scenario = Scenario(scenario_id="crash-me", sha256="0" * 64, title="Crash", yaml_text="id: crash-me\n")
        db.add(scenario)
        db.flush()
        run = Run(engagement_id=engagement.id, system_id=system.id, scenario_pk=scenario.id, status="running")
        db.add(run)
        db.flush()
        turn = Turn(run_id=run.id, status="streaming")
        db.add(turn)
        db.flush()
        for seq, text in enumerate(chunks):
            db.add(TurnChunk(turn_id=turn.id, seq=seq, text=text))
        return run.id, turn.id  # type: ignore[return-value]


# ------------------------------------------------------------------ modes


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_store_wal_shm_and_data_dir_are_owner_only_whatever_the_umask(redline_home: Path, mask: int) -> None:
    from app.store import session
    from app.store.models import Engagement

    with umask(mask):
        with session() as db:
            db.add(Engagement(name="acme"))
        db_file = redline_home / "redline.db"
        wal, shm = db_file.with_name("redline.db-wal"), db_file.with_name("redline.db-shm")
        assert wal.exists() and shm.exists()  # the engine is still open
        assert (mode(redline_home), mode(db_file), mode(wal), mode(shm)) == (0o700, 0o600, 0o600, 0o600)


def test_an_exported_bundle_and_its_partial_are_owner_only(tmp_path: Path, redline_home: Path) -> None:
    from app.evidence import archive as archive_module
    from app.evidence.archive import BundleArchive

    out = tmp_path / "out" / "bundle.zip"
    out.parent.mkdir()
    with umask(0):
        bundle = BundleArchive(out)
        partial = out.with_name("bundle.zip.partial")
        assert mode(partial) == 0o600
        [lock] = (redline_home / "exports").glob("*.lock")
        assert mode(redline_home / "exports") == 0o700 and lock.read_text() == str(partial)
        bundle.write_chunks("a.txt", ["hello"])
        bundle.commit()
    assert mode(out) == 0o600 and not partial.exists()
    assert not list((redline_home / "exports").glob("*.lock"))
    assert archive_module.sweep_unfinished_exports() == []


def test_a_looser_existing_store_is_tightened_with_a_notice(redline_home: Path) -> None:
    assert redline("engagement", "list", umask_value=0o022).returncode == 0
    os.chmod(redline_home, 0o755)
    os.chmod(redline_home / "redline.db", 0o644)
    listed = redline("engagement", "list")
    assert listed.returncode == 0, listed.stderr
    assert (mode(redline_home), mode(redline_home / "redline.db")) == (0o700, 0o600)
    assert f"the store {redline_home / 'redline.db'} was readable by other accounts (644); it is now 600" \
        in listed.stderr
    assert "the data dir" in listed.stderr
    again = redline("engagement", "list")
    assert "readable by other accounts" not in again.stderr


def test_a_fresh_store_made_by_the_cli_is_owner_only(redline_home: Path) -> None:
    assert redline("engagement", "list", umask_value=0).returncode == 0
    assert (mode(redline_home), mode(redline_home / "redline.db")) == (0o700, 0o600)


# ------------------------------------------------------------------ killed exports


_KILLED_EXPORT = """
import os, sys
from pathlib import Path
from app.evidence.archive import BundleArchive
bundle = BundleArchive(Path(sys.argv[1]))
bundle.write_chunks("report.md", ["# half a report"])
os._exit(9)  # killed mid-export: no commit, no abort
"""


def test_a_killed_exports_partial_is_removed_at_the_next_start(tmp_path: Path, redline_home: Path) -> None:
    out = tmp_path / "evidence" / "acme.zip"
    out.parent.mkdir()
    killed = subprocess.run([PYTHON, "-c", _KILLED_EXPORT, str(out)], cwd=REPO, env=os.environ.copy(),
                            capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    partial = out.with_name("acme.zip.partial")
    assert partial.exists() and mode(partial) == 0o600 and not out.exists()

    import_engagement_file(engagement_file(tmp_path, [openai_system("bot", "http://127.0.0.1:9/v1")]))
    listed = redline("findings", "acme-test")
    assert listed.returncode == 0, listed.stderr
    assert not partial.exists()
    assert f"removed {partial}, left half-written by an export that was stopped" in listed.stderr
    assert not list((redline_home / "exports").glob("*.lock"))


def test_a_stale_partial_at_the_same_path_is_reused_from_empty(tmp_path: Path) -> None:
    from app.evidence.archive import BundleArchive

    out = tmp_path / "acme.zip"
    partial = out.with_name("acme.zip.partial")
    partial.write_bytes(b"stale bytes from a killed export" * 100)
    os.chmod(partial, 0o644)
    bundle = BundleArchive(out)
    bundle.write_chunks("a.txt", ["fresh"])
    bundle.commit()
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["a.txt"] and zf.read("a.txt") == b"fresh"
    assert mode(out) == 0o600


def test_a_symlink_planted_at_the_partial_is_not_followed(tmp_path: Path) -> None:
    from app.evidence.archive import BundleArchive

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "acme.zip"
    out.with_name("acme.zip.partial").symlink_to(victim)
    with pytest.raises(OSError):
        BundleArchive(out)
    assert victim.read_text() == "keep me"


# ------------------------------------------------------------------ recovery before reads


def test_export_straight_after_a_crash_recovers_the_run_first(tmp_path: Path, redline_home: Path) -> None:
    run_id, _ = crashed_run(tmp_path, ["the answer so far, ", "cut here"])
    out = tmp_path / "acme.zip"
    exported = redline("export", "acme-test", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert f"run {run_id} was interrupted; its streamed text was kept" in exported.stderr
    with zipfile.ZipFile(out) as zf:
        [run] = json.loads(zf.read("data/runs.json"))
        transcript = zf.read(f"transcripts/{run_id}.jsonl").decode()
    assert run["status"] == "interrupted"
    assert "the answer so far, cut here" in transcript


def test_a_run_that_cannot_be_recovered_is_marked_and_the_store_still_opens(
        tmp_path: Path, redline_home: Path) -> None:
    from sqlalchemy import text

    from app.runner.recovery import recover_interrupted
    from app.store import session
    from app.store.models import AuditEvent, Run, Turn

    run_id, turn_id = crashed_run(tmp_path, ["fine text"])
    with session() as db:  # a chunk whose text is not valid UTF-8: reading it raises
        db.execute(text("UPDATE turnchunk SET text = CAST(x'80ff' AS TEXT) WHERE turn_id = :t"), {"t": turn_id})
    with session() as db:  # on main this raised, and every `redline run` and the cockpit with it
        assert recover_interrupted(db) == []
    with session() as db:
        run, turn = db.get(Run, run_id), db.get(Turn, turn_id)
        assert run is not None and turn is not None
        assert run.status == "unrecoverable" and run.finished_at is not None
        assert (turn.status, turn.error_type) == ("error", "stream_error")
        [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "run.unrecoverable")).all()
        why = event.payload["reason"]
        assert event.entity == f"run:{run_id}" and why.startswith("OperationalError: ")
        from app.runner.recovery import UNRECOVERABLE

        assert turn.error_detail == f"{UNRECOVERABLE}: {why}"
    listed = redline("findings", "acme-test")  # the next start neither crashes nor tries again
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr


def test_a_turn_too_long_to_join_makes_its_run_unrecoverable_not_a_crash(tmp_path: Path) -> None:
    from app.runner.recovery import recover_interrupted
    from app.store import session
    from app.store.models import Run

    run_id, turn_id = crashed_run(tmp_path, ["x" * 600, "y" * 600])
    lost: list[tuple[int, str]] = []
    with session() as db:
        assert recover_interrupted(db, max_chars=1000, on_unrecoverable=lambda r, w: lost.append((r, w))) == []
    assert lost == [(run_id, f"turn {turn_id} streamed 1,200 characters, more than recovery joins into one turn "
                              f"(1,000); its chunks are kept as stored")]
    with session() as db:
        assert db.get(Run, run_id).status == "unrecoverable"  # type: ignore[union-attr]


def test_findings_and_monitor_recover_a_crashed_run_before_reading(tmp_path: Path, redline_home: Path) -> None:
    from tests.test_runner_support import read_db

    run_id, _ = crashed_run(tmp_path, ["kept"])
    monitored = redline("monitor", "acme-test")
    assert monitored.returncode == 0, monitored.stderr
    assert f"run {run_id} was interrupted" in monitored.stderr
    assert read_db(redline_home, "SELECT status FROM run") == [("interrupted",)]
    assert read_db(redline_home, "SELECT response_text FROM turn") == [("kept",)]
    again = redline("findings", "acme-test")
    assert again.returncode == 0 and "interrupted" not in again.stderr  # recovered once, not on every read


def test_a_mode_that_cannot_be_changed_is_reported_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import private

    target = tmp_path / "shared"
    target.mkdir()
    os.chmod(target, 0o755)

    def refuse(path: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(private.os, "chmod", refuse)  # as for a folder another account owns
    private.take_notices()
    assert private.private_dir(target, "the data dir") == target
    assert private.take_notices() == [f"the data dir {target} is readable by other accounts (755) and cannot be "
                                      "made 700 (Operation not permitted)"]


def test_a_store_named_by_url_leaves_its_folder_alone_and_never_a_shared_one(tmp_path: Path,
                                                                            redline_home: Path) -> None:
    """`migrate --to sqlite:////tmp/copy.db` once made /tmp itself 0700. A folder outside the data dir is the
    user's: only the store's own files become private there, and a shared sticky folder is never changed."""
    from app.cli import main
    from app.demo_engagement import ensure_demo_engagement
    from app.store import session

    with session() as db:
        ensure_demo_engagement(db)
    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir()
    own.mkdir()
    os.chmod(shared, 0o1777)
    os.chmod(own, 0o755)
    for folder in (shared, own):
        assert main(["migrate", "--from", f"sqlite:///{redline_home / 'redline.db'}",
                     "--to", f"sqlite:///{folder / 'copy.db'}"]) == 0
        assert stat.S_IMODE((folder / "copy.db").stat().st_mode) == 0o600  # the store itself is private
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(own.stat().st_mode) == 0o755
    assert stat.S_IMODE(redline_home.stat().st_mode) == 0o700  # Redline's own data dir still is
