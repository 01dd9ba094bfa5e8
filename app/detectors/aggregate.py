"""Rolling turn verdicts up into a run verdict, with the rates an auditor samples by.

A scenario run with ``samples: 20`` asks the same thing twenty times; the
scenario's ``pass_criteria`` says how many failures it tolerates. Errors are
turns the target never answered: they are counted apart, never as passes, and
the fail rate is taken over the turns that were judged, so an outage cannot
dilute a leak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.formats.scenario import PassCriteria

OUTCOMES = ("pass", "fail", "review", "error")


def aggregate(turn_outcomes: list[str], criteria: "PassCriteria") -> tuple[str, dict[str, Any]]:
    """The run verdict and its metrics.

    ``error`` when no turn could be judged (all errored, or there were none);
    ``fail`` when the fail rate exceeds ``max_fail_rate``, or the error rate
    exceeds ``max_error_rate`` when one is set; ``review`` when any turn awaits
    human review; otherwise ``pass``.
    """
    unknown = sorted({o for o in turn_outcomes if o not in OUTCOMES})
    if unknown:
        raise ValueError(f"unknown turn outcome {unknown[0]!r} (known: {', '.join(OUTCOMES)})")
    samples = len(turn_outcomes)
    counts = {outcome: turn_outcomes.count(outcome) for outcome in OUTCOMES}
    judged = samples - counts["error"]
    fail_rate = counts["fail"] / judged if judged else 0.0
    error_rate = counts["error"] / samples if samples else 0.0
    metrics: dict[str, Any] = {
        "samples": samples,
        "judged": judged,
        "passes": counts["pass"],
        "fails": counts["fail"],
        "reviews": counts["review"],
        "errors": counts["error"],
        "fail_rate": fail_rate,
        "error_rate": error_rate,
        "max_fail_rate": criteria.max_fail_rate,
        "max_error_rate": criteria.max_error_rate,
    }
    if judged == 0:
        return "error", metrics
    if fail_rate > criteria.max_fail_rate:
        return "fail", metrics
    if criteria.max_error_rate is not None and error_rate > criteria.max_error_rate:
        return "fail", metrics
    if counts["review"]:
        return "review", metrics
    return "pass", metrics
