"""One turn as the transcript lays it out: what is shown, the raw text behind it, and where its rows fall.

The transcript draws these and the span selection maps the caret and a
selection through them, so the record lives below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rich.text import Text


@dataclass
class ShownTurn:
    key: int
    header: str
    marks: Optional[Text]
    prompt: str  # shown prompt
    shown: str  # shown response
    raw_parts: list[str] = field(default_factory=list)
    where: Optional[list[int]] = None  # shown index -> raw index, once the turn is final
    streaming: bool = False
    note: str = ""
    prompt_rows: list[tuple[int, int]] = field(default_factory=list)
    response_rows: list[tuple[int, int]] = field(default_factory=list)
    note_rows: list[tuple[int, int]] = field(default_factory=list)  # a long note wraps, never cut
    first_row: int = 0

    @property
    def raw(self) -> str:
        return "".join(self.raw_parts)

    def row_count(self) -> int:
        return 1 + len(self.prompt_rows) + len(self.response_rows) + len(self.note_rows)
