"""A burst step: identical one-message chats sent together, to measure how the system takes a load.

Each request is its own turn; its ``sample`` numbers the request across the
scenario's repetitions (``sample * requests + i``). At most ``concurrency``
are in flight, and what is still running at ``max_seconds`` is cancelled.

A burst measures raw behaviour, so its requests are never retried and never
held back by the adapter's bound on requests in flight
(:attr:`app.targets.base.ChatRequest.measure_raw`). And they must really
arrive together: the first wave's turn rows are opened in one write before
any request goes out, so no request waits on the store while the others are
already being answered (on a busy machine those waits alone spread a burst
into a trickle, and an overloaded system would look healthy).
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from app.runner.record import discard_turns, open_turns
from app.runner.stats import burst_summary
from app.targets.base import ChatRequest

if TYPE_CHECKING:
    from app.formats.scenario import BurstStep
    from app.runner.turns import RunInProgress


async def run_burst(live: RunInProgress, index: int, sample: int, step: BurstStep) -> None:
    """Send the burst, record each request as a turn, and add the step's summary to ``live.bursts``."""
    gate = asyncio.Semaphore(step.concurrency)
    label = live.label(step.identity)
    first = len(live.log)
    numbers = [sample * step.requests + i for i in range(step.requests)]
    wave = [n for n in numbers[:step.concurrency] if (index, n) not in live.prior]
    opened: dict[int, tuple[int, list[dict[str, Any]]]] = await live.writer.call(partial(
        open_turns, run_id=live.run_id, step=index, samples=wave, kind="burst", identity=step.identity))
    deadline = time.perf_counter() + step.max_seconds

    async def one(number: int) -> None:
        async with gate:
            if time.perf_counter() >= deadline or live._stop():
                return
            request = ChatRequest(messages=[{"role": "user", "content": step.user}], user=label, measure_raw=True)
            ready: tuple[int, list[dict[str, Any]]] | None = opened.pop(number, None)
            await live._chat_turn(index, number, "burst", step.identity, request, step.user, [], deadline,
                                  opened=ready)

    try:
        await asyncio.gather(*(one(n) for n in numbers))
    finally:
        if opened:  # opened for a request that was never sent (the run was stopped first)
            await live.writer.call(partial(discard_turns, turn_ids=[turn_id for turn_id, _ in opened.values()]))
    turns = [entry for entry in live.log[first:] if entry.step == index]
    live.bursts.append(burst_summary(index, sample, step.requests, step.concurrency, turns))
