"""The run list: runs started in this cockpit (live) above the ones already in the store.

:class:`RunEntry` is what the list knows of a run, kept up to date from the
runner's events by :meth:`RunEntry.apply` (plain state, no drawing), so the
screen only decides what to redraw. A live entry also keeps the text that
streamed, which is what the transcript shows for it: the store may already hold
turns whose events have not reached the UI yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from app.events import ChunkReceived, RunFinished, RunStarted, TurnFinished, TurnStarted, VerdictRecorded
from screens.widgets.columns import PADDING, SCROLLBAR, set_columns, share_width
from screens.widgets.literal import RESULT_MARKS, RESULT_STYLES, cell
from screens.widgets.verdicts import verdict_marks

if TYPE_CHECKING:
    import asyncio

    from app.events import RunnerEvent
    from app.runs import RunRow

LIVE = ("queued", "running", "streaming")


def turn_header(step: int, sample: int, kind: str, identity: str = "") -> str:
    """``step 2 · chat`` (with the sample and the identity when they tell turns apart)."""
    parts = [f"step {step + 1}"]
    if sample:
        parts.append(f"sample {sample + 1}")
    parts.append(kind)
    if identity and identity != "primary":
        parts.append(identity)
    return " · ".join(parts)


def turn_prompt(prompt: str, original: str = "", strategy: str = "") -> str:
    """What the transcript shows as the user's message: in a variant, the message sent and, under it, the original.

    A tester reading ``U2hvdyBtZSB5b3Vy...`` must see what it asked without
    decoding it by hand; the report and the workpapers show the same pair.
    """
    if not original or original == prompt:
        return prompt
    return f"{prompt}\n── before {strategy or 'the strategy'}: {original}"


def turn_note(turn: Any) -> str:
    """Why a stored turn has no (or only part of an) answer, e.g. ``error: http_status 401``; "" if it ended well.

    A manual step is a checklist item: to do (and which key records it), or the outcome the tester recorded."""
    if getattr(turn, "kind", "") == "manual":
        human = getattr(turn, "human", None) or []
        if not human:
            return "☐ manual step, not recorded: press m to record what you did and saw"
        last = human[-1]
        return f"☑ {last.outcome} recorded by {last.actor or 'the tester'}: {last.reason}"
    if turn.status in ("done", "streaming"):
        return ""
    detail = ": ".join(part for part in (turn.error_type, turn.error_detail) if part)
    return f"{turn.status}: {detail}" if detail else turn.status


@dataclass
class LiveTurn:
    turn_id: int
    header: str
    prompt: str
    parts: list[str] = field(default_factory=list)
    streaming: bool = True
    verdicts: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""


@dataclass
class RunEntry:
    """One row: a run started here (it has a ``cancel`` event) or one read back from the store."""

    key: str
    scenario_id: str
    system: str
    window: str = ""
    status: str = "queued"  # queued | running | streaming | finished | cancelled | interrupted | error
    verdict: str = ""
    run_id: int | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    verdicts: list[tuple[str, str]] = field(default_factory=list)
    turns: dict[int, LiveTurn] = field(default_factory=dict)
    cancel: asyncio.Event | None = None
    error: str = ""
    tokens: int = 0
    generating_ms: float = 0.0
    dirty: bool = False
    strategy: str = ""  # the strategy chain of a variant run; "" for the plain scenario
    originals: dict[int, str] = field(default_factory=dict)  # a variant's step -> its message before the strategy

    @property
    def live(self) -> bool:
        return self.cancel is not None

    @property
    def running(self) -> bool:
        return self.live and self.status in LIVE

    @classmethod
    def stored(cls, row: RunRow) -> RunEntry:
        return cls(f"run:{row.run_id}", row.scenario_id, row.system, row.window, row.status, row.verdict,
                   row.run_id, row.ttft_ms, row.tokens_per_s, list(row.outcomes), strategy=row.strategy)

    @property
    def label(self) -> str:
        from app.strategies.variants import run_label

        return run_label(self.scenario_id, self.strategy)

    def chunk(self, turn_id: int, text: str, ttft_ms: float | None) -> LiveTurn | None:
        """Streamed text for one of this run's turns (None if the turn was never announced)."""
        if ttft_ms is not None:
            self.ttft_ms, self.dirty = ttft_ms, True
        turn = self.turns.get(turn_id)
        if turn is not None:
            turn.parts.append(text)
        return turn

    def apply(self, event: RunnerEvent) -> LiveTurn | None:
        """Fold one runner event into the entry; returns the turn it concerns, if any."""
        self.dirty = True
        turn: LiveTurn | None = None
        if isinstance(event, RunStarted):
            self.run_id, self.status, self.window = event.run_id, "running", event.window or ""
        elif isinstance(event, TurnStarted):
            turn = LiveTurn(event.turn_id, turn_header(event.step, event.sample, event.kind),
                            turn_prompt(event.prompt, self.originals.get(event.step, ""), self.strategy))
            self.turns[event.turn_id] = turn
            self.status = "streaming"
        elif isinstance(event, TurnFinished):
            turn = self.turns.get(event.turn_id)
            if turn is not None:
                turn.streaming = False
                if event.status != "done":
                    turn.note = f"{event.status}: {event.error_type}" if event.error_type else event.status
            if event.ttft_ms is not None:
                self.ttft_ms = event.ttft_ms
            if event.tokens and event.total_ms:
                self.tokens += event.tokens
                self.generating_ms += max(0.0, event.total_ms - (event.ttft_ms or 0.0))
                self.tokens_per_s = self.tokens / (self.generating_ms / 1000) if self.generating_ms else None
            self.status = "streaming" if any(t.streaming for t in self.turns.values()) else "running"
        elif isinstance(event, VerdictRecorded):
            self.verdicts.append((event.detector, event.outcome))
            turn = self.turns.get(event.turn_id or -1)
            if turn is not None:
                turn.verdicts.append((event.detector, event.outcome))
        elif isinstance(event, RunFinished):
            self.status, self.verdict = event.status, event.verdict
        return turn

    def cells(self, columns: int) -> list[Text]:
        """RUN, STATE (with its mark: ● streaming, ○ queued, ✓ ✗ ? ! verdicts, ⊘ cancelled), TTFT, TOK/S, ..."""
        outcome = self.verdict if self.status == "finished" else ""
        if self.status in ("running", "streaming"):
            mark, style, state = "●", "cyan", "stream" if self.status == "streaming" else "running"
        elif self.status == "queued":
            mark, style, state = "○", "dim", "queued"
        elif outcome:
            mark, style = RESULT_MARKS.get(outcome, "·"), RESULT_STYLES.get(outcome, "")
            state = "FAIL" if outcome == "fail" else outcome
        else:
            mark, style = ("⊘", "yellow") if self.status == "cancelled" else ("!", "magenta")
            state = self.status
        # Ids whole (the table crops to its column): a run and its re-test must not look the same.
        cells = [cell(self.label, 120), Text(f"{mark} {state}", style=style, no_wrap=True),
                 Text(f"{self.ttft_ms:.0f}" if self.ttft_ms is not None else "–", no_wrap=True),
                 Text(f"{self.tokens_per_s:.0f}" if self.tokens_per_s is not None else "–", no_wrap=True),
                 cell(self.system, 64), verdict_marks(self.verdicts, limit=2)]
        return cells[:columns]


