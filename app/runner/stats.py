"""Latency percentiles and run-level rates, as the evidence reports them.

Percentiles interpolate linearly between ranks (the common "type 7" rule), so
a burst of ten requests gives a p95 between its two slowest, not simply the
slowest. Values are rounded to 0.1 ms: finer digits are noise on loopback and
only bloat the stored metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) of ``values``; None when there are none."""
    ordered = sorted(v for v in values if v is not None and not math.isnan(v))
    if not ordered:
        return None
    if len(ordered) == 1:
        return round(ordered[0], 1)
    rank = (len(ordered) - 1) * (q / 100.0)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 1)


def latency_summary(values: Iterable[float]) -> dict[str, float | None]:
    """p50/p95/p99 of a set of latencies in milliseconds."""
    items = list(values)
    return {"p50": percentile(items, 50), "p95": percentile(items, 95), "p99": percentile(items, 99)}


def rate(part: int, whole: int) -> float:
    """A rate rounded for reporting; 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def burst_summary(step: int, sample: int, planned: int, concurrency: int, turns: Iterable[Any]) -> dict[str, Any]:
    """A burst step's evidence: how many requests went out, how many failed, and how fast the rest were.

    ``turns`` carry ``status`` and ``total_ms``; latency is taken over answered
    requests (an instant 503 is not a fast answer), errors over every request sent.
    """
    sent = [t for t in turns if t.status in ("done", "error", "cancelled")]
    errors = [t for t in sent if t.status == "error"]
    answered = [t.total_ms for t in sent if t.status == "done" and t.total_ms is not None]
    return {
        "step": step, "sample": sample, "planned": planned, "concurrency": concurrency,
        "count": len(sent), "errors": len(errors), "error_rate": rate(len(errors), len(sent)),
        "error_types": sorted({t.error_type for t in errors if t.error_type}),
        "stopped_early": len(sent) < planned or any(t.status == "cancelled" for t in sent),
        "latency_ms": latency_summary(answered),
    }
