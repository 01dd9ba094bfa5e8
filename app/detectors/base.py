"""The detector contract: pure functions from one observed turn to a verdict.

A detector never does I/O. The runner builds a :class:`TurnObservation`,
calls :func:`app.detectors.evaluate`, and stores the result; export and tests
reuse the same functions on stored turns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TurnObservation:
    text: str  # assembled response text (for list_models: one model id per line)
    kind: str = "chat"  # step type
    http_status: int | None = None
    error_type: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    models: tuple[str, ...] = ()  # list_models result
    # Engagement context: the system's documented models, planted canaries, identities seen.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectorResult:
    outcome: str  # pass | fail | review | error
    reason: str
    span: tuple[int, int] | None = None  # offsets into the text of the evidence

    def evidence(self, text: str) -> dict[str, Any]:
        if self.span is None:
            return {}
        start, end = self.span
        return {"start": start, "end": end, "quote": text[start:end]}


class CannotJudge(Exception):
    """Raised by a family's ``match`` when the turn gives it nothing to judge
    (the model never answered, no measurement, no context to compare with).
    The turn's outcome is then ``error``: never a pass by default."""


@dataclass(frozen=True)
class DetectorFamily:
    """``check`` validates parameters (raising ValueError with a field-specific message);
    ``match`` returns the matched span and a reason, or None when nothing matched,
    and raises :class:`CannotJudge` when the turn cannot be judged.

    ``miss`` (optional) explains a non-match with the facts the family looked at,
    e.g. the measured latency; ``kinds`` (optional) limits the family to step types.

    ``judges_faults`` marks the families that judge how the endpoint answered
    (status, latency): a 401 or a timeout is their evidence. Every other family
    reads the text, and a turn that ended in a target fault has no complete
    text: only what it found in the part that arrived (a leak is a leak) stands.
    """

    name: str
    check: Callable[[dict[str, Any]], None]
    match: Callable[[dict[str, Any], TurnObservation], tuple[tuple[int, int] | None, str] | None]
    describe: str = ""
    miss: Callable[[dict[str, Any], TurnObservation], str] | None = None
    kinds: tuple[str, ...] = ()  # step types it applies to; empty: every type
    judges_faults: bool = False  # True: an errored turn's status or timing is this family's evidence
