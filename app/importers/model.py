"""What an imported report holds once parsed: tool-neutral, so the store side is written once.

A report is read into :class:`ImportedReport`: per probe (garak) or plugin or test (promptfoo), the attempts,
each with the prompt sent, every output received, and for each output the tool's own judgement. The
judgement keeps the tool's words and score; Redline's verdict is derived from it by one rule
(:meth:`ToolJudgement.outcome`), and an output the tool never judged stays unjudged (inconclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.errors import RedlineError

# Bounds on a report file: it comes from another tool and may be huge or hostile.
MAX_REPORT_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_TEXT_CHARS = 10_000_000  # one prompt or output, as the runner's own text limit


class ReportImportError(RedlineError):
    """The report cannot be imported as asked; nothing was written."""


@dataclass(frozen=True)
class ToolJudgement:
    """One detector's or grader's judgement of one output, in the tool's own terms."""

    detector: str
    hit: bool | None  # True: the attack worked (a failure of the system); None: the tool could not say
    score: float | None = None
    reason: str = ""

    def outcome(self) -> str:
        """Redline's verdict for it: an attack that worked is a fail; no answer from the tool is an error."""
        if self.hit is None:
            return "error"
        return "fail" if self.hit else "pass"


@dataclass
class ImportedOutput:
    text: str | None  # None: the tool recorded no output (the request failed or was never sent)
    judgements: list[ToolJudgement] = field(default_factory=list)
    error: str = ""  # the tool's error for this output, if any


@dataclass
class ImportedAttempt:
    ref: str  # the tool's id for the attempt (garak uuid, promptfoo row), kept on the turn
    prompt: str
    outputs: list[ImportedOutput] = field(default_factory=list)
    goal: str = ""
    strategy: str = ""  # promptfoo's strategy id, garak's buff, when the tool names one
    latency_ms: float | None = None


@dataclass
class ImportedProbe:
    """A group of attempts that becomes one run: a garak probe, a promptfoo plugin or test description."""

    name: str
    attempts: list[ImportedAttempt] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # the tool's own tags (garak: owasp:llm01, avid-effect:...)


@dataclass
class ImportedReport:
    tool: str  # "garak" or "promptfoo"
    version: str
    source: str  # the file name as given
    sha256: str  # of the file's bytes: the evidence of what was imported
    started_at: datetime | None
    model: str = ""
    probes: list[ImportedProbe] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what was left out, and why (said, never silent)


def clip(text: str) -> str:
    """A prompt or output within the runner's own text limit; what was cut is said in the text."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n[cut at {MAX_TEXT_CHARS:,} characters on import]"