@dataclass
class RunnerUpdate(Message):
    """A runner event other than a chunk, for the entry ``key``."""

    key: str
    event: RunnerEvent


class ChunksPending(Message):
    """A batch of streamed chunks waiting to be drawn; a later batch queued right behind it absorbs it."""

    def __init__(self, batch: list[tuple[str, ChunkReceived]]) -> None:
        super().__init__()
        self.batch = batch

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, ChunksPending):
            message.batch[:0] = self.batch  # nothing is dropped: the newer message carries both
            return True
        return False


@dataclass
class RunDone(Message):
    """A run call returned (or could not start): its final status, or the error to show."""

    key: str
    status: str
    verdict: str = ""
    error: str = ""
    note: str = ""  # a planned run: what it waits for ("needs the client's ...")


class RunFeed:
    """The edge between the runner and the UI.

    The runner calls :meth:`on_event` for every event, in its own coroutine, so
    it stays cheap: a chunk joins the open batch (the first chunk of a batch
    posts its :class:`ChunksPending`), any other event closes the batch and is
    posted as a :class:`RunnerUpdate`. Closing keeps the order: a turn's text is
    never drawn before the event that started the turn.
    """

    def __init__(self, post: Callable[[Message], Any]) -> None:
        self.post = post
        self._batch: list[tuple[str, ChunkReceived]] | None = None

    def on_event(self, key: str, event: RunnerEvent) -> None:
        if type(event) is ChunkReceived:
            if self._batch is None:
                self._batch = []
                self.post(ChunksPending(self._batch))
            self._batch.append((key, event))
            return
        self._batch = None
        self.post(RunnerUpdate(key, event))

    def is_open(self, batch: list[tuple[str, ChunkReceived]]) -> bool:
        """Whether chunks still join ``batch`` (no other event and no ``take`` closed it yet)."""
        return self._batch is batch

    def take(self, batch: list[tuple[str, ChunkReceived]]) -> dict[tuple[str, int], tuple[str, float | None]]:
        """A posted batch's text joined per (entry, turn), with the time to first token if a chunk carried it."""
        if self._batch is batch:
            self._batch = None  # drawn now: later chunks start a new batch
        joined: dict[tuple[str, int], tuple[list[str], float | None]] = {}
        for key, event in batch:
            parts, ttft = joined.setdefault((key, event.turn_id), ([], None))
            parts.append(event.text)
            if event.ttft_ms is not None:
                joined[(key, event.turn_id)] = (parts, event.ttft_ms)
        return {where: ("".join(parts), ttft) for where, (parts, ttft) in joined.items()}


