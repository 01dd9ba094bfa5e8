"""One turn as the transcript lays it out: what is shown, the raw text behind it, and where its rows fall.

The transcript draws these and the span selection maps the caret and a
selection through them, so the record lives below both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from app.text import OffsetMap, SafeText
from screens.widgets.rows import GrowingText, RowSpans


@dataclass
class ShownTurn:
    key: int
    header: str
    marks: Text | None
    prompt: str  # shown prompt
    shown: str | GrowingText  # shown response (growing while it streams)
    raw_parts: list[str] = field(default_factory=list)
    where: OffsetMap | None = None  # shown index -> raw index, once known (computed when a selection needs it)
    streaming: bool = False
    note: str = ""
    prompt_rows: RowSpans = field(default_factory=RowSpans)
    response_rows: RowSpans = field(default_factory=RowSpans)
    note_rows: RowSpans = field(default_factory=RowSpans)  # a long note wraps, never cut
    first_row: int = 0
    wrapped: int = 0  # the text width the response rows were wrapped at (0: not yet, or only its preview)
    preparing: SafeText | None = None  # a long reply whose safe text is still being prepared

    @property
    def raw(self) -> str:
        return "".join(self.raw_parts)

    def row_count(self) -> int:
        return 1 + len(self.prompt_rows) + len(self.response_rows) + len(self.note_rows)
