"""The lifecycle's table and words: which status may follow which, and what each move means.

Pure data and one pure function, with no store behind them, so the command
line can build its help from them without opening the database. The rules that
touch the store (a re-test run's evidence, the audit trail) are in
:mod:`app.findings`, which re-exports everything here; callers use that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("draft", "open", "remediating", "retest_passed", "retest_failed", "closed", "risk_accepted", "dismissed")
OPEN_STATUSES = ("open", "remediating", "retest_failed")  # POA&M items; re-tests target these
# Exceptions in the auditor's sense: control failures a tester confirmed. A draft awaits triage and a
# dismissed finding was a false positive; neither is an exception in any export.
EXCEPTION_STATUSES = tuple(s for s in STATUSES if s not in ("draft", "dismissed"))
SEVERITIES = ("high", "medium", "low")

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"open", "dismissed", "risk_accepted"}),
    "open": frozenset({"remediating", "retest_passed", "retest_failed", "risk_accepted"}),
    "remediating": frozenset({"retest_passed", "retest_failed", "risk_accepted"}),
    "retest_failed": frozenset({"remediating", "retest_passed", "risk_accepted"}),
    "retest_passed": frozenset({"closed", "retest_failed"}),
    "risk_accepted": frozenset({"open"}),
    "dismissed": frozenset({"draft"}),
    "closed": frozenset(),
}

# Statuses only a re-test run can set, and the verdict of that run each one needs.
RETEST_STATUSES: dict[str, str] = {"retest_passed": "pass", "retest_failed": "fail"}

# What each move means, said once: (the CLI action, a short line for menus and help).
MEANINGS: dict[str, tuple[str, str]] = {
    "open": ("confirm", "a confirmed control failure: the report shows it and it is a POA&M item"),
    "remediating": ("remediating", "the client is fixing it; a re-test decides when the fix is in"),
    "closed": ("close", "remediation verified by the passing re-test; the finding's lifecycle ends"),
    "risk_accepted": ("accept", "management accepts the risk; needs the approver's name and a reason"),
    "dismissed": ("dismiss", "triage shows a false positive: not a control failure"),
    "draft": ("reopen", "back to triage: the finding awaits a tester's decision again"),
}
# risk_accepted -> open is a reopening, which reads differently from a triage confirmation.
_REOPEN_OPEN = ("reopen", "the accepted risk is no longer accepted: the finding is open again")

# The exception types a control failure can be given (AUDIT-CONVENTIONS: design, operating
# effectiveness, system description); app.evidence.wording holds their report labels.
EXCEPTION_KINDS: dict[str, str] = {
    "design": "the control as designed does not meet the criterion",
    "operating": "operating effectiveness: the control did not work in some instance during the period",
    "system_description": "what management describes differs from what the system does",
}

# A finding is created as a draft (the runner, triage), already confirmed (a tester filing it), or
# dismissed; every later status needs its own evidence (a re-test run, an approver).
CREATABLE = ("draft", "open", "dismissed")


@dataclass(frozen=True)
class Move:
    """One status change a tester may make by hand, as the CLI and the cockpit offer it."""

    to: str
    action: str  # the CLI action that makes it
    meaning: str  # one short line: what the move says about the finding
    needs_approver: bool = False


def legal_moves(finding: Any) -> list[Move]:
    """The moves a tester may make from the finding's status, in lifecycle order.

    ``finding`` is a Finding or a status. Re-test outcomes are left out: only a
    re-test run sets them. An empty list means the lifecycle has ended (``closed``).
    """
    status = finding if isinstance(finding, str) else finding.status
    moves = []
    for to in STATUSES:
        if to not in TRANSITIONS[status] or to in RETEST_STATUSES:
            continue
        action, meaning = _REOPEN_OPEN if (status, to) == ("risk_accepted", "open") else MEANINGS[to]
        moves.append(Move(to, action, meaning, needs_approver=to == "risk_accepted"))
    return moves
