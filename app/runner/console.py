"""``redline run`` in a terminal or a CI log: progress on stderr, a summary table, an exit code.

Progress goes to stderr so stdout holds only the summary (and CI can capture
it). On a terminal it is a live Rich progress bar; otherwise one plain line per
run started and finished. Every name and text shown comes from files or
models, so it is rendered as ``Text`` (never markup) after
:func:`app.text.one_line`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.events import ChunkReceived, RunFinished, RunStarted, TurnFinished, TurnStarted
from app.text import for_terminal, one_line

if TYPE_CHECKING:
    from rich.console import Console
    from sqlmodel import Session

    from app.events import RunnerEvent
    from app.runner.execute import RunOutcome
    from app.store.models import Engagement

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_TARGET_ERRORS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def exit_code(outcomes: Sequence[RunOutcome]) -> int:
    """0 all passed (or await review), 1 any failed, 3 target errors left runs unjudged and none failed."""
    finished = [o for o in outcomes if o.status == "finished"]
    if any(o.verdict == "fail" for o in finished):
        return EXIT_FAIL
    if any(o.verdict == "error" for o in finished):
        return EXIT_TARGET_ERRORS
    return EXIT_PASS


def open_engagement(db: Session, ref: str) -> Engagement:
    """An engagement by name, or by engagement file (imported, or re-imported keeping history, first)."""
    from app.engagements import UnknownEngagement, find_engagement, import_engagement, load_engagement_file

    path = Path(ref).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            from app.errors import UsageError

            raise UsageError(f"no such engagement file: {ref}")
        return import_engagement(db, load_engagement_file(path), path)
    try:
        return find_engagement(db, ref)
    except UnknownEngagement:
        from app.demo_engagement import DEMO_NAME, ensure_demo_engagement

        if ref != DEMO_NAME:
            raise
        return ensure_demo_engagement(db)


@dataclass
class _Live:
    scenario: str
    system: str


class ConsoleProgress:
    """An ``on_event`` consumer for a terminal or a log. Per chunk it only counts."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.total = total
        self.chunks = 0
        self.done = 0
        self.streaming = 0
        self.runs: dict[int, _Live] = {}
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ConsoleProgress:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False),
                                      BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("starting", total=self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: RunnerEvent) -> None:
        if type(event) is ChunkReceived:
            self.chunks += 1
            return
        if isinstance(event, TurnStarted):
            self.streaming += 1
        elif isinstance(event, TurnFinished):
            self.streaming = max(0, self.streaming - 1)
        elif isinstance(event, RunStarted):
            self.runs[event.run_id] = _Live(event.scenario_id, event.system)
            if self._progress is None:
                where = f" in window {event.window}" if event.window else " (outside any test window)"
                self._line(f"run {event.run_id} started: {event.scenario_id} @ {event.system}{where}")
        elif isinstance(event, RunFinished):
            self.done += 1
            live = self.runs.get(event.run_id, _Live("?", "?"))
            found = f", finding {', '.join(map(str, event.finding_ids))}" if event.finding_ids else ""
            if self._progress is None:
                self._line(f"run {event.run_id} {event.status}: {live.scenario} @ {live.system}: "
                           f"{event.verdict.upper() or '-'}{found}")
            else:
                self._progress.console.print(self._text(
                    f"{_mark(event.verdict)} {live.scenario} @ {live.system}: {event.verdict or event.status}{found}"))
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, description=one_line(
                f"{self.streaming} turn(s) streaming · {self.chunks} chunks", 60))

    def _text(self, message: str) -> Any:
        from rich.text import Text

        return Text(one_line(message, 200))

    def _line(self, message: str) -> None:
        self.console.print(self._text(message), soft_wrap=True)


def _mark(verdict: str) -> str:
    return {"pass": "✓", "fail": "✗", "review": "?", "error": "!"}.get(verdict, "·")


