"""The headless runner: schedules turns, persists them while they stream, judges them, emits events.

It is the one place that writes turns. The cockpit and ``redline run`` both
call it, and learn of progress only through :mod:`app.events` objects passed
to ``on_event``.

- :func:`plan_runs` — scenarios × in-scope systems, tagged with the test window.
- :func:`run_scenarios` — execute a plan with bounded concurrency.
- :func:`recover_interrupted` — at start-up, mark runs a dead process left ``running``.
- :func:`resume_run` — finish an interrupted run without redoing finished turns.

Modules: ``plan`` (what to run), ``execute`` (run lifecycle), ``live`` (steps
of one run), ``record`` (persist-while-streaming hot path), ``judge``
(verdicts, roll-up, findings), ``recovery`` (interruptions), ``stats``.
"""

from app.runner.execute import RunOutcome, resume_run, run_scenarios, spec_from_snapshot
from app.runner.plan import PlannedRun, plan_runs, window_for
from app.runner.recovery import recover_interrupted
from app.runner.turns import TurnLog

__all__ = [
    "PlannedRun", "RunOutcome", "TurnLog", "plan_runs", "recover_interrupted", "resume_run",
    "run_scenarios", "spec_from_snapshot", "window_for",
]
