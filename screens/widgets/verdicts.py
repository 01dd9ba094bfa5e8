"""Verdicts and run figures as short styled lines, shared by the run and triage screens.

Detector names come from scenario files and reasons from detectors quoting
model output, so every piece is literal ``Text`` made safe by ``app.text``.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from app.text import one_line
from screens.widgets.literal import RESULT_MARKS, RESULT_STYLES

_NAMES = {"pass": "pass", "fail": "FAIL", "review": "review", "error": "error"}


def outcome_text(outcome: str, *, upper_fail: bool = True) -> Text:
    """``✗ FAIL``, ``✓ pass``, ``? review``, ``! error``."""
    name = _NAMES.get(outcome, outcome) if upper_fail else outcome
    return Text(f"{RESULT_MARKS.get(outcome, '·')} {name}", style=RESULT_STYLES.get(outcome, ""), no_wrap=True)


def verdict_marks(verdicts: Iterable[tuple[str, str]], human: str = "", limit: int = 3) -> Text:
    """Detector outcomes (``✗ canary · ✓ regex``), then the tester's verdict if there is one."""
    out = Text(no_wrap=True)
    pairs = list(verdicts)
    for index, (detector, outcome) in enumerate(pairs[:limit]):
        if index:
            out.append(" · ", style="dim")
        out.append(f"{RESULT_MARKS.get(outcome, '·')} ", style=RESULT_STYLES.get(outcome, ""))
        out.append(one_line(detector or "detector", 24), style=RESULT_STYLES.get(outcome, ""))
    if len(pairs) > limit:
        out.append(f" +{len(pairs) - limit}", style="dim")
    if human:
        out.append("  tester ", style="bold")
        out.append_text(outcome_text(human))
    return out


def run_figures(ttft_ms: float | None, tokens_per_s: float | None,
                verdicts: Iterable[tuple[str, str]] = ()) -> Text:
    """``ttft 212 ms · 48 tok/s · regex: FAIL`` for the selected run."""
    out = Text(no_wrap=True)
    out.append(f"ttft {ttft_ms:.0f} ms" if ttft_ms is not None else "ttft –", style="dim")
    out.append(" · ", style="dim")
    out.append(f"{tokens_per_s:.0f} tok/s" if tokens_per_s is not None else "– tok/s", style="dim")
    for detector, outcome in verdicts:
        out.append(" · ", style="dim")
        out.append(f"{one_line(detector or 'detector', 24)}: ")
        out.append(_NAMES.get(outcome, outcome), style=RESULT_STYLES.get(outcome, ""))
    return out
