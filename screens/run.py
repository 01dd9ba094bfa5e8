"""Run: pick scenarios, run several at once, and watch the selected one stream in.

Data flows one way: target → runner → store → UI. The runner runs in this
screen's async worker; its ``on_event`` callback (:class:`RunFeed`) is the
edge where :mod:`app.events` objects become Textual messages. Streamed chunks
are not one message each: they gather in a batch announced once by a
``ChunksPending`` message (which absorbs one queued behind it, ``can_replace``),
and what they carry is drawn at a bounded rate by
:class:`screens.widgets.repaint.RepaintGate`, so a flood of tiny chunks costs
one transcript append per turn per repaint. The table's figures are redrawn on a quarter-second
tick, and only the cells that changed.

Runs are scheduled by :class:`screens.widgets.run_queue.RunQueue`: each its
own ``run_scenarios`` call with its own cancel event, so ``c`` stops just the
highlighted run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Static

from app.events import RunStarted, TurnFinished, TurnStarted, VerdictRecorded
from app.resources import assets_dir
from app.text import one_line
from screens.base import report_error, with_store
from screens.run_planning import RunPlanning
from screens.widgets.picker import PickSource, ScenarioPicker, pick_source
from screens.widgets.repaint import RepaintGate
from screens.widgets.run_list import (
    ChunksPending,
    RunDone,
    RunEntry,
    RunFeed,
    RunList,
    RunnerUpdate,
)
from screens.widgets.run_queue import RunQueue
from screens.widgets.stored_run import run_title, stored_turns
from screens.widgets.transcript import Transcript, TurnText
from screens.widgets.verdicts import run_figures, verdict_marks

if TYPE_CHECKING:
    from screens.widgets.repaint import Joined


WIDE = 160  # columns from which the left side takes half the screen


class RunScreen(RunPlanning):
    """Pick scenarios, run them, watch the transcript stream."""

    SCREEN_NAME = "run"

    CSS_PATH = assets_dir() / "tcss" / "run.tcss"

    HELP_TITLE = "run"
    HELP = ("Left: the scenarios (space picks, g groups them by category, control or system) and the runs. "
            "r runs what is picked (or the highlighted scenario or group); v chooses strategies (base64, roleplay, "
            "french, ...) each run is also sent under, as variants judged on their own; c cancels the highlighted run, "
            "C all of them. A variant shows its strategy in brackets, and each message sent above its original. "
            "The transcript of the highlighted run streams on the right; t opens it in triage. A manual step shows "
            "as a checklist item: m records what you did and saw; a attaches a file (an alert log, a SOC ticket) "
            "to the highlighted run as evidence.")
    BINDINGS = [
        Binding("r", "run", "Run", id="run.start", tooltip="Run the picked scenarios (or the highlighted one)"),
        Binding("c", "cancel", "Cancel", id="run.cancel", tooltip="Cancel the highlighted run"),
        Binding("C", "cancel_all", "Cancel all", key_display="C", show=False, id="run.cancel_all"),
        Binding("g", "group", "Group", id="run.group", tooltip="Group scenarios by category, control or system"),
        Binding("t", "triage", "Triage", id="run.triage", tooltip="Open the highlighted run in triage"),
        Binding("f", "finding", "Finding", show=False, id="run.finding",
                tooltip="Triage the highlighted run and start a finding from its failing turn"),
        Binding("F", "goto('findings')", "Findings", key_display="F", show=False, id="run.findings",
                tooltip="The findings register"),
        Binding("e", "goto('export')", "Export", show=False, id="run.export", tooltip="Export the evidence bundle"),
        Binding("m", "manual", "Manual", show=False, id="run.manual",  # the checklist item itself names the key
                tooltip="Record the outcome of the highlighted run's next manual step"),
        Binding("a", "attach", "Attach", show=False, id="run.attach",
                tooltip="Attach a file (an alert log, a SOC ticket) as evidence to the highlighted run"),
        Binding("v", "strategies", "Strategies", show=False, id="run.strategies",
                tooltip="Choose strategies (base64, roleplay, french, ...) the next runs are also sent under"),
        Binding("R", "resume", "Resume", key_display="R", show=False, id="run.resume",
                tooltip="Resume the highlighted interrupted or cancelled run (as `redline run --resume`)"),
    ]

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.entries: dict[str, RunEntry] = {}
        self.shown_key: str | None = None
        self.resumed: set[str] = set()  # keys of live entries that finish a stored run (R)
        self.strategies: list[str] = []  # chains the next runs are also sent under (v), as `redline run --strategy`
        self.feed = RunFeed(self.post_message)
        self.painter = RepaintGate(self.feed, self.set_timer, self._draw_chunks)
        self._stats_line: tuple[str, Text] | None = None
        self._under_modal = False  # (kind, line) drawn last under the transcript
        self.queue = RunQueue(engagement_id, self.feed, lambda exc, title: report_error(self, exc, title))

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="run-body"):
            with Vertical(id="run-left"):
                yield Static(Text("loading the scenarios…", style="dim"), id="pick-hint")
                yield ScenarioPicker(id="picker")
                yield RunList(id="runs")
            with Vertical(id="run-right"):
                yield Static(Text("no run selected", style="dim"), id="run-title")
                yield Transcript(id="transcript")
                yield Static(Text(""), id="run-stats")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading("run")
        self._dispatch()
        self.load_picker()
        self.reload_runs()
        self.set_interval(0.25, self._tick)
        self.query_one(ScenarioPicker).focus()

    def on_screen_suspend(self) -> None:
        # Help, a prompt or a question over this screen cannot change a run; triage or findings can.
        self._under_modal = isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        if self._under_modal:
            self._under_modal = False
            return  # nothing to read again: rebuilding the table and its query made closing Help slow
        self.reload_runs()

    def on_resize(self) -> None:
        # A wide terminal gives the run list room for every column at full width (ids, states, systems).
        self.set_class(self.size.width >= WIDE, "-wide")
        self.call_after_refresh(self._fill_table)  # after layout, so the table's own width is known

    # ------------------------------------------------------------ the picker

    @work(thread=True, exclusive=True, group="run-library", exit_on_error=False)
    def load_picker(self) -> None:
        """The library and the matrix are files and rows: read them off the UI thread."""
        from app.errors import RedlineError

        try:
            source = with_store(lambda db: pick_source(db, self.engagement_id))
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc, "cannot load the scenarios")
            return
        self.app.call_from_thread(self._picker_loaded, source)

    def _picker_loaded(self, source: PickSource) -> None:
        self.query_one(ScenarioPicker).load(source)
        self._hint()

    def _hint(self) -> None:
        self.query_one("#pick-hint", Static).update(self.query_one(ScenarioPicker).hint() + self.strategies_hint())

    def on_scenario_picker_changed(self, event: ScenarioPicker.Changed) -> None:
        self._hint()

    def action_group(self) -> None:
        self.query_one(ScenarioPicker).next_mode()
        self._hint()

    # --------------------------------------------------------------- starting

    def action_run(self) -> None:
        picker = self.query_one(ScenarioPicker)
        pairs = sorted(picker.picked) or picker.cursor_pairs()
        if not pairs:
            self.notify("Pick a scenario first (space), or highlight one.", markup=False)
            return
        picker.clear_picks()
        self.plan(pairs)

    @work(exclusive=True, group="run-dispatch")
    async def _dispatch(self) -> None:
        """The scheduler lives as long as the screen; leaving cancels what still runs (its text is kept)."""
        await self.queue.serve()

    # ------------------------------------------------------------ UI messages

    def on_chunks_pending(self, message: ChunksPending) -> None:
        self.painter.offer(message.batch)

    def _draw_chunks(self, joined: Joined) -> None:
        """Draw gathered chunks: one transcript append per turn, however many chunks arrived."""
        transcript = self.query_one(Transcript)
        for (key, turn_id), (text, ttft) in joined.items():
            entry = self.entries.get(key)
            if entry is not None and entry.chunk(turn_id, text, ttft) is not None and key == self.shown_key:
                transcript.append(turn_id, text)

    def on_runner_update(self, message: RunnerUpdate) -> None:
        self.painter.flush()  # the text streamed before this event is drawn before it
        entry = self.entries.get(message.key)
        if entry is None:
            return
        event = message.event
        turn = entry.apply(event)
        if isinstance(event, TurnFinished) and turn is not None and not turn.parts:
            turn.parts = [self._stored_text(turn.turn_id)]  # a model listing or an HTTP call: never streamed
        if message.key != self.shown_key:
            return
        transcript = self.query_one(Transcript)
        if isinstance(event, RunStarted):
            self._show(entry)
        elif isinstance(event, TurnStarted) and turn is not None:
            transcript.begin_turn(turn.turn_id, turn.header, turn.prompt)
        elif isinstance(event, TurnFinished) and turn is not None:
            transcript.end_turn(turn.turn_id, "".join(turn.parts), note=turn.note)
        elif isinstance(event, VerdictRecorded) and turn is not None:
            transcript.set_marks(turn.turn_id, verdict_marks(turn.verdicts))
        self._stats(entry)

    def _stored_text(self, turn_id: int) -> str:
        from app.store.models import Turn

        return with_store(lambda db: getattr(db.get(Turn, turn_id), "response_text", "") or "")

    def on_run_done(self, message: RunDone) -> None:
        entry = self.entries.get(message.key)
        if entry is None:
            return
        if entry.running or message.error:
            entry.status = message.status
            entry.verdict = entry.verdict or message.verdict
        if message.note:  # planned, not run: shown as what it waits for, never as an error
            entry.error = f"planned, not run: {message.note}"
        if message.error:
            from app.errors import RedlineError

            entry.error = message.error
            report_error(self, RedlineError(message.error), f"{entry.scenario_id} did not run")
        elif message.key in self.resumed:
            # A resumed run streamed only the turns it redid: its row is read back whole from the store.
            self.resumed.discard(message.key)
            self.entries.pop(message.key, None)
            self.reload_runs()
            return
        entry.dirty = True
        self._tick()

    # ------------------------------------------------------------- the table

    def reload_runs(self) -> None:
        """Runs already in the store (earlier sessions, the CLI) below the ones started here."""
        from app.runs import run_rows

        rows = with_store(lambda db: run_rows(db, self.engagement_id))
        live_ids = {e.run_id for e in self.entries.values() if e.live and e.run_id is not None}
        shown = self.entries.get(self.shown_key or "")
        if shown is None or not shown.live:
            self.shown_key = None  # a stored run is drawn again: triage may have added verdicts since
        self.entries = {k: e for k, e in self.entries.items() if e.live}
        self.entries.update((f"run:{r.run_id}", RunEntry.stored(r)) for r in rows if r.run_id not in live_ids)
        self._fill_table()

    def _fill_table(self, select: str | None = None) -> None:
        live = [e for e in self.entries.values() if e.live]
        past = sorted((e for e in self.entries.values() if not e.live), key=lambda e: -(e.run_id or 0))
        key = self.query_one(RunList).fill(live + past, select)
        if key is not None:
            self._select(key)

    def _tick(self) -> None:
        """Redraw the figures of rows whose run changed since the last tick."""
        table = self.query_one(RunList)
        refit = False
        for entry in self.entries.values():
            if entry.dirty:
                refit = table.update(entry) or refit
                if entry.key == self.shown_key:
                    self._stats(entry)
        if refit:
            self._fill_table()

    def _highlighted_key(self) -> str | None:
        return self.query_one(RunList).highlighted_key()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._select(str(event.row_key.value))

    # ------------------------------------------------------------ transcript

    def _select(self, key: str) -> None:
        if key == self.shown_key:
            return
        self.painter.flush()
        entry = self.entries.get(key)
        if entry is None:
            return
        self.shown_key = key
        self._show(entry)

    def _show(self, entry: RunEntry) -> None:
        """Draw the entry's whole transcript once (memory for runs started here, else the store)."""
        transcript = self.query_one(Transcript)
        self.query_one("#run-title", Static).update(run_title(entry.scenario_id, entry.strategy, entry.system,
                                                              entry.window))
        if entry.live:  # what streamed here; the store may already hold turns its events have not announced
            transcript.show([TurnText(t.turn_id, t.header, t.prompt, "".join(t.parts), t.streaming,
                                      verdict_marks(t.verdicts), t.note) for t in entry.turns.values()])
        elif entry.run_id is not None:
            from app.triage import load_transcript

            run = with_store(lambda db: load_transcript(db, entry.run_id or 0))
            transcript.show(stored_turns(run))
        transcript.scroll_end(animate=False, immediate=True)
        self._stats(entry)

    def _stats(self, entry: RunEntry) -> None:
        if entry.error:
            style = "yellow" if entry.status == "planned" else "red"
            line = Text(one_line(entry.error, 600), style=style)  # wraps (run-stats grows), never cut
        elif entry.status == "queued":
            line = Text("queued: starts when a slot is free", style="dim")
        else:
            line = run_figures(entry.ttft_ms, entry.tokens_per_s, entry.verdicts[-3:])
        kind = "error" if entry.error else "queued" if entry.status == "queued" else "figures"
        before, self._stats_line = self._stats_line, (kind, line)
        if before is not None and before[0] == kind != "error" and before[1] == line and before[1].style == line.style:
            return
        # The figures are one line (no wrap): from one set to the next the height stands, so no layout. An error
        # wraps, and a change of kind may change the height: those lay out again.
        self.query_one("#run-stats", Static).update(line, layout=kind == "error" or before is None or before[0] != kind)

    # -------------------------------------------------------------- actions

    def action_cancel(self) -> None:
        entry = self.entries.get(self._highlighted_key() or "")
        if entry is None or entry.cancel is None or not entry.running:
            self.notify("The highlighted run is not running.", markup=False)
            return
        entry.cancel.set()
        self.notify(f"cancelling {entry.scenario_id}", markup=False)

    def action_cancel_all(self) -> None:
        live = [e for e in self.entries.values() if e.running]
        for entry in live:
            assert entry.cancel is not None
            entry.cancel.set()
        self.notify(f"cancelling {len(live)} run(s)" if live else "Nothing is running.", markup=False)

    def action_resume(self) -> None:
        """Finish the highlighted interrupted or cancelled run under its own id (the runner decides what is redone)."""
        from app.runner.recovery import RESUMABLE

        entry = self.entries.get(self._highlighted_key() or "")
        if entry is None or entry.live or entry.run_id is None or entry.status not in RESUMABLE:
            state = entry.status if entry is not None else "nothing"
            self.notify(f"Only an interrupted or cancelled run can be resumed; the highlighted one is {state}.",
                        markup=False)
            return
        resumed = self.queue.put_resume(entry.run_id, entry.scenario_id, entry.system, entry.window)
        self.resumed.add(resumed.key)
        self.entries.pop(entry.key, None)
        self.entries[resumed.key] = resumed
        self._fill_table(select=resumed.key)

    def action_triage(self) -> None:
        run_id = self._selected_run()
        if run_id is not None:
            self.redline.push_screen_for("triage", self.engagement_id, run_id=run_id)

    def action_finding(self) -> None:
        run_id = self._selected_run()
        if run_id is not None:
            self.redline.push_screen_for("triage", self.engagement_id, run_id=run_id, finding=True)

    def runs_in_flight(self) -> tuple[int, int]:
        """(in flight, queued): what leaving this screen would cancel or drop."""
        return self.queue.counts()

    async def stop_runs(self, reason: str) -> None:
        """Cancel the runs in flight and record the queued ones as not started (see RunQueue.stop)."""
        await self.queue.stop(reason)
        self._tick()

    def action_back(self) -> None:
        from screens.widgets.run_queue import LEFT

        def leave() -> None:
            async def stop_then_pop() -> None:
                await self.stop_runs(LEFT)
                self.app.pop_screen()

            self.run_worker(stop_then_pop(), group="run-leave")

        self.redline.confirm_leaving([self], leave, leaving="this screen")
