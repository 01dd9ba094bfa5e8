"""Collecting one turn's events from a target, for assertions in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.targets.base import (
    BodyBytes,
    ChatRequest,
    RequestSent,
    ResponseMeta,
    RetryScheduled,
    Target,
    TargetEvent,
    TextDelta,
    TurnCompleted,
    TurnFailed,
)


@dataclass
class TurnRecord:
    events: list[TargetEvent] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def raw(self) -> bytes:
        """The response body as the adapter passed it on, piece by piece."""
        return b"".join(e.data for e in self.events if isinstance(e, BodyBytes))

    @property
    def deltas(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, TextDelta)]

    @property
    def chunk_count(self) -> int:
        """Stream chunks behind the deltas (a delta joins the chunks of one network read)."""
        return sum(e.chunks for e in self.events if isinstance(e, TextDelta))

    @property
    def sent(self) -> RequestSent | None:
        return next((e for e in self.events if isinstance(e, RequestSent)), None)

    @property
    def retries(self) -> list[RetryScheduled]:
        return [e for e in self.events if isinstance(e, RetryScheduled)]

    @property
    def end(self) -> TurnCompleted | TurnFailed:
        last = self.events[-1]
        assert isinstance(last, (TurnCompleted, TurnFailed)), f"turn did not end: {last!r}"
        ends = [e for e in self.events if isinstance(e, (TurnCompleted, TurnFailed))]
        assert len(ends) == 1, f"expected exactly one end event, got {ends!r}"
        return last

    @property
    def failed(self) -> TurnFailed | None:
        return self.end if isinstance(self.end, TurnFailed) else None

    @property
    def meta(self) -> dict[str, Any]:
        """Every ResponseMeta merged, later non-None fields winning (how the runner reads them)."""
        merged: dict[str, Any] = {}
        for event in self.events:
            if isinstance(event, ResponseMeta):
                merged.update({k: v for k, v in vars(event).items() if v is not None})
        return merged


async def run_turn(target: Target, request: ChatRequest) -> TurnRecord:
    record = TurnRecord()
    async for event in target.stream_chat(request):
        record.events.append(event)
    return record


def chat(text: str, **options: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], **options)
