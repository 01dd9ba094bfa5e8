"""The transcript: each turn's prompt and response, streamed in without re-rendering what is already drawn.

A line-API widget. While a turn streams, :meth:`Transcript.append` re-wraps
only the last visual row of that response plus the new text (greedy wrapping
never changes the rows before it, see :mod:`screens.widgets.wrap`) and
refreshes just those rows; it follows the stream only when the reader is
already at the bottom, so scrolling up to read is never yanked away.
:meth:`Transcript.end_turn` does the one full render of the turn, from the raw
text, with the offset map that lets a selection (:mod:`screens.widgets.selection`)
quote exactly what the model sent.

Every character shown passes through :func:`app.text.for_terminal` and is
drawn as plain ``Text`` (never markup): model output cannot style, link,
click, retitle the terminal or reorder the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.text import for_terminal, one_line
from screens.widgets.selection import SpanSelection
from screens.widgets.shown_turn import ShownTurn as _Turn
from screens.widgets.wrap import display_text, safe_chunk, wrap_spans

GUTTER = 6  # "MODEL " / "USER  "
HEADER, PROMPT, RESPONSE, NOTE = 0, 1, 2, 3
_LABELS = {PROMPT: "USER", RESPONSE: "MODEL", NOTE: ""}


@dataclass
class TurnText:
    """One turn to show. ``header``, ``prompt`` and ``note`` are shown literally; ``response`` is raw model text."""

    key: int
    header: str
    prompt: str
    response: str = ""
    streaming: bool = False
    marks: Optional[Text] = None  # verdict marks after the header, already styled by the caller
    note: str = ""  # e.g. why the turn got no answer


class Transcript(SpanSelection, ScrollView, can_focus=True):
    """USER / MODEL turns under a header each. Streaming: :meth:`begin_turn`, :meth:`append`, :meth:`end_turn`."""

    COMPONENT_CLASSES = {"transcript--label", "transcript--header", "transcript--current",
                         "transcript--selection", "transcript--caret", "transcript--note"}
    DEFAULT_CSS = """
    Transcript { scrollbar-gutter: stable; overflow-x: hidden; background: $surface; }
    Transcript > .transcript--label { color: $text-muted; text-style: bold; }
    Transcript > .transcript--header { color: $text-muted; }
    Transcript > .transcript--current { color: $text; background: $boost; text-style: bold; }
    Transcript > .transcript--selection { background: $accent 60%; }
    Transcript > .transcript--caret { text-style: reverse; }
    Transcript > .transcript--note { color: $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = list(SpanSelection.KEYS)
    GUTTER_WIDTH = GUTTER  # for SpanSelection's mouse mapping
    RESPONSE_PART = RESPONSE

    class SelectionChanged(Message):
        """The current turn, the caret or the selection moved (triage redraws its panel)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._turns: list[_Turn] = []
        self._by_key: dict[int, int] = {}
        self._rows: list[tuple[int, int, int, int]] = []  # (turn index, part, start, end)
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._width = 0

    # ------------------------------------------------------------------ content

    @property
    def text(self) -> str:
        """Everything shown, as plain text (headers, labels and wrapped rows)."""
        return "\n".join(self._row_text(i) for i in range(len(self._rows)))

    @property
    def turn_keys(self) -> list[int]:
        return [t.key for t in self._turns]

    def response_shown(self, key: int) -> str:
        return self._turns[self._by_key[key]].shown

    def show(self, turns: Sequence[TurnText]) -> None:
        """Replace everything with ``turns`` (one full render)."""
        self._turns = [self._make(t) for t in turns]
        self._by_key = {t.key: i for i, t in enumerate(self._turns)}
        self.current = None if not self._turns or self.current is None else min(self.current, len(self._turns) - 1)
        self.select_from, self.caret = None, 0
        self._layout_from(0)

    def _make(self, turn: TurnText) -> _Turn:
        entry = _Turn(turn.key, for_terminal(turn.header), turn.marks, safe_chunk(turn.prompt).rstrip(), "",
                      [turn.response], streaming=turn.streaming, note=one_line(turn.note, 600))
        if turn.streaming:
            entry.shown = safe_chunk(turn.response)
        else:
            entry.shown, entry.where = display_text(turn.response)
        return entry

    def begin_turn(self, key: int, header: str, prompt: str) -> None:
        """A new turn at the end, its response empty and streaming."""
        if key in self._by_key:
            return
        follow = self.is_vertical_scroll_end
        self._by_key[key] = len(self._turns)
        entry = self._make(TurnText(key, header, prompt, streaming=True))
        entry.first_row = len(self._rows)
        self._turns.append(entry)
        self._layout_from(len(self._turns) - 1)
        self._follow(follow)

    def append(self, key: int, chunk: str) -> None:
        """Append newly streamed text: only the response's last row and the rows after it are redrawn."""
        index = self._by_key.get(key)
        if index is None or not chunk:
            return
        turn = self._turns[index]
        turn.raw_parts.append(chunk)
        turn.shown += safe_chunk(chunk)
        follow = self.is_vertical_scroll_end
        if index != len(self._turns) - 1 or turn.note or not self._width:
            self._layout_from(index)  # a burst streams several turns at once: rare, so lay out the rest again
        else:
            rows = self._rows
            keep = len(rows) - 1  # the response's last row is re-wrapped; the rows before it stand
            fresh = wrap_spans(turn.shown, self._text_width(), turn.response_rows[-1][0])
            turn.response_rows[-1:] = fresh
            rows[keep:] = [(index, RESPONSE, s, e) for s, e in fresh]
            for row in range(keep, len(rows)):
                self._cache.discard(row)
            self.virtual_size = Size(self._width, len(rows))
            self.refresh_lines(keep, len(rows) - keep)
        self._follow(follow)

    def end_turn(self, key: int, response: Optional[str] = None, marks: Optional[Text] = None,
                 note: str = "") -> None:
        """The turn is over: one full render of it from the raw text (``response`` if given, else what streamed)."""
        index = self._by_key.get(key)
        if index is None:
            return
        turn = self._turns[index]
        turn.raw_parts = [turn.raw if response is None else response]
        turn.shown, turn.where = display_text(turn.raw_parts[0])
        turn.streaming = False
        turn.note = one_line(note, 600) if note else turn.note
        if marks is not None:
            turn.marks = marks
        follow = self.is_vertical_scroll_end
        self._layout_from(index)
        self._follow(follow)

    def set_marks(self, key: int, marks: Text) -> None:
        """Replace the verdict marks after a turn's header (one row redrawn)."""
        index = self._by_key.get(key)
        if index is None:
            return
        turn = self._turns[index]
        turn.marks = marks
        self._cache.discard(turn.first_row)
        self.refresh_lines(turn.first_row)

    # ------------------------------------------------------------------- layout

    def _text_width(self) -> int:
        return max(8, self._width - GUTTER)

    def _layout_from(self, index: int) -> None:
        """Recompute the rows of turns ``index`` onwards (the rows before them stand)."""
        width = self._text_width()
        del self._rows[0 if index == 0 else self._turns[index].first_row:]
        for t_index in range(index, len(self._turns)):
            turn = self._turns[t_index]
            turn.first_row = len(self._rows)
            turn.prompt_rows = wrap_spans(turn.prompt, width) if turn.prompt else []
            turn.response_rows = wrap_spans(turn.shown, width)
            self._rows.append((t_index, HEADER, 0, 0))
            self._rows.extend((t_index, PROMPT, s, e) for s, e in turn.prompt_rows)
            self._rows.extend((t_index, RESPONSE, s, e) for s, e in turn.response_rows)
            turn.note_rows = wrap_spans(turn.note, width) if turn.note else []
            self._rows.extend((t_index, NOTE, s, e) for s, e in turn.note_rows)
        self._redraw()
        self.virtual_size = Size(self._width, len(self._rows))

    def _follow(self, was_at_end: bool) -> None:
        if was_at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _redraw(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._layout_from(0)

    # ---------------------------------------------------------------- rendering

    def _label(self, row: int) -> str:
        """USER or MODEL on the first row of a prompt or response, blank on the rows that continue it."""
        t_index, part, _start, _end = self._rows[row]
        turn = self._turns[t_index]
        first = turn.first_row + 1 + (len(turn.prompt_rows) if part == RESPONSE else 0)
        return _LABELS[part] if row == first else ""

    def _source(self, turn: _Turn, part: int) -> str:
        return turn.prompt if part == PROMPT else turn.shown if part == RESPONSE else turn.note

    def _row_text(self, row: int) -> str:
        t_index, part, start, end = self._rows[row]
        turn = self._turns[t_index]
        if part == HEADER:
            return f"── {turn.header}" + (f" {turn.marks.plain}" if turn.marks is not None else "")
        return f"{self._label(row):<{GUTTER}}{self._source(turn, part)[start:end]}"

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if row >= len(self._rows):
            return Strip.blank(width, base)
        strip = self._cache.get(row)
        if strip is None:
            strip = self._render_row(row, base)
            self._cache[row] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, row)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"transcript--{name}", partial=True)

    def _render_row(self, row: int, base: Style) -> Strip:
        t_index, part, start, end = self._rows[row]
        turn = self._turns[t_index]
        line = Text(style=base, no_wrap=True, end="")
        if part == HEADER:
            line.append(f"── {turn.header} ", self._style("current" if t_index == self.current else "header"))
            if turn.marks is not None:
                line.append_text(turn.marks)
            line.append("─" * max(0, self._width - line.cell_len), self._style("header"))
        else:
            line.append(f"{self._label(row):<{GUTTER}}", self._style("label"))
            body = Text(self._source(turn, part)[start:end], no_wrap=True, end="",
                        style=self._style("note") if part == NOTE else "")
            if part == RESPONSE and t_index == self.current:
                self._paint_selection(body, start, end)
            line.append_text(body)
            if part == RESPONSE and turn.streaming and row == turn.first_row + turn.row_count() - 1:
                line.append("▌", self._style("label"))
        return Strip(list(line.render(self.app.console)), line.cell_len)

    def _paint_selection(self, body: Text, start: int, end: int) -> None:
        """The selection (if any) and the caret, always shown on the current turn."""
        low, high = self.selection or (self.caret, self.caret)
        if high > low and high > start and low < end:
            body.stylize(self._style("selection"), max(low, start) - start, min(high, end) - start)
        at_end = self.caret == end and end == len(self._current_turn().shown)
        if start <= self.caret < end or at_end:
            at = self.caret - start
            if at >= len(body.plain):
                body.append(" ")
            body.stylize(self._style("caret"), at, at + 1)
