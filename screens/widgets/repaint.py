"""Streamed text drawn at a bounded rate: at most :data:`REPAINT_HZ` times a second, whatever the stream's pace.

The runner's feed (:class:`screens.widgets.run_list.RunFeed`) announces each
batch of chunks with one message. :class:`RepaintGate` draws the first batch
after a pause at once and gathers later ones until the next slot. While a
repaint is due it leaves the feed's batch open, so a flood of chunks joins that
batch instead of posting a message each time the loop is free. Any other runner
event first calls :meth:`RepaintGate.flush`, so a turn's text is complete before
its end is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.timer import Timer

    from app.events import ChunkReceived
    from screens.widgets.run_list import RunFeed

REPAINT_HZ = 15  # streamed text is drawn at most this often: smooth to read, and the loop stays free for keys

Batch = list[tuple[str, "ChunkReceived"]]
# (entry key, turn id) -> (the turn's new text, its time to first token if a chunk carried it)
Joined = dict[tuple[str, int], tuple[str, float | None]]


class RepaintGate:
    """Gathers the feed's batches and hands them to ``draw`` at most :data:`REPAINT_HZ` times a second."""

    def __init__(self, feed: RunFeed, set_timer: Callable[[float, Callable[[], None]], Timer],
                 draw: Callable[[Joined], Any]) -> None:
        self.feed, self._set_timer, self._draw = feed, set_timer, draw
        self._pending: dict[tuple[str, int], tuple[list[str], float | None]] = {}
        self._waiting: Batch | None = None  # an open batch the next repaint takes
        self._repaint: Timer | None = None
        self._drawn_at = 0.0

    def offer(self, batch: Batch) -> None:
        """A batch was announced: draw now if the last repaint is old enough, else at the next slot."""
        if self._repaint is not None and self.feed.is_open(batch):
            self._waiting = batch
            return
        self._gather(batch)
        if self._repaint is not None:
            return
        wait = self._drawn_at + 1 / REPAINT_HZ - monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._repaint = self._set_timer(wait, self.flush)

    def _gather(self, batch: Batch) -> None:
        for where, (text, ttft) in self.feed.take(batch).items():
            parts, first = self._pending.setdefault(where, ([], None))
            parts.append(text)
            if ttft is not None and first is None:
                self._pending[where] = (parts, ttft)

    def flush(self) -> None:
        """Draw everything gathered (and the open batch), now."""
        if self._repaint is not None:
            self._repaint.stop()
            self._repaint = None
        if self._waiting is not None:
            self._gather(self._waiting)
            self._waiting = None
        if not self._pending:
            return
        self._drawn_at = monotonic()
        pending, self._pending = self._pending, {}
        self._draw({where: ("".join(parts), ttft) for where, (parts, ttft) in pending.items()})
