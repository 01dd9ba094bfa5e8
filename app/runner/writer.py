"""The runner's store writes, done in order on one thread of their own.

Why a thread: the runner shares its event loop with the cockpit and with the
other turns streaming beside it. A turn's batches carry its raw body as it
arrives (up to megabytes a second), and SQLite blocks for the whole of each
write. On the loop, every such write would freeze the screen and, worse, add
its duration to the latency measured for every turn streaming at that moment,
which is evidence an auditor reads. On this thread the loop only queues the
write; SQLite does the work without holding the GIL, on the machine's other core.

Jobs run one at a time in the order they were queued, so a turn's batches are
stored in order and its final row is written after them. A queued batch
is committed within moments, so a killed process still loses only the last
fraction of a second.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")
Job = Callable[["Connection"], T]


class StoreWriter:
    """A queue of write jobs, each run in its own transaction on the writer thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._jobs: queue.SimpleQueue[tuple[Job, Future] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="redline-store-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job[T]) -> Future[T]:
        """Queue ``job``; its future holds what it returned or raised."""
        if not self._thread.is_alive():
            raise RuntimeError("the store writer is closed")
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    async def call(self, job: Job[T]) -> T:
        """Queue ``job`` and wait for it without blocking the event loop."""
        return await self.wait(self.submit(job))

    @staticmethod
    async def wait(future: Future[T]) -> T:
        """Wait for a queued job. Cancelling the waiter never cancels the write: once
        queued, a turn's final row is stored even if the run is stopped meanwhile."""
        return await asyncio.shield(asyncio.wrap_future(future))

    def close(self) -> None:
        """Finish every queued job, then stop the thread."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with self.engine.begin() as conn:
                    result = job(conn)
            except BaseException as exc:  # handed to whoever waits on the job
                future.set_exception(exc)
            else:
                future.set_result(result)
