"""When to try a chat call again, and how long to wait first.

A retry is only ever made before any response text arrived: retrying after text
would send the prompt twice and duplicate evidence. The server's own hint
(``retry-after-ms``, then ``retry-after`` in seconds or as an HTTP date) wins
over our backoff, within a cap; otherwise exponential backoff with full jitter
spreads clients out. ``sleep`` is injectable so tests against real servers do
not have to wait.

Two budgets. ``max_retries`` covers faults in general (408, 409, 5xx, a refused
connection). An overload answer (429, 503) is the server saying it did not take
the request on: it has its own, separate budget (``overload_retries``), so a
careful configuration with ``max_retries: 0`` still waits its turn instead of
recording an unjudged turn, and a test run at any concurrency reaches the same
verdicts as one request at a time. A burst step, which measures exactly how
the system answers a load, is never retried (:attr:`ChatRequest.measure_raw`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.formats.engagement import TargetSpec

RETRY_STATUSES = frozenset({408, 409, 429})
# "Too many requests" and "service unavailable": the server turned the request away before any work.
OVERLOAD_STATUSES = frozenset({429, 503})
# Faults that happen before the request reached the model: trying again cannot duplicate anything.
RETRY_ERROR_TYPES = frozenset({"connect"})


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


def is_overload_status(status: int | None) -> bool:
    """An answer that says the system is overloaded: wait and ask again, and send less at once."""
    return status in OVERLOAD_STATUSES


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The server's requested wait, or None when it gave none we can read.

    ``retry-after-ms`` (OpenAI) is checked first because it is the more precise;
    ``retry-after`` may be delta-seconds or an HTTP date.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    after = headers.get("retry-after")
    if not after:
        return None
    after = after.strip()
    try:
        value = float(after)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(after)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class RetryPolicy:
    """How many times to retry and how long to wait; one per target."""

    max_retries: int = 3
    overload_retries: int = 4  # for 429 and 503 answers; with the 30 s cap on each wait, a bounded total
    base_delay: float = 0.5  # seconds; the first backoff is drawn from [0, base_delay]
    max_delay: float = 30.0  # cap on any wait, including the server's hint
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = field(default=random.random)

    @classmethod
    def for_spec(cls, spec: TargetSpec, sleep: Callable[[float], Awaitable[None]] | None = None) -> RetryPolicy:
        """The policy a system's target block asks for (``max_retries``, ``overload_retries``)."""
        policy = cls(max_retries=spec.max_retries, overload_retries=spec.overload_retries)
        if sleep is not None:
            policy.sleep = sleep
        return policy

    def allows(self, attempt: int, overload: bool = False) -> bool:
        """Whether a failed ``attempt`` (counted from 1 within its budget) may be followed by another."""
        return attempt <= (self.overload_retries if overload else self.max_retries)

    def wait_seconds(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait after failed ``attempt``: the server's hint, else full-jitter backoff."""
        hinted = retry_after_seconds(headers) if headers is not None else None
        if hinted is not None:
            return min(hinted, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.jitter() * ceiling
