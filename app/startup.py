"""What every command that reads or writes evidence does first, so it never shows a crash's leftovers.

A process killed mid-run leaves its Run ``running`` with text only in its
chunks; one killed mid-export leaves a ``.partial`` file. Before ``export``,
``findings``, ``monitor`` and ``retest`` (``run`` and the cockpit recover on
their own), :func:`prepare_store` removes the dead exports' files and recovers
the dead runs, so what the command reads is what the recovery rules say, and
a run that cannot be recovered is marked so rather than blocking the store.
"""

from __future__ import annotations


def prepare_store() -> list[str]:
    """Sweep unfinished exports, recover interrupted runs; returns one notice per thing done."""
    from app.evidence.archive import sweep_unfinished_exports
    from app.runner.recovery import recover_interrupted
    from app.store import session

    notices = sweep_unfinished_exports()
    lost: list[tuple[int, str]] = []
    with session() as db:
        recovered = recover_interrupted(db, on_unrecoverable=lambda run_id, why: lost.append((run_id, why)))
    notices += [f"run {run_id} was interrupted; its streamed text was kept (resume it with "
                f"`redline run ENGAGEMENT --resume {run_id}`)" for run_id in recovered]
    notices += [f"run {run_id} was interrupted and cannot be recovered, so it is marked unrecoverable: {why}"
                for run_id, why in lost]
    return notices
