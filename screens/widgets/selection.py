"""Keyboard selection of a span of one response, for triage: the part of the transcript a tester quotes.

A mixin for :class:`screens.widgets.transcript.Transcript`, kept apart so the
streaming widget reads in one sitting. The selection lives in shown offsets of
the current turn's response (what the terminal draws); :meth:`raw_selection`
maps it back to offsets of the raw text the model sent, which is what evidence
quotes.

Selection works as vim's visual mode: once a turn is current, a caret sits in
its response and the arrows move it by character and row, ``w``/``b`` (or
ctrl+arrows) by word. ``v`` drops an anchor where the caret is, so any span can
be selected, not only one that starts the answer; shift+arrows anchor and
extend in one go, and a mouse drag selects what it crosses. With no current
turn (the Run screen's live view) the same keys scroll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from screens.widgets.wrap import display_text

if TYPE_CHECKING:
    from app.text import OffsetMap
    from screens.widgets.shown_turn import ShownTurn as _Turn


class SpanSelection:
    """Current turn, caret and selection anchor; the host supplies ``_turns``, rows and scrolling."""

    # Textual collects BINDINGS only from widget classes: the host lists these in its own.
    KEYS = [
        Binding("up", "caret_row(-1)", "Up", show=False, id="transcript.up"),
        Binding("down", "caret_row(1)", "Down", show=False, id="transcript.down"),
        Binding("left", "caret(-1)", "Left", show=False, id="transcript.left"),
        Binding("right", "caret(1)", "Right", show=False, id="transcript.right"),
        Binding("ctrl+left,b", "caret_word(-1)", "Word back", show=False, id="transcript.word_back"),
        Binding("ctrl+right,w", "caret_word(1)", "Word on", show=False, id="transcript.word_on"),
        Binding("shift+left", "extend('caret', -1)", "Select left", show=False, id="transcript.select_left"),
        Binding("shift+right", "extend('caret', 1)", "Select right", show=False, id="transcript.select_right"),
        Binding("shift+up", "extend('caret_row', -1)", "Select up", show=False, id="transcript.select_up"),
        Binding("shift+down", "extend('caret_row', 1)", "Select down", show=False, id="transcript.select_down"),
        Binding("ctrl+shift+left", "extend('caret_word', -1)", "Select word back", show=False,
                id="transcript.select_word_back"),
        Binding("ctrl+shift+right", "extend('caret_word', 1)", "Select word on", show=False,
                id="transcript.select_word_on"),
    ]

    _turns: list[_Turn]
    current: int | None = None  # the turn triage works on
    select_from: int | None = None  # where the selection started (shown offset in the current response)
    caret: int = 0

    # the host widget's (Transcript / ScrollView) own methods
    scroll_offset: Any
    scrollable_content_region: Any
    scroll_to: Any
    scroll_relative: Any
    post_message: Any
    SelectionChanged: Any  # the host's message class: the current turn, caret or selection moved
    GUTTER_WIDTH: int  # cells before the text on each row (the USER / MODEL label)
    RESPONSE_PART: int  # the row kind of a response row in the host's ``_row``

    def _redraw(self) -> None:
        raise NotImplementedError

    def _current_turn(self) -> _Turn:
        assert self.current is not None
        return self._turns[self.current]

    def _changed(self) -> None:
        self._redraw()
        self.post_message(self.SelectionChanged())

    def go_to_turn(self, index: int) -> None:
        """Make turn ``index`` current (clamped), drop any selection, and scroll its header to the top."""
        if not self._turns:
            return
        self.current = max(0, min(index, len(self._turns) - 1))
        self.select_from, self.caret = None, 0
        self.scroll_to(y=self._turns[self.current].first_row, animate=False, immediate=True)
        self._changed()

    @property
    def selecting(self) -> bool:
        return self.select_from is not None

    @property
    def selection(self) -> tuple[int, int] | None:
        """The selected shown span ``[low, high)`` of the current response, or None."""
        if self.select_from is None:
            return None
        return min(self.select_from, self.caret), max(self.select_from, self.caret)

    @property
    def has_caret(self) -> bool:
        """A caret is shown and moved only on a current turn (triage); otherwise the keys scroll."""
        return self.current is not None

    def start_selection(self) -> None:
        """Anchor a selection at the caret (vim's ``v``); arrows and words extend it. Again: drop it."""
        if self.current is None:
            self.go_to_turn(0)
        if self.current is None:
            return
        self.select_from = None if self.selecting else self.caret
        self._changed()

    def action_extend(self, how: str, delta: int) -> None:
        """Shift+movement: anchor at the caret if nothing is selected yet, then move the caret."""
        if self.current is None:
            return
        if not self.selecting:
            self.select_from = self.caret
        getattr(self, f"action_{how}")(delta)

    def select_turn(self) -> None:
        """Select the whole current response."""
        if self.current is None:
            self.go_to_turn(0)
        if self.current is None:
            return
        self.select_from, self.caret = 0, len(self._current_turn().shown)
        self._changed()

    def clear_selection(self) -> None:
        """Drop the anchor; the caret stays where it is."""
        self.select_from = None
        self._changed()

    # ------------------------------------------------------------------ the mouse

    def offset_at(self, x: int, y: int) -> tuple[int, int] | None:
        """(turn index, shown offset in its response) under widget cell (x, y), or None off a response."""
        row = self.scroll_offset.y + y
        if not 0 <= row < self._total:  # type: ignore[attr-defined]
            return None
        t_index, part, start, end = self._row(row)  # type: ignore[attr-defined]
        if part != self.RESPONSE_PART:
            return None
        from rich.cells import get_character_cell_size

        column, text, offset = self.scroll_offset.x + x - self.GUTTER_WIDTH, self._turns[t_index].shown, start
        while offset < end and column > 0:
            column -= get_character_cell_size(text[offset])
            offset += 1
        return t_index, max(start, min(offset, end))

    _dragging: bool = False

    def on_mouse_down(self, event: Any) -> None:
        spot = self.offset_at(event.x, event.y)
        if spot is None or not self.has_caret:
            return
        t_index, offset = spot
        if t_index != self.current:
            self.current = t_index
        self.select_from, self.caret, self._dragging = offset, offset, True
        self.capture_mouse()  # type: ignore[attr-defined]
        self._changed()

    def on_mouse_move(self, event: Any) -> None:
        if not self._dragging:
            return
        spot = self.offset_at(event.x, event.y)
        if spot is not None and spot[0] == self.current:
            self._move(spot[1])

    def on_mouse_up(self, event: Any) -> None:
        if not self._dragging:
            return
        self._dragging = False
        self.release_mouse()  # type: ignore[attr-defined]
        spot = self.offset_at(event.x, event.y)
        if spot is not None and spot[0] == self.current:
            self._move(spot[1])
        if self.select_from == self.caret:  # a click, not a drag: it only places the caret
            self.clear_selection()

    def _where(self) -> OffsetMap:
        turn = self._current_turn()
        return turn.where if turn.where is not None else display_text(turn.raw)[1]

    def raw_selection(self) -> tuple[int, int] | None:
        """The selection as ``[start, end)`` of the raw response text (what the evidence quotes)."""
        span = self.selection
        if span is None or self.current is None or span[0] == span[1]:
            return None
        where = self._where()
        return where[span[0]], where[span[1] - 1] + 1

    def select_raw(self, start: int, end: int) -> None:
        """Select what is shown of ``[start, end)`` of the current raw response (a finding's quote)."""
        if self.current is None:
            return
        where = self._where()
        low, high = where.shown_index(start), where.shown_index(end)
        if high > low:
            self.select_from = low
            self._move(high)

    def _row_of_caret(self) -> int:
        """The first row that holds the caret (a row's end counts as in it), found by bisection."""
        rows, caret = self._current_turn().response_rows, self.caret
        row = rows.row_of(caret)
        while row > 0 and rows.starts[row - 1] <= caret <= rows.ends[row - 1]:
            row -= 1
        return row

    def _move(self, caret: int) -> None:
        turn = self._current_turn()
        self.caret = max(0, min(caret, len(turn.shown)))
        row = turn.first_row + 1 + len(turn.prompt_rows) + self._row_of_caret()
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        self._changed()

    def action_caret(self, delta: int) -> None:
        if not self.has_caret:
            self.scroll_relative(x=delta, animate=False)
            return
        self._move(self.caret + delta)

    def action_caret_word(self, direction: int) -> None:
        if not self.has_caret:
            return
        shown, i = self._current_turn().shown, self.caret
        if direction > 0:  # to the end of the next word, so a selection never ends in a space
            while i < len(shown) and shown[i].isspace():
                i += 1
            while i < len(shown) and not shown[i].isspace():
                i += 1
        else:  # to the start of the previous word
            while i > 0 and shown[i - 1].isspace():
                i -= 1
            while i > 0 and not shown[i - 1].isspace():
                i -= 1
        self._move(i)

    def action_caret_row(self, direction: int) -> None:
        if not self.has_caret:
            self.scroll_relative(y=direction, animate=False)
            return
        turn = self._current_turn()
        rows, row = turn.response_rows, self._row_of_caret()
        target = max(0, min(row + direction, len(rows) - 1))
        if target == row:  # past the first or last row: to the start or the end
            self._move(0 if direction < 0 else len(turn.shown))
            return
        start, end = rows[target]
        self._move(min(start + self.caret - rows[row][0], end))
