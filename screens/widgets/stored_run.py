"""A stored run as the run and triage screens draw it: its title line and its turns.

Both screens show the same transcript of a stored run, so both build it here:
each turn's header (with the attacker that wrote an adaptive turn), the
message as sent with a variant's original message under it, the verdict
marks and why a turn has no answer; and a title that names the strategy of a
variant run, so "holds" and "holds under base64" are never confused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from app.text import one_line
from screens.widgets.run_list import turn_header, turn_note, turn_prompt
from screens.widgets.transcript import TurnText
from screens.widgets.verdicts import verdict_marks

if TYPE_CHECKING:
    from app.triage import RunTranscript


def run_title(scenario_id: str, strategy: str, system: str, window: str, tail: str = "") -> Text:
    """``scenario · under base64 · system · window`` (the dim part after the scenario), then ``tail``."""
    under = f" · under {one_line(strategy, 40)}" if strategy else ""
    return (Text(one_line(scenario_id, 48), style="bold")
            + Text(f"{under} · {one_line(system, 24)} · {one_line(window, 16) or 'no window'}{tail}", style="dim"))


def stored_turns(run: RunTranscript) -> list[TurnText]:
    """Every turn of a stored run, ready for the transcript widget."""
    return [TurnText(t.id, turn_header(t.step, t.sample, t.kind, t.identity)
                     + (f" · written by attacker {t.author}" if t.author else ""),
                     turn_prompt(t.prompt, t.original, run.strategy), t.response, t.status == "streaming",
                     verdict_marks([(v.detector, v.outcome) for v in t.auto], t.human_outcome), turn_note(t))
            for t in run.turns]
