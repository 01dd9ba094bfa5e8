"""Events the runner emits while it works; the UI turns them into Textual messages at its edge.

Plain dataclasses, so the headless CLI, the cockpit and the tests can all
consume them without importing any UI code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    scenario_id: str
    system: str
    window: str | None


@dataclass(frozen=True)
class TurnStarted:
    run_id: int
    turn_id: int
    step: int
    sample: int
    kind: str
    prompt: str  # what the user side sent (untrusted: scenario text)


@dataclass(frozen=True)
class ChunkReceived:
    run_id: int
    turn_id: int
    text: str  # only the new text (untrusted model output)
    ttft_ms: float | None = None


@dataclass(frozen=True)
class TurnFinished:
    run_id: int
    turn_id: int
    status: str  # done | error
    error_type: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens: int = 0


@dataclass(frozen=True)
class VerdictRecorded:
    run_id: int
    turn_id: int | None
    detector: str
    outcome: str  # pass | fail | review | error
    reason: str = ""


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str  # finished | cancelled | interrupted
    verdict: str  # pass | fail | review | error
    finding_ids: list[int] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


RunnerEvent = RunStarted | TurnStarted | ChunkReceived | TurnFinished | VerdictRecorded | RunFinished
