"""When to try a chat call again, and how long to wait first.

A retry is only ever made before any response text arrived: retrying after text
would send the prompt twice and duplicate evidence. The server's own hint
(``retry-after-ms``, then ``retry-after`` in seconds or as an HTTP date) wins
over our backoff, within a cap; otherwise exponential backoff with full jitter
spreads clients out. ``sleep`` is injectable so tests against real servers do
not have to wait.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Awaitable, Callable, Mapping, Optional

RETRY_STATUSES = frozenset({408, 409, 429})
# Faults that happen before the request reached the model: trying again cannot duplicate anything.
RETRY_ERROR_TYPES = frozenset({"connect"})


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


def retry_after_seconds(headers: Mapping[str, str], now: Optional[datetime] = None) -> Optional[float]:
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
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass
class RetryPolicy:
    """How many times to retry and how long to wait; one per target."""

    max_retries: int = 3
    base_delay: float = 0.5  # seconds; the first backoff is drawn from [0, base_delay]
    max_delay: float = 30.0  # cap on any wait, including the server's hint
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = field(default=random.random)

    def allows(self, attempt: int) -> bool:
        """Whether a failed ``attempt`` (counted from 1) may be followed by another."""
        return attempt <= self.max_retries

    def wait_seconds(self, attempt: int, headers: Optional[Mapping[str, str]] = None) -> float:
        """Seconds to wait after failed ``attempt``: the server's hint, else full-jitter backoff."""
        hinted = retry_after_seconds(headers) if headers is not None else None
        if hinted is not None:
            return min(hinted, self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.jitter() * ceiling
