"""Auditor questions: each question the catalog lists, answered from the evidence gathered so far.

The answers come from :func:`app.questions.answer_questions` (the same text
``redline monitor --questions`` prints); this screen only lists and shows them.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from screens.base import EngagementScreen, report_error, with_store
from screens.widgets.literal import literal

STATUS_MARKS: dict[str, tuple[str, str]] = {
    "no evidence": ("·", "dim"), "no exceptions": ("✓", "green"), "remediated": ("↻", "cyan"),
    "exceptions open": ("✗", "bold red"), "not concluded": ("?", "yellow"),
}


class QuestionsScreen(EngagementScreen):
    """What auditors ask of AI controls, and what this engagement's evidence says so far."""

    SCREEN_NAME = "questions"

    HELP_TITLE = "auditor questions"
    HELP = ("Each question an auditor asks of AI controls, with the criteria behind it, answered from the runs, "
            "findings, re-tests and model change flags recorded so far. · no evidence yet, ✓ no exceptions, "
            "↻ exceptions remediated and re-tested, ✗ exceptions open, ? not concluded.")
    BINDINGS = [
        Binding("r", "reload", "Reload", id="questions.reload"),
        Binding("m", "goto('monitoring')", "Monitoring", id="questions.monitoring",
                tooltip="Results per criterion and test window"),
    ]
    DEFAULT_CSS = """
    QuestionsScreen #questions-list { height: auto; max-height: 9; }
    QuestionsScreen #questions-scroll { height: 1fr; padding: 0 1; }
    """

    def __init__(self, engagement_id: int) -> None:
        super().__init__(engagement_id)
        self.answers: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield OptionList(id="questions-list")
        with VerticalScroll(id="questions-scroll"):
            yield Static(Text("loading…", style="dim"), id="questions-answer")
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement

        self.engagement_name = with_store(lambda db: get_engagement(db, self.engagement_id)).name
        self.set_heading("auditor questions")
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="questions-load", exit_on_error=False)
    def load(self) -> None:
        from app.errors import RedlineError
        from app.questions import answer_questions

        try:
            answers = with_store(lambda db: answer_questions(db, self.engagement_id, today=self.redline.today()))
        except RedlineError as exc:
            self.app.call_from_thread(report_error, self, exc)
            return
        self.app.call_from_thread(self._loaded, answers)

    def _loaded(self, answers: list[Any]) -> None:
        self.answers = answers
        options = self.query_one("#questions-list", OptionList)
        keep = options.highlighted or 0
        options.clear_options()
        for answer in answers:
            mark, style = STATUS_MARKS.get(answer.status, ("?", ""))
            options.add_option(Option(Text(f"{mark} ", style=style) + literal(answer.question), id=answer.key))
        if answers:
            options.highlighted = min(keep, len(answers) - 1)
            options.focus()
        self._show()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show()

    def selected(self) -> Any | None:
        index = self.query_one("#questions-list", OptionList).highlighted
        return self.answers[index] if index is not None and 0 <= index < len(self.answers) else None

    def _show(self) -> None:
        answer = self.selected()
        view = self.query_one("#questions-answer", Static)
        if answer is None:
            view.update(Text("The catalog lists no auditor questions.", style="dim"))
            return
        mark, style = STATUS_MARKS.get(answer.status, ("?", ""))
        out = literal(answer.question, "bold") + Text(f"\n{', '.join(answer.criteria)} · {answer.assesses}\n",
                                                      style="dim")
        lines = answer.lines()
        out += Text(f"{mark} ", style=style) + literal(lines[0], style) + Text("\n")
        for line in lines[1:]:
            out += Text("  ") + literal(line) + Text("\n")
        out += Text(f"\nHow red teaming helps: {answer.red_team_help}", style="italic dim")
        view.update(out)
