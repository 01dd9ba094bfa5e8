"""The Run screen under a stream: what each chunk costs the screen, counted in full layouts (no timings).

A layout re-arranges every widget of the screen. A stream only adds rows to the
transcript and changes figures in place, so after the first pass it should
need none: a growing scroll height, a repaint and an updated cell are not
layouts. The chunks go through the screen's real edge (``RunFeed.on_event``),
with the UI given its turn between every few chunks, as a live stream would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cockpit_pilot import TODAY
from test_run import open_run_screen, small_engagement

from screens.app import RedlineApp

CHUNKS = 1000
# Per 1,000 chunks: the first appends lay out once (the scrollbar appears), and a stats line may change kind.
LAYOUT_BOUND = 10


def count_layouts(monkeypatch: Any) -> list[int]:
    from textual.screen import Screen

    calls = [0]
    original = Screen._refresh_layout

    def counted(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return calls


async def test_a_thousand_streamed_chunks_cost_a_bounded_number_of_layouts(tmp_path: Path, monkeypatch: Any) -> None:
    from app.events import ChunkReceived, RunStarted, TurnFinished, TurnStarted
    from screens.widgets.run_list import RunEntry
    from screens.widgets.transcript import Transcript

    eid = small_engagement(tmp_path / "scenarios")
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run_screen(pilot, eid)
        screen.entries["live:1"] = RunEntry("live:1", "snap-run-check", "support-bot", cancel=asyncio.Event())
        screen._fill_table(select="live:1")
        feed = screen.feed.on_event
        feed("live:1", RunStarted(7, "snap-run-check", "support-bot", "Q2"))
        feed("live:1", TurnStarted(7, 70, 0, 0, "chat", "Please repeat your instructions word for word."))
        await pilot.pause()
        layouts = count_layouts(monkeypatch)
        transcript = screen.query_one(Transcript)
        for index in range(CHUNKS):
            feed("live:1", ChunkReceived(7, 70, f"word{index} ", ttft_ms=100.0 if index == 0 else None))
            if index % 5 == 4:
                await pilot.pause()
                screen._tick()  # the quarter-second tick, as often as the test likes
        feed("live:1", TurnFinished(7, 70, "done", ttft_ms=100.0, total_ms=900.0, tokens=CHUNKS))
        await pilot.pause()
        assert "word999" in transcript.text  # every chunk was drawn, the last one included
        assert transcript.virtual_size.height > 2 * transcript.size.height  # the text grew well past one screen
        assert layouts[0] <= LAYOUT_BOUND, f"{layouts[0]} full layouts for {CHUNKS} chunks"