def summary_table(outcomes: Sequence[RunOutcome]) -> Any:
    """scenario, system, verdict, turns, errors, ttft p50, findings; under it, why each
    inconclusive run could not be judged (the run's own reason, naming its turns)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Redline run summary", title_justify="left")
    for name, justify in (("scenario", "left"), ("system", "left"), ("verdict", "left"), ("turns", "right"),
                          ("errors", "right"), ("ttft p50", "right"), ("findings", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {"pass": "green", "fail": "bold red", "error": "yellow", "review": "cyan"}
    for o in outcomes:
        verdict = o.verdict if o.status == "finished" else f"{o.status.replace('_', ' ')}"
        ttft = f"{o.ttft_p50_ms:.0f} ms" if o.ttft_p50_ms is not None else "–"
        table.add_row(Text(one_line(o.label, 48)), Text(one_line(o.system, 32)),
                      Text(verdict, style=styles.get(o.verdict, "")), str(o.turns), str(o.errors), ttft,
                      Text(", ".join(f"#{i}" for i in o.finding_ids) or "–"))
    notes = [f"! {one_line(o.label, 48)} @ {one_line(o.system, 32)}: {one_line(o.reason, 300)}"
             for o in outcomes if o.verdict == "error" and o.reason]
    notes += [f"· {one_line(o.scenario_id, 48)} @ {one_line(o.system, 32)}: planned, {one_line(o.reason, 300)}"
              for o in outcomes if o.status == "planned"]
    if notes:
        table.caption = Text("\n".join(notes), style="yellow")
        table.caption_justify = "left"
    return table


def run_from_cli(ref: str, *, scenario_ids: Sequence[str] = (), all_: bool = False, system: str | None = None,
                 window: str | None = None, extra_paths: Sequence[str] = (), concurrency: int = 4,
                 junit: Path | None = None, resume: int | None = None, probe: bool = True,
                 strategies: Sequence[str] = (), transport: bool = True) -> int:
    """Everything ``redline run`` does after parsing; returns the exit code.

    With ``probe``, each system run against is also sent the canary probes once
    (:mod:`app.changes`), so a model swapped between windows raises a change flag.
    """
    from app.runner import plan_runs, recover_interrupted, resume_run, run_scenarios
    from app.runner.plan import add_variants, dating_notice
    from app.secrets import SecretResolver
    from app.store import session
    from app.terminal import console as make_console

    err, out = make_console(stderr=True), make_console()
    with session() as db:
        engagement = open_engagement(db, ref)
        recovered = recover_interrupted(db)
        plan = [] if resume is not None else plan_runs(db, engagement, scenario_ids=list(scenario_ids) or None,
                                                       all_=all_, system=system, window=window,
                                                       extra_paths=extra_paths)
        skipped: list[str] = []
        if resume is None:
            plan, skipped = add_variants(db, engagement, plan, strategies)
        if resume is not None:
            _check_resumable(db, engagement, resume)
        notice = dating_notice(db, engagement, plan[0].window) if plan else None
    if notice:
        err.print(f"redline: runs made now are {notice}", markup=False, soft_wrap=True)
    if transport and plan:
        from app.alignment.connection import check_transport

        # Every URL the runs will reach is checked first (CC6.7); the scenario transport-endpoint-checks
        # gives the verdicts, this says at once what it will find.
        with session() as db:
            for line in check_transport(db, engagement.id or 0,
                                        system_ids=sorted({p.system.id for p in plan if p.system.id}),
                                        only_problems=True):
                err.print(f"redline: {for_terminal(line)}", markup=False, soft_wrap=True)
    for note in dict.fromkeys(w for planned in plan for w in planned.scenario.warnings):
        err.print(f"redline: warning: {for_terminal(note)}", markup=False, soft_wrap=True)
    for note in skipped:
        err.print(f"redline: {for_terminal(note)}", markup=False, soft_wrap=True)
    for run_id in recovered:
        err.print(f"redline: run {run_id} was interrupted; resume it with --resume {run_id}", markup=False)
    resolver = SecretResolver()
    total = 1 if resume is not None else len(plan)
    cancelled = False

    async def main() -> list[RunOutcome]:
        loop = asyncio.get_running_loop()
        cancel = asyncio.Event()

        def stop() -> None:
            nonlocal cancelled
            cancelled = True
            cancel.set()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with suppress(Exception):
                    loop.remove_signal_handler(sig)  # a second signal interrupts at once

        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop)
        with ConsoleProgress(err, total) as progress:
            if resume is not None:
                return [await resume_run(resume, on_event=progress, cancel=cancel, secrets=resolver)]
            outcomes = await run_scenarios(engagement.id or 0, plan, concurrency=concurrency,
                                           on_event=progress, cancel=cancel, secrets=resolver)
        if probe and plan and not cancelled:
            from app.changes import probe_and_record

            await probe_and_record(engagement.id or 0, [p.system.id for p in plan if p.system.id is not None],
                                   run_ids=[o.run_id for o in outcomes if o.run_id],
                                   window=plan[0].window.name if plan[0].window else None, secrets=resolver)
        return outcomes

    outcomes = asyncio.run(main())
    for notice in resolver.notices:
        err.print(f"redline: {for_terminal(notice)}", markup=False)
    out.print(summary_table(outcomes))
    if junit is not None:
        from app.junit import write_junit

        write_junit(junit, outcomes, suite=engagement.name)
        err.print(f"redline: JUnit report written to {for_terminal(str(junit))}", markup=False)
    if cancelled:
        err.print("redline: cancelled; streamed text was kept", markup=False)
        return EXIT_INTERRUPTED
    return exit_code(outcomes)


def _check_resumable(db: Session, engagement: Engagement, run_id: int) -> None:
    from app.errors import UsageError
    from app.store.models import Run

    run = db.get(Run, run_id)
    if run is None or run.engagement_id != engagement.id:
        raise UsageError(f"engagement '{engagement.name}' has no run {run_id}")