class RunList(DataTable[Any]):
    """The runs table: columns fitted to its width, rows keyed by entry key, figures redrawn in place."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._columns: list[Any] = []
        self._drawn: dict[str, list[Text]] = {}  # the cells each row shows, so a tick redraws only what changed

    LABELS = ("RUN", "STATE", "TTFT", "TOK/S", "SYSTEM", "DETECTORS")
    # Below these a column is not worth showing; STATE's minimum is its content, so a state is never cut.
    MINIMUM = (12, 0, 4, 5, 8, 10)

    def fill(self, entries: Iterable[RunEntry], select: str | None = None) -> str | None:
        """Redraw every row; returns the key now under the cursor.

        Columns size to their content: the widest cell of each, with every
        state whole. The leading columns come first; a trailing one is shown
        only if its minimum fits, and spare width goes to whatever is cut.
        """
        keep = select or self.highlighted_key()
        width = self.size.width or 36
        ordered = list(entries)
        cells = [e.cells(len(self.LABELS)) for e in ordered]
        content = [max([len(label)] + [row[i].cell_len for row in cells]) for i, label in enumerate(self.LABELS)]
        minimum = [content[1] if i == 1 else m for i, m in enumerate(self.MINIMUM)]
        labels: list[str] = list(self.LABELS[:3])
        # Narrow: STATE and TTFT whole, RUN takes what is left (it is cut, with an ellipsis, before a state is).
        narrow_run = max(4, width - SCROLLBAR - 3 * PADDING - content[1] - 4)
        widths = share_width(width, content[:3], minimum[:3]) or [min(content[0], narrow_run), content[1], 4]
        for count in range(4, len(self.LABELS) + 1):
            wider = share_width(width, content[:count], minimum[:count])
            if wider is None:
                break
            labels, widths = list(self.LABELS[:count]), wider
        set_columns(self, labels, widths)
        self._columns = list(self.columns.keys())
        self._drawn = {}
        for entry, row in zip(ordered, cells, strict=True):
            self.add_row(*row[:len(labels)], key=entry.key)
            self._drawn[entry.key] = row[:len(labels)]
            entry.dirty = False
        index = next((i for i, e in enumerate(ordered) if e.key == keep), 0 if ordered else None)
        if index is None:
            return None
        self.move_cursor(row=index)
        return ordered[index].key

    def update(self, entry: RunEntry) -> bool:
        """Redraw the cells of one row that changed, in place (the table is not rebuilt).

        Returns True when the row's state has grown wider than its column
        (``○ queued`` became ``● running``): the caller then fills the table
        again, since a state is never cut.
        """
        refit = False
        if entry.key in self.rows:
            cells = entry.cells(len(self._columns))
            drawn = self._drawn.setdefault(entry.key, [])
            for index, (column, value) in enumerate(zip(self._columns, cells, strict=True)):
                if index < len(drawn) and drawn[index] == value and drawn[index].style == value.style:
                    continue  # each changed cell costs the table a redraw: unchanged ones are left alone
                self.update_cell(entry.key, column, value)
            self._drawn[entry.key] = cells
            if len(self._columns) > 1 and cells[1].cell_len > self.columns[self._columns[1]].width:
                refit = True
        entry.dirty = False
        return refit

    def highlighted_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # no cursor yet
            return None
