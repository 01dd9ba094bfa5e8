"""How many chat requests one system gets at once: no bound until it says it is overloaded.

The runner may run several scenarios against one system side by side
(``--concurrency``). A system with less capacity answers the extra requests
with 429 or 503, and an unanswered turn can only make a run inconclusive. So
each system's adapter holds one :class:`InFlightBound`: unbounded at first,
halved (down to one) each time an overload answer arrives, and kept for the
rest of the batch. The refused request waits its backoff, then its turn under
the new bound, and is sent again; the retry is recorded on the turn. After the
first overload the system is never asked for more than it showed it can take,
so a run at the default concurrency reaches the verdicts of a run one request
at a time. Bursts bypass the bound: they exist to measure the overload.
"""

from __future__ import annotations

import asyncio


class InFlightBound:
    """A per-system cap on chat requests in flight, lowered by overload answers (never raised)."""

    def __init__(self) -> None:
        self.limit: int | None = None  # None: no bound yet
        self.in_flight = 0
        self.lowered: list[tuple[int, int]] = []  # (in flight when refused, new limit), in order
        self._waiters: list[asyncio.Future[None]] = []

    async def acquire(self) -> None:
        """Wait until one more request fits under the bound, then count it."""
        while self.limit is not None and self.in_flight >= self.limit:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.in_flight += 1

    def release(self, *, overloaded: bool = False) -> None:
        """The request is over; ``overloaded``: it was turned away, so halve the bound.

        Synchronous, so it is safe in the ``finally`` of a stream being cancelled."""
        if overloaded:
            limit = max(1, self.in_flight // 2)
            if self.limit is None or limit < self.limit:
                self.limit = limit
                self.lowered.append((self.in_flight, limit))
        self.in_flight -= 1
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
