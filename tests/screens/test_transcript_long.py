"""A long reply in the transcript: its start shows at once, the rest is made safe and wrapped off the UI loop,
and the result is exactly what preparing it whole gives (rows, offsets, and hostile text kept inert)."""

from __future__ import annotations

from cockpit_pilot import wait_for
from textual.app import App, ComposeResult

from screens.widgets.transcript import LONG, PREVIEW, Transcript, TurnText
from screens.widgets.wrap import display_text, wrap_spans

LINE = "Refunds above $500 need a human agent [bold]now[/bold].\tSee \x1b[31mpolicy\x1b[0m \u202e7.2\u202c.\r\n"


class One(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


async def test_a_long_reply_shows_its_start_at_once_and_is_finished_off_the_loop() -> None:
    raw = "short start\n" + LINE * (2 * LONG // len(LINE)) + "\x1b]0;title\x07the end"
    app = One()
    async with app.run_test(size=(70, 20)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.show([TurnText(1, "step 1 · chat", "hi", raw), TurnText(2, "step 2 · chat", "again", "short")])
        turn = transcript._turns[0]
        assert turn.preparing is not None and turn.preparing.position <= PREVIEW  # only the start, at once
        first_rows = list(turn.response_rows)[:-1]
        await wait_for(pilot, lambda: transcript.prepared, "the long reply to be prepared")
        shown, where = display_text(raw)
        turn = transcript._turns[0]
        assert str(turn.shown) == shown and list(turn.where) == list(where)
        assert list(turn.response_rows) == wrap_spans(shown, transcript._text_width())
        assert list(turn.response_rows)[:len(first_rows)] == first_rows  # the rows shown first did not move
        text = transcript.text
        assert "the end" in text and "title" not in text and "\x1b" not in text and "\r" not in text
        assert text.rstrip().endswith("short")  # the turn after it follows it, row for row
        # A selection in the far part maps back to the raw text, escapes left out.
        transcript.go_to_turn(0)
        transcript.select_raw(raw.index("the end"), len(raw))
        start, end = transcript.raw_selection() or (0, 0)
        assert raw[start:end] == "the end"


async def test_the_end_of_a_streamed_turn_keeps_its_rows_unless_an_escape_was_cut() -> None:
    app = One()
    async with app.run_test(size=(60, 12)) as pilot:
        transcript = app.query_one(Transcript)
        transcript.begin_turn(1, "step 1 · chat", "hi")
        for index in range(300):
            transcript.append(1, f"word{index} ")
        rows = transcript._turns[0].response_rows
        transcript.end_turn(1)
        await pilot.pause()
        assert transcript._turns[0].response_rows is rows  # nothing wrapped again
        transcript.begin_turn(2, "step 2 · chat", "hi")
        transcript.append(2, "cut \x1b")
        transcript.append(2, "[31mred")
        transcript.end_turn(2)
        await pilot.pause()
        assert transcript.response_shown(2) == "cut red"  # made safe whole: the cut escape is gone
