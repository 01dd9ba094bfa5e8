"""Scheduling the cockpit's runs: each its own runner call, so each can be cancelled on its own.

The runner's ``run_scenarios`` takes one cancel event for everything it runs;
the cockpit cancels one highlighted run, so every planned run is its own call
with its own event. :class:`RunQueue` starts them as slots free up (at most
:data:`CONCURRENCY` at once; a scenario tagged ``exclusive`` takes every slot,
so it runs alone), and when a batch (the runs one ``r`` started) has finished
without a cancellation it sends the systems the canary probes once, as
``redline run`` does after its runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from screens.widgets.run_list import RunDone, RunEntry

if TYPE_CHECKING:
    from app.runner import PlannedRun
    from screens.widgets.run_list import RunFeed

CONCURRENCY = 4
# How long leaving waits for cancelled runs to record themselves as cancelled.
STOP_WAIT_S = 10.0
LEFT = "the run screen was left before the run started"
QUIT = "Redline was quit before the run started"


@dataclass
class Batch:
    """The runs one ``r`` started: when all have finished (none cancelled), their systems are probed."""

    planned: list[PlannedRun]
    left: int
    run_ids: list[int] = field(default_factory=list)
    whole: bool = True


class RunQueue:
    """Queued runs and the loop that starts them; results reach the screen as messages through ``feed``."""

    def __init__(self, engagement_id: int, feed: RunFeed, report: Callable[[BaseException, str], Any]) -> None:
        self.engagement_id = engagement_id
        self.feed = feed
        self.report = report
        self.entries: list[RunEntry] = []
        self._queue: asyncio.Queue[tuple[RunEntry, PlannedRun, Batch]] = asyncio.Queue()
        self._next: tuple[RunEntry, PlannedRun, Batch] | None = None  # taken, waiting for a slot
        self._tasks: set[asyncio.Task[None]] = set()
        self._serial = 0

    def counts(self) -> tuple[int, int]:
        """(runs in flight, runs still queued): what leaving now would cancel and drop."""
        return len(self._tasks), self._queue.qsize() + (1 if self._next is not None else 0)

    def drop_queued(self, reason: str) -> int:
        """Take every run that has not started off the queue and record it as not started; returns how many.

        A queued run has no Run row yet, so without this it would vanish without
        a trace; :func:`app.runs.record_not_started` leaves one audit event each.
        """
        dropped: list[tuple[RunEntry, PlannedRun, Batch]] = [self._next] if self._next is not None else []
        self._next = None
        while not self._queue.empty():
            dropped.append(self._queue.get_nowait())
        if not dropped:
            return 0
        from app.runs import record_not_started
        from screens.calls import with_store

        for entry, _planned, _batch in dropped:
            entry.status, entry.dirty = "not_started", True
        # A dropped resumption already has its Run row (still interrupted or cancelled): that is its trace.
        plans = [p for _e, p, _b in dropped if not isinstance(p, int)]
        if plans:
            with_store(lambda db: record_not_started(db, self.engagement_id, plans, reason=reason))
        return len(dropped)

    async def stop(self, reason: str) -> None:
        """Drop what is queued (recorded as not started), cancel what runs and wait until the runner has
        recorded each as cancelled (bounded: a run that will not stop is left to the start-up recovery)."""
        self.drop_queued(reason)
        for entry in self.entries:
            if entry.cancel is not None:
                entry.cancel.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)

    def put(self, planned: Sequence[PlannedRun]) -> list[RunEntry]:
        """Queue a batch; returns its entries (status ``queued``, each with its own cancel event)."""
        batch = Batch(list(planned), left=len(planned))
        added = []
        for item in planned:
            self._serial += 1
            entry = RunEntry(f"live:{self._serial}", item.scenario.spec.id, item.system.name,
                             item.window.name if item.window else "", cancel=asyncio.Event(),
                             strategy=item.strategy, originals=item.originals)
            self._queue.put_nowait((entry, item, batch))
            added.append(entry)
        self.entries.extend(added)
        return added

    def put_resume(self, run_id: int, scenario_id: str, system: str, window: str) -> RunEntry:
        """Queue the resumption of a stored interrupted or cancelled run (the runner's ``resume_run``)."""
        self._serial += 1
        entry = RunEntry(f"live:{self._serial}", scenario_id, system, window, run_id=run_id, cancel=asyncio.Event())
        self._queue.put_nowait((entry, run_id, Batch([], left=1)))  # type: ignore[arg-type]
        self.entries.append(entry)
        return entry

    async def serve(self) -> None:
        """Start queued runs as slots allow, until cancelled; then cancel whatever still runs."""
        from app.runner.execute import EXCLUSIVE_TAG
        from app.secrets import SecretResolver

        resolver = SecretResolver()
        gate = asyncio.Semaphore(CONCURRENCY)
        tasks = self._tasks
        try:
            while True:
                self._next = await self._queue.get()
                entry, planned, batch = self._next
                exclusive = not isinstance(planned, int) and EXCLUSIVE_TAG in planned.scenario.spec.tags
                permits = CONCURRENCY if exclusive else 1
                for _ in range(permits):
                    await gate.acquire()
                if self._next is None:  # dropped while it waited for a slot: it never starts
                    for _ in range(permits):
                        gate.release()
                    continue
                self._next = None
                task = asyncio.create_task(self._one(entry, planned, batch, permits, gate, resolver))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            self.drop_queued(LEFT)  # leaving by any way never loses a queued run without a trace
            for entry in self.entries:
                if entry.cancel is not None:
                    entry.cancel.set()
            if tasks:
                await asyncio.wait(set(tasks), timeout=STOP_WAIT_S)
                for task in set(tasks):
                    task.cancel()

    async def _one(self, entry: RunEntry, planned: PlannedRun, batch: Batch, permits: int,
                   gate: asyncio.Semaphore, resolver: Any) -> None:
        from app.errors import RedlineError
        from app.runner import resume_run, run_scenarios

        post = self.feed.post
        try:
            if isinstance(planned, int):  # a stored run, finished in place under its own id
                outcome = await resume_run(planned, on_event=partial(self.feed.on_event, entry.key),
                                           cancel=entry.cancel, secrets=resolver)
            else:
                [outcome] = await run_scenarios(self.engagement_id, [planned], concurrency=1,
                                                on_event=partial(self.feed.on_event, entry.key),
                                                cancel=entry.cancel, secrets=resolver)
            batch.run_ids.extend([outcome.run_id] if outcome.run_id else [])
            batch.whole = batch.whole and outcome.status == "finished"
            post(RunDone(entry.key, "cancelled" if outcome.status == "not_started" else outcome.status,
                         outcome.verdict, note=outcome.reason if outcome.status == "planned" else ""))
        except RedlineError as exc:
            batch.whole = False
            post(RunDone(entry.key, "error", error=str(exc)))
        except Exception as exc:  # shown on the row, never a crash of the cockpit
            batch.whole = False
            post(RunDone(entry.key, "error", error=f"{type(exc).__name__}: {exc}"))
        finally:
            batch.left -= 1
            if batch.left == 0 and batch.whole and batch.run_ids:
                await self._probe(batch, resolver)
            for _ in range(permits):
                gate.release()

    async def _probe(self, batch: Batch, resolver: Any) -> None:
        """Each system of the batch gets the canary probes once, so a swapped model raises a change flag."""
        from app.changes import probe_and_record
        from app.errors import RedlineError

        first = batch.planned[0]
        try:
            await probe_and_record(self.engagement_id, [p.system.id for p in batch.planned if p.system.id],
                                   run_ids=batch.run_ids, window=first.window.name if first.window else None,
                                   secrets=resolver)
        except (RedlineError, OSError) as exc:
            self.report(exc, "the change-detection probes failed")
