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

Long texts cost the UI loop a bounded amount: rows are stored as int arrays
(:mod:`screens.widgets.rows`) and found by bisection, a streamed reply grows
without copying what came before, and a reply longer than :data:`LONG` is
shown from its first :data:`PREVIEW` characters at once while the rest is
prepared and wrapped in a thread (:meth:`Transcript.prepared` says when done).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app.text import OffsetMap, SafeText, for_terminal, one_line
from screens.widgets.rows import GrowingText, RowSpans
from screens.widgets.selection import SpanSelection
from screens.widgets.shown_turn import ShownTurn as _Turn
from screens.widgets.wrap import TAB, display_text, safe_chunk, wrap_iter

GUTTER = 6  # "MODEL " / "USER  "
HEADER, PROMPT, RESPONSE, NOTE = 0, 1, 2, 3
_LABELS = {PROMPT: "USER", RESPONSE: "MODEL", NOTE: ""}
# A reply longer than this is prepared and wrapped off the UI loop; its first PREVIEW characters show at once.
LONG = 200_000
PREVIEW = 20_000
_INTRODUCERS = ("\x1b", "\x9b", "\x9d")  # where a text made safe whole can differ from it made safe in chunks


@dataclass
class TurnText:
    """One turn to show. ``header``, ``prompt`` and ``note`` are shown literally; ``response`` is raw model text."""

    key: int
    header: str
    prompt: str
    response: str = ""
    streaming: bool = False
    marks: Text | None = None  # verdict marks after the header, already styled by the caller
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
        self._firsts: list[int] = []  # each turn's first row, for finding a row's turn by bisection
        self._total = 0  # rows in all
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._base: Style | None = None
        self._width = 0
        self._generation = 0  # bumped whenever the turns or the width change: older background work is dropped

    # ------------------------------------------------------------------ content

    @property
    def text(self) -> str:
        """Everything shown, as plain text (headers, labels and wrapped rows)."""
        return "\n".join(self._row_text(i) for i in range(self._total))

    @property
    def turn_keys(self) -> list[int]:
        return [t.key for t in self._turns]

    @property
    def prepared(self) -> bool:
        """Every reply is made safe and wrapped at the current width (none is showing only its preview)."""
        width = self._text_width()
        return all(t.preparing is None and t.wrapped in (0, width) for t in self._turns) or not self._width

    def response_shown(self, key: int) -> str:
        return str(self._turns[self._by_key[key]].shown)

    def show(self, turns: Sequence[TurnText]) -> None:
        """Replace everything with ``turns`` (one full render; long replies finish off the UI loop)."""
        self._generation += 1
        self._turns = [self._make(t) for t in turns]
        self._by_key = {t.key: i for i, t in enumerate(self._turns)}
        self.current = None if not self._turns or self.current is None else min(self.current, len(self._turns) - 1)
        self.select_from, self.caret = None, 0
        self._layout_from(0)

    def _make(self, turn: TurnText) -> _Turn:
        entry = _Turn(turn.key, for_terminal(turn.header), turn.marks, safe_chunk(turn.prompt).rstrip(), "",
                      [turn.response], streaming=turn.streaming, note=one_line(turn.note, 600))
        if turn.streaming:
            entry.shown = GrowingText(safe_chunk(turn.response))
        elif len(turn.response) > LONG:
            entry.preparing = SafeText(turn.response, TAB)
            entry.shown = entry.preparing.advance(PREVIEW)  # exactly the start of what the whole text shows
        else:
            entry.shown, entry.where = display_text(turn.response)
        return entry

    def begin_turn(self, key: int, header: str, prompt: str) -> None:
        """A new turn at the end, its response empty and streaming."""
        if key in self._by_key:
            return
        follow = self.is_vertical_scroll_end
        self._by_key[key] = len(self._turns)
        self._turns.append(self._make(TurnText(key, header, prompt, streaming=True)))
        self._layout_from(len(self._turns) - 1)
        self._follow(follow)

    def append(self, key: int, chunk: str) -> None:
        """Append newly streamed text: only the response's last row and the rows after it are redrawn."""
        index = self._by_key.get(key)
        if index is None or not chunk:
            return
        turn = self._turns[index]
        turn.raw_parts.append(chunk)
        if not isinstance(turn.shown, GrowingText):
            turn.shown = GrowingText(str(turn.shown))
        turn.shown.append(safe_chunk(chunk))
        follow = self.is_vertical_scroll_end
        width = self._text_width()
        if index != len(self._turns) - 1 or turn.note or not self._width or turn.wrapped != width:
            self._layout_from(index)  # a burst streams several turns at once: rare, so lay out the rest again
        else:
            rows = turn.response_rows
            last = len(rows) - 1  # the response's last row is re-wrapped; the rows before it stand
            start = rows.starts[last]
            rows.replace_from(last, ((s + start, e + start) for s, e in wrap_iter(turn.shown[start:], width)))
            keep = turn.first_row + 1 + len(turn.prompt_rows) + last
            self._total = turn.first_row + turn.row_count()
            for row in range(keep, self._total):
                self._cache.discard(row)
            self._grow(self._total)
            self.refresh_lines(keep, self._total - keep)
        self._follow(follow)

    def end_turn(self, key: int, response: str | None = None, marks: Text | None = None,
                 note: str = "") -> None:
        """The turn is over: shown from the whole raw text (``response`` if given, else what streamed).

        What streamed was made safe chunk by chunk; the whole text made safe at
        once differs from it only where an escape sequence was cut between two
        chunks, which needs an introducer (ESC, CSI, OSC). Without one, and with
        the text that streamed, the rows stand: nothing is prepared again, so
        the end of a long reply costs no more than its last batch.
        """
        index = self._by_key.get(key)
        if index is None:
            return
        turn = self._turns[index]
        streamed = turn.raw
        raw = streamed if response is None else response
        turn.raw_parts = [raw]
        turn.streaming = False
        turn.note = one_line(note, 600) if note else turn.note
        if marks is not None:
            turn.marks = marks
        if raw != streamed or any(c in raw for c in _INTRODUCERS):
            turn.shown, turn.where = display_text(raw)
            turn.wrapped = 0
        follow = self.is_vertical_scroll_end
        self._layout_from(index)  # the response's rows are kept when its text stands
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
        """Recompute the rows of turns ``index`` onwards (a response already wrapped at this width is kept)."""
        width = self._text_width()
        background = False
        for turn in self._turns[index:]:
            turn.prompt_rows = RowSpans(wrap_iter(turn.prompt, width) if turn.prompt else ())
            if turn.wrapped != width or not turn.response_rows:
                if len(turn.shown) > LONG and not turn.streaming:
                    # Only its start now (the rows it gives are the first rows of the whole): the rest off the loop.
                    turn.response_rows = RowSpans(wrap_iter(str(turn.shown)[:PREVIEW], width))
                    turn.wrapped, background = 0, True
                else:
                    turn.response_rows = RowSpans(wrap_iter(str(turn.shown), width))
                    turn.wrapped = width if turn.preparing is None else 0
                    background = background or turn.preparing is not None
            turn.note_rows = RowSpans(wrap_iter(turn.note, width) if turn.note else ())
        self._renumber(index)
        self._redraw()
        self._grow(self._total)
        if background and self._width:
            self._generation += 1
            # After the next frame: a thread started now would share the interpreter with drawing that frame.
            self.call_after_refresh(self._start_preparing, self._generation, width)

    def _start_preparing(self, generation: int, width: int) -> None:
        if generation == self._generation:
            self.run_worker(self._prepare_rest(generation, width, list(self._turns)), thread=True,
                            exclusive=True, group="transcript-prepare", exit_on_error=False)

    def _renumber(self, index: int) -> None:
        """Each turn's first row from ``index`` on, after rows were added or removed before them."""
        del self._firsts[index:]
        row = self._turns[index - 1].first_row + self._turns[index - 1].row_count() if index else 0
        for turn in self._turns[index:]:
            turn.first_row = row
            self._firsts.append(row)
            row += turn.row_count()
        self._total = row

    def _prepare_rest(self, generation: int, width: int, turns: list[_Turn]) -> Callable[[], None]:
        """Work for a thread: finish the long replies' safe text and rows, then hand each to the UI loop."""

        def work() -> None:
            for index, turn in enumerate(turns):
                if generation != self._generation:
                    return  # shown again or resized: this work is stale
                if turn.preparing is None and (turn.wrapped == width or len(turn.shown) <= LONG):
                    continue
                prepared, shown, where = turn.preparing, turn.shown, turn.where
                if prepared is not None:
                    while not prepared.done:  # in stretches, so the UI loop gets the interpreter between them
                        prepared.advance(prepared.position + 256 * 1024)
                    shown, where = prepared.result()
                rows = RowSpans(wrap_iter(str(shown), width))
                self.app.call_from_thread(self._prepared, generation, index, shown, where, rows, width)

        return work

    def _prepared(self, generation: int, index: int, shown: str | GrowingText, where: OffsetMap | None,
                  rows: RowSpans, width: int) -> None:
        if generation != self._generation or width != self._text_width():
            return  # the turns or the width changed since: newer work is under way
        turn = self._turns[index]
        turn.shown, turn.where, turn.preparing = shown, where, None
        turn.response_rows, turn.wrapped = rows, width
        self._renumber(index)
        self._redraw()
        self._grow(self._total)

    def _grow(self, rows: int) -> None:
        """Set the scroll height to ``rows`` without a layout of the screen.

        Assigning ``virtual_size`` asks for a full layout of every widget on
        the screen, once per growing row count: hundreds while a run streams.
        Only the scroll range and the scrollbar change here (the widget's own
        size does not), so those are what is updated.
        """
        size = Size(self._width, rows)
        if size != self.virtual_size:
            self.set_reactive(Transcript.virtual_size, size)
            self._scroll_update(size)

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

    def _row(self, row: int) -> tuple[int, int, int, int]:
        """(turn index, part, start, end) of a row, found by bisection (no list with an entry per row)."""
        t_index = bisect_right(self._firsts, row) - 1
        turn = self._turns[t_index]
        local = row - turn.first_row - 1
        if local < 0:
            return t_index, HEADER, 0, 0
        for part, rows in ((PROMPT, turn.prompt_rows), (RESPONSE, turn.response_rows), (NOTE, turn.note_rows)):
            if local < len(rows):
                return (t_index, part, *rows[local])
            local -= len(rows)
        raise IndexError(row)

    # ---------------------------------------------------------------- rendering

    def _label(self, row: int) -> str:
        """USER or MODEL on the first row of a prompt or response, blank on the rows that continue it."""
        t_index, part, _start, _end = self._row(row)
        turn = self._turns[t_index]
        first = turn.first_row + 1 + (len(turn.prompt_rows) if part == RESPONSE else 0)
        return _LABELS[part] if row == first else ""

    def _source(self, turn: _Turn, part: int) -> str | GrowingText:
        return turn.prompt if part == PROMPT else turn.shown if part == RESPONSE else turn.note

    def _row_text(self, row: int) -> str:
        t_index, part, start, end = self._row(row)
        turn = self._turns[t_index]
        if part == HEADER:
            return f"── {turn.header}" + (f" {turn.marks.plain}" if turn.marks is not None else "")
        return f"{self._label(row):<{GUTTER}}{self._source(turn, part)[start:end]}"

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base if self._base is not None else self._base_style()
        if row >= self._total:
            return Strip.blank(width, base)
        strip = self._cache.get(row)
        if strip is None:
            strip = self._render_row(row, base)
            self._cache[row] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, row)

    def _base_style(self) -> Style:
        """The widget's style, computed once per style change, not once per line drawn."""
        self._base = self.rich_style
        return self._base

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None  # a theme or class change: every row is drawn again in the new style
        self._cache.clear()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"transcript--{name}", partial=True)

    def _render_row(self, row: int, base: Style) -> Strip:
        t_index, part, start, end = self._row(row)
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
