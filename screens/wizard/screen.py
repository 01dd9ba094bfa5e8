"""The alignment wizard: the step rail on the left, the current step on the right.

It opens at the first step not yet done, so leaving and coming back resumes
where the tester stopped. Each step saves as it goes; "step done" (ctrl+s)
checks the step's requirements with the core, records it, and moves on.
When the last step is done the engagement opens.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import ContentSwitcher, Footer, Header, OptionList

from app.alignment.steps import STEPS
from screens.base import EngagementScreen, try_store, with_store
from screens.messages import EngagementChanged
from screens.wizard.common import WizardStep
from screens.wizard.controls import ControlsStep
from screens.wizard.evidence import EvidenceStep
from screens.wizard.rail import StepRail
from screens.wizard.systems import SystemsStep
from screens.wizard.timing import TimingStep

STEP_CLASSES: tuple[type[WizardStep], ...] = (SystemsStep, ControlsStep, TimingStep, EvidenceStep)


class WizardScreen(EngagementScreen):
    """Pre-engagement alignment for one engagement."""

    SCREEN_NAME = "wizard"

    HELP_TITLE = "alignment wizard"
    HELP = ("Four steps agreed with the client and the auditors: in-scope systems, the control matrix "
            "mapped to tests, timing, and the evidence format. Each saves as you go; ctrl+s marks a step "
            "done and moves on. 1-4 jump to a step.")
    BINDINGS = [
        Binding("ctrl+s", "step_done", "Step done", id="wizard.done", show=False,
                tooltip="Mark this step done and go on (the button at the bottom right)"),
        Binding("1", "go('systems')", "Systems", show=False, id="wizard.step1"),
        Binding("2", "go('controls')", "Controls", show=False, id="wizard.step2"),
        Binding("3", "go('timing')", "Timing", show=False, id="wizard.step3"),
        Binding("4", "go('evidence')", "Evidence", show=False, id="wizard.step4"),
    ]

    def __init__(self, engagement_id: int, step: str | None = None) -> None:
        super().__init__(engagement_id)
        self.start_step = step
        self.done: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="wizard-body"):
            yield StepRail(id="rail")
            with ContentSwitcher(id="steps", initial=f"step-{STEPS[0]}"):
                for cls in STEP_CLASSES:
                    yield cls(self.engagement_id)
        yield Footer(show_command_palette=False, compact=True)

    def on_mount(self) -> None:
        from app.alignment import get_engagement, next_step, steps_done

        engagement = with_store(lambda db: get_engagement(db, self.engagement_id))
        self.engagement_name = engagement.name
        self.set_heading("alignment")
        self.done = steps_done(engagement)
        rail = self.query_one(StepRail)
        rail.mark(self.done)
        for pane in self.query(WizardStep):
            pane.load()
        self.action_go(self.start_step or next_step(engagement) or STEPS[0])

    @property
    def current(self) -> str:
        current = self.query_one(ContentSwitcher).current or f"step-{STEPS[0]}"
        return current.removeprefix("step-")

    def pane(self, step: str) -> WizardStep:
        return self.query_one(f"#step-{step}", WizardStep)

    def action_go(self, step: str) -> None:
        if step not in STEPS:
            return
        self.query_one(ContentSwitcher).current = f"step-{step}"
        self.query_one(StepRail).show_step(step)
        self.sub_title = f"alignment · {step}"
        # Focus the step's first table or field, so its keys work at once.
        focusable = [w for w in self.pane(step).query("DataTable, Checkbox, RadioSet, Input") if w.focusable]
        if focusable:
            focusable[0].focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Moving through the rail shows each step, but only when the tester is in the rail (the
        highlight also moves when a step is opened by key, and that must not switch back)."""
        if isinstance(event.option_list, StepRail) and event.option_list.has_focus:
            self._from_rail(event.option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, StepRail):
            self._from_rail(event.option.id)

    def _from_rail(self, step: str | None) -> None:
        if step and step != self.current:
            self.query_one(ContentSwitcher).current = f"step-{step}"
            self.query_one(StepRail).show_step(step)
            self.sub_title = f"alignment · {step}"

    def on_engagement_changed(self, event: EngagementChanged) -> None:
        """Saves are already in the store; the wizard itself needs no redraw (each pane redraws itself)."""
        event.stop()

    def action_step_done(self) -> None:
        from app.alignment import complete_step, next_step, steps_done

        step = self.current
        if not self.pane(step).before_done():
            return
        engagement = try_store(self, lambda db: complete_step(db, self.engagement_id, step))
        if engagement is None:
            return
        self.done = steps_done(engagement)
        self.query_one(StepRail).mark(self.done)
        following = next_step(engagement)
        if following is None:
            self.notify("Alignment complete: the engagement is ready to test.", markup=False)
            self.app.pop_screen()
            self.redline.push_screen_for(self.redline.ENGAGEMENT_HOME, self.engagement_id)
            return
        later = [s for s in STEPS[STEPS.index(step) + 1:] if s not in self.done]
        self.notify(f"{step} done", markup=False)
        self.action_go(later[0] if later else following)
