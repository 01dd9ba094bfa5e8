"""The dialog that chooses the strategies the next runs are also sent under, as ``redline run --strategy``.

space ticks a strategy, and the chain field takes layered chains such as
``base64+roleplay`` (comma-separated). enter applies and escape cancels. The
dialog only collects names: :func:`app.strategies.variants.normalise_chain` checks each
chain the way the CLI does, and :func:`app.runner.plan.add_variants` plans the
variants, so the cockpit and ``redline run`` follow one rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.widgets.selection_list import Selection

from app.text import one_line
from screens.widgets.toggles import TickList


class StrategyScreen(ModalScreen[list[str] | None]):
    """Tick strategies and type chains; dismissed with the chosen chains ([] for none), or None on escape."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="strategies.cancel"),
        Binding("ctrl+s", "apply", "Apply", id="strategies.apply", tooltip="Use the ticked strategies and chains"),
    ]

    def __init__(self, chosen: Sequence[str]) -> None:
        super().__init__()
        self.chosen = list(chosen)

    def compose(self) -> ComposeResult:
        from app.strategies import catalogue

        strategies = catalogue()
        singles = [c for c in self.chosen if c in strategies]
        chains = [c for c in self.chosen if c not in strategies]
        with Vertical(classes="dialog"):
            yield Static(Text("Strategies for the next runs", style="bold"), classes="dialog-title")
            yield Static(Text("Each picked scenario runs plainly and once more under each strategy, judged on its "
                              "own. Control rows' strategies are added as well."), classes="dialog-hint")
            yield TickList(*[Selection(self._label(s.name, s.family, s.summary), s.name, s.name in singles)
                             for s in strategies.values()], id="strategy-list")
            yield Input(", ".join(chains), placeholder="layered chains, e.g. base64+roleplay, french+split",
                        id="strategy-chains")
            yield Static(Text("space: tick · enter in the chains or ctrl+s: apply · escape to cancel", style="dim"),
                         classes="dialog-hint")

    @staticmethod
    def _label(name: str, family: str, summary: str) -> Text:
        text = Text(f"{name:<20} ", style="bold")
        text.append(f"{family:<12} ", style="dim")
        text.append(one_line(summary, 80), style="dim")
        return text

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def action_apply(self) -> None:
        from app.strategies.variants import normalise_chain

        ticked = [str(v) for v in self.query_one(TickList).selected]
        typed = [c.strip() for c in self.query_one("#strategy-chains", Input).value.split(",") if c.strip()]
        try:
            chains = [normalise_chain(c) for c in typed]
        except ValueError as exc:
            self.notify(str(exc), title="not a strategy chain", severity="error", markup=False)
            return
        self.dismiss(list(dict.fromkeys([*ticked, *chains])))

    def action_cancel(self) -> None:
        self.dismiss(None)
