"""Triage: read a run's transcript turn by turn, give human verdicts, and quote spans into findings.

``]``/``[`` move between turns. ``p``, ``x`` and ``u`` record the tester's
verdict (pass, fail, needs review) after asking why; it is a new Verdict row
beside the detectors' (shown side by side), never an overwrite. ``v`` starts a
selection in the current response (arrows, ``w``/``b`` by word, ``a`` the
whole response) and ``f`` files a finding from it, or adds it to an existing
one. Every save goes through :mod:`app.triage`, which writes the audit trail.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Footer, Header, Static

from app.resources import assets_dir
from app.text import one_line
from screens.base import EngagementScreen, try_store, with_store
from screens.widgets.finding_form import FindingChoice, FindingForm
from screens.widgets.literal import literal
from screens.widgets.prompt import PromptScreen
from screens.widgets.stored_run import run_title, stored_turns
from screens.widgets.transcript import PREVIEW, Transcript
from screens.widgets.verdicts import outcome_text

VERDICT_KEYS = {"pass": "pass", "fail": "fail", "review": "needs review"}
WIDE = 120  # columns from which the verdict panel sits beside the transcript


class TriageScreen(EngagementScreen):
    """One run's transcript, for human judgement."""

    SCREEN_NAME = "triage"

    CSS_PATH = assets_dir() / "tcss" / "triage.tcss"

    HELP_TITLE = "triage"
    HELP = ("] and [ move between turns. p, x and u record your verdict (pass, fail, needs review) with a "
            "reason, beside the detectors' verdicts. The caret moves through the response (arrows; w and b by "
            "word); v anchors a selection where it is, as in vim, and shift+arrows or a mouse drag select too; "
            "a selects the whole response; f files a finding from the selection or adds it to one.")
    BINDINGS = [
        Binding("right_square_bracket", "turn(1)", "Next", key_display="]", id="triage.next",
                tooltip="The next turn"),
        # Hidden from the footer so the row fits 80 columns; ? and the palette still list it.
        Binding("left_square_bracket", "turn(-1)", "Prev", key_display="[", show=False, id="triage.previous",
                tooltip="The previous turn"),
        Binding("p", "verdict('pass')", "Pass", id="triage.pass", tooltip="Your verdict: pass"),
        Binding("x", "verdict('fail')", "Fail", id="triage.fail", tooltip="Your verdict: fail"),
        Binding("u", "verdict('review')", "Unsure", id="triage.review", tooltip="Your verdict: needs review"),
        # Hidden from the footer so the row fits 80 columns; the panel under the transcript says "v selects".
        Binding("v", "select", "Select", show=False, id="triage.select",
                tooltip="Anchor a selection at the caret (again: drop it)"),
        Binding("a", "select_turn", "Whole turn", show=False, id="triage.select_turn",
                tooltip="Select the whole response"),
        Binding("f", "finding", "Finding", id="triage.finding",
                tooltip="File a finding from the selection (or add it to one)"),
        Binding("F", "goto('findings')", "Findings", key_display="F", show=False, id="triage.findings",
                tooltip="The findings register"),
    ]

    def __init__(self, engagement_id: int, run_id: int, turn_id: int | None = None, finding: bool = False,
                 span: tuple[int, int] | None = None) -> None:
        super().__init__(engagement_id)
        self.run_id = run_id
        self.start_turn = turn_id
        self.open_finding = finding
        self.start_span = span
        self.run: Any = None

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static("", id="triage-title")
        with Container(id="triage-body"):
            yield Transcript(id="transcript")
            yield Static("", id="triage-panel")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading(f"triage · run {self.run_id}")
        # A long reply is read as its start first (drawn at once), then whole in a thread.
        self.reload(longest=PREVIEW)
        if self.run is not None and not self.run.complete:
            self._read_whole()
        transcript = self.query_one(Transcript)
        turns = self.run.turns if self.run is not None else []
        index = self.run.turn_index(self.start_turn) if self.run is not None else 0
        if self.start_turn is None and self.open_finding:  # start on the turn that failed
            index = next((i for i, t in enumerate(turns) if any(v.outcome == "fail" for v in t.auto)), 0)
        transcript.go_to_turn(index)
        if self.start_span is not None:
            transcript.select_raw(*self.start_span)
        transcript.focus()
        self._panel()
        if self.open_finding:
            self.call_after_refresh(self.action_finding)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    @work(thread=True, exclusive=True, group="triage-whole", exit_on_error=False)
    def _read_whole(self) -> None:
        """The whole text of the long replies, read off the UI loop, then drawn in place of their starts."""
        from app.errors import RedlineError
        from app.triage import load_transcript

        try:
            run = with_store(lambda db: load_transcript(db, self.run_id))
        except RedlineError:
            return  # the start stays on screen; the next reload (a verdict) reads it whole
        self.app.call_from_thread(self._whole_read, run)

    def _whole_read(self, run: Any) -> None:
        self.reload(run=run)
        self._panel()

    def _loading(self) -> bool:
        """True (and says so) while a long reply is shown from its start only: nothing is quoted from it yet."""
        if self.run is not None and not self.run.complete:
            self.notify("The transcript is still loading; try again in a moment.", markup=False)
            return True
        return False

    def reload(self, longest: int | None = None, run: Any = None) -> None:
        """Read the run again (or show ``run``) and redraw the transcript, keeping the current turn."""
        from app.triage import load_transcript

        if run is None:
            run = try_store(self, lambda db: load_transcript(db, self.run_id, longest))
        if run is None:
            return
        self.run = run
        transcript = self.query_one(Transcript)
        current, select_from, caret = transcript.current, transcript.select_from, transcript.caret
        transcript.show(stored_turns(run))
        if current is not None:
            transcript.go_to_turn(current)
            if select_from is not None:  # a verdict keeps the span the tester was quoting
                transcript.select_from = select_from
                transcript.action_caret(caret - transcript.caret)
        verdict = f" · run {run.verdict.upper() if run.verdict == 'fail' else run.verdict or run.status}"
        self.query_one("#triage-title", Static).update(
            run_title(run.scenario_id, run.strategy, run.system, run.window, verdict))

    def _turn(self) -> Any:
        transcript = self.query_one(Transcript)
        if self.run is None or not self.run.turns or transcript.current is None:
            return None
        return self.run.turns[transcript.current]

    def _panel(self) -> None:
        """The current turn's verdicts, detectors beside the tester, and what is selected."""
        panel = self.query_one("#triage-panel", Static)
        turn = self._turn()
        if turn is None:
            panel.update(Text("This run has no turns.", style="dim"))
            return
        transcript = self.query_one(Transcript)
        total = len(self.run.turns)
        out = Text(f"turn {(transcript.current or 0) + 1}/{total} · {turn.status}", style="bold")
        if turn.error_type:
            out += literal(f" · {turn.error_type}: {one_line(turn.error_detail, 80)}", style="red")
        out += Text("\ndetectors  ", style="dim")
        if not turn.auto:
            out += Text("none applied", style="dim")
        for index, v in enumerate(turn.auto):
            out += Text("\n           " if index else "") + outcome_text(v.outcome) + literal(
                f" {one_line(v.detector, 24)}: {one_line(v.reason, 70)}")
        out += Text("\ntester     ", style="dim")
        if not turn.human:
            out += Text("no verdict yet (p pass · x fail · u needs review)", style="dim")
        for index, v in enumerate(turn.human[-2:]):
            out += Text("\n           " if index else "") + outcome_text(v.outcome) + literal(
                f" {one_line(v.actor, 16)}: {one_line(v.reason, 70)}")
            for grade in (v.evidence or {}).get("judges") or []:  # what the overridden judge said, kept beside
                out += Text("\n             over judge ", style="dim") + literal(
                    f"{one_line(str(grade.get('system')), 20)}: {one_line(str(grade.get('verdict') or 'no verdict'), 8)}"
                    f" · {one_line(str(grade.get('reason') or grade.get('error')), 60)}", style="dim")
        span = transcript.raw_selection()
        out += Text("\nselection  ", style="dim")
        if span is None:
            out += Text("none (v selects · a whole response · f finding)", style="dim")
        else:
            out += Text(f"{span[0]}..{span[1]} ", style="bold") + literal(
                f"“{one_line(turn.response[span[0]:span[1]], 60)}”", style="italic")
        out.no_wrap, out.overflow = True, "ellipsis"  # one line per verdict, at any width
        panel.update(out)

    # --------------------------------------------------------------- moving

    def action_turn(self, step: int) -> None:
        transcript = self.query_one(Transcript)
        target = (transcript.current or 0) + step
        if not 0 <= target < len(transcript.turn_keys):
            # Nowhere to go: stay, keep the selection, and say why nothing moved.
            self.notify("This is the last turn." if step > 0 else "This is the first turn.", markup=False)
            return
        transcript.go_to_turn(target)
        self._panel()

    def action_select(self) -> None:
        self.query_one(Transcript).start_selection()
        self._panel()

    def action_select_turn(self) -> None:
        self.query_one(Transcript).select_turn()
        self._panel()

    def on_transcript_selection_changed(self, event: Transcript.SelectionChanged) -> None:
        self._panel()

    def action_back(self) -> None:
        transcript = self.query_one(Transcript)
        if transcript.selecting:
            transcript.clear_selection()
            self._panel()
            return
        super().action_back()

    # ------------------------------------------------------------- verdicts

    def action_verdict(self, outcome: str) -> None:
        turn = self._turn()
        if turn is None or self._loading():
            return
        self.app.push_screen(
            PromptScreen(f"Your verdict on turn {(self.query_one(Transcript).current or 0) + 1}: {VERDICT_KEYS[outcome]}",
                         hint="Why? (kept in the audit trail beside the detectors' verdicts)"),
            lambda reason: self._record(turn.id, outcome, reason))

    def _record(self, turn_id: int, outcome: str, reason: str | None) -> None:
        from app.triage import record_human_verdict

        if reason is None:
            return
        span = self.query_one(Transcript).raw_selection()
        evidence = None
        if span is not None:
            text = self._turn().response
            evidence = {"start": span[0], "end": span[1], "quote": text[span[0]:span[1]]}
        saved = try_store(self, lambda db: record_human_verdict(db, run_id=self.run_id, turn_id=turn_id,
                                                                outcome=outcome, reason=reason, evidence=evidence))
        if saved is None:
            return
        self.notify(f"verdict recorded: {VERDICT_KEYS[outcome]}", markup=False)
        self.reload()
        self._panel()

    # ------------------------------------------------------------- findings

    def action_finding(self) -> None:
        from app.catalog import load_catalog
        from app.findings import find
        from app.triage import draft_finding

        transcript = self.query_one(Transcript)
        turn = self._turn()
        if turn is None or self._loading():
            return
        if not turn.response:
            self.notify("This turn has no response text to quote.", markup=False, severity="warning")
            return
        if transcript.raw_selection() is None:
            transcript.select_turn()
            self._panel()
        start, end = transcript.raw_selection() or (0, len(turn.response))
        catalog = load_catalog()
        loaded = try_store(self, lambda db: (draft_finding(db, run_id=self.run_id, turn_id=turn.id, start=start,
                                                           end=end, catalog=catalog),
                                             find(db, self.engagement_id)))
        if loaded is None:
            return
        draft, findings = loaded
        where = f"run {self.run_id} · turn {(transcript.current or 0) + 1} · {start}..{end}"
        self.app.push_screen(FindingForm(draft, findings, catalog, where=where),
                             lambda choice: self._save_finding(turn.id, start, end, choice, catalog))

    def _save_finding(self, turn_id: int, start: int, end: int, choice: FindingChoice | None, catalog: Any) -> None:
        from app.triage import extend_finding, finding_from_span

        if choice is None:
            return
        if choice.extend is None:
            saved = try_store(self, lambda db: finding_from_span(
                db, run_id=self.run_id, turn_id=turn_id, start=start, end=end, title=choice.title,
                severity=choice.severity, impact=choice.impact, controls=choice.controls,
                steps_to_reproduce=choice.steps_to_reproduce, notes=choice.notes, catalog=catalog))
            verb = "created"
        else:
            saved = try_store(self, lambda db: extend_finding(db, choice.extend or 0, run_id=self.run_id,
                                                              turn_id=turn_id, start=start, end=end,
                                                              reason=choice.notes))
            verb = "extended"
        if saved is not None:
            self.notify(f"finding #{saved.id} {verb}", markup=False)
            self.query_one(Transcript).clear_selection()
            self._panel()
