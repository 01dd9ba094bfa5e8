"""``redline findings ENGAGEMENT``: the engagement's findings, as a table or JSON.

Lifecycle actions are subcommands after the engagement name
(``redline findings ENGAGEMENT ACTION ...``); each registers itself in
:func:`add_actions`. With no action, the findings are listed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "findings", help="list an engagement's findings (and change their status)",
        description="List an engagement's findings. Lifecycle actions follow the engagement name.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=list_findings)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=False)
    add_actions(actions)


def _moves() -> dict[str, tuple[str, str]]:
    """action -> (status it moves findings to, help), from the lifecycle's own words (app.lifecycle).

    Re-test outcomes have no action: only ``redline retest`` sets them. Reopening
    an accepted risk or a dismissed draft has its own action, ``reopen``.
    """
    from app.lifecycle import MEANINGS

    return {action: (to, meaning) for to, (action, meaning) in MEANINGS.items() if action != "reopen"}


def add_actions(actions: Any) -> None:
    """Register lifecycle subcommands here: each ``actions.add_parser(...)`` sets its own ``func``."""
    for name, (to, help_text) in _moves().items():
        move = actions.add_parser(name, help=help_text, description=f"Move findings to '{to}': {help_text}.")
        move.add_argument("ids", metavar="ID", nargs="+", type=int, help="finding id (repeatable)")
        move.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        move.add_argument("--by", metavar="NAME", default="", help="the tester making the change (default: $REDLINE_TESTER or your login)")
        move.add_argument("--approver", metavar="NAME", default="", required=name == "accept",
                          help="who accepted the risk" if name == "accept" else argparse.SUPPRESS)
        _add_if_version(move)
        move.set_defaults(func=move_findings, to=to)
    reopen = actions.add_parser("reopen", help="reopen an accepted risk (to open) or a dismissed draft (to draft)",
                                description="Reopen findings: risk_accepted -> open, dismissed -> draft.")
    reopen.add_argument("ids", metavar="ID", nargs="+", type=int, help="finding id (repeatable)")
    reopen.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    reopen.add_argument("--by", metavar="NAME", default="", help="the tester making the change")
    reopen.set_defaults(func=move_findings, to=None, approver="")
    from app.lifecycle import EXCEPTION_KINDS

    classify = actions.add_parser(
        "classify", help="set the exception type of control failures (design, operating, system_description)",
        description="Classify exceptions. " + "; ".join(f"{k}: {v}" for k, v in EXCEPTION_KINDS.items())
                    + ". The change is audited.")
    classify.add_argument("ids", metavar="ID", nargs="+", type=int, help="finding id (repeatable)")
    classify.add_argument("--type", dest="kind", required=True, type=lambda v: v.strip().lower().replace("-", "_"),
                          choices=EXCEPTION_KINDS, help="the exception type")
    classify.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    classify.add_argument("--by", metavar="NAME", default="", help="the tester making the change")
    _add_if_version(classify)
    classify.set_defaults(func=classify_findings)
    respond = actions.add_parser("respond", help="record management's response to a control failure",
                                 description="Add a management response (the exception log) to a finding.")
    respond.add_argument("ids", metavar="ID", nargs=1, type=int, help="finding id")
    respond.add_argument("--response", required=True, help="management's response, in its own words")
    respond.add_argument("--owner", required=True, metavar="NAME", help="who owns the remediation")
    respond.add_argument("--date", type=_iso_date, metavar="YYYY-MM-DD", help="the response's date (default: today)")
    respond.add_argument("--cause", default="", help="the root cause")
    respond.add_argument("--mitigating", default="", help="mitigating controls")
    respond.add_argument("--remediation", default="", help="the remediation and its timeline")
    respond.add_argument("--by", metavar="NAME", default="", help="who records it")
    respond.set_defaults(func=respond_to_finding)
    from app.remediation import PRIORITIES

    plan = actions.add_parser(
        "priority", help="set a finding's remediation priority and due date",
        description="Set the remediation priority (" + "; ".join(f"{k}: {v}" for k, v in PRIORITIES.items())
                    + ") and the due date. A new priority without --due moves the due date by the rule for that "
                      "priority. The change is audited.")
    plan.add_argument("ids", metavar="ID", nargs="+", type=int, help="finding id (repeatable)")
    plan.add_argument("--priority", type=lambda v: v.strip().lower().replace("-", "_"), choices=PRIORITIES,
                      help="the remediation priority")
    plan.add_argument("--due", type=_iso_date, metavar="YYYY-MM-DD", help="the due date")
    plan.add_argument("--reason", required=True, help="why (kept in the audit trail)")
    plan.add_argument("--by", metavar="NAME", default="", help="the tester making the change")
    plan.set_defaults(func=plan_findings)
    exceptions = actions.add_parser("exceptions", help="list every control failure with its management responses",
                                    description="The exception log: findings and failed runs, with responses.")
    exceptions.add_argument("--json", action="store_true", help="print JSON instead of a table")
    exceptions.set_defaults(func=list_exceptions)


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _add_if_version(parser: Any) -> None:
    parser.add_argument("--if-version", metavar="N", type=int, default=None,
                        help="change the finding only if it is still at version N (as listed by `findings --json`): "
                             "on a shared store, someone else's change since then is reported, not overwritten")


def _chosen(db: Any, engagement_id: int, ids: list[int], if_version: int | None = None) -> list[Any]:
    from app.errors import UsageError
    from app.findings import find
    if if_version is not None and len(set(ids)) != 1:
        raise UsageError("--if-version names the version of one finding: give exactly one ID with it")
    found = {f.id: f for f in find(db, engagement_id, ids=ids)}
    unknown = [str(i) for i in dict.fromkeys(ids) if i not in found]
    if unknown:
        raise UsageError(f"no finding {', '.join(unknown)} in this engagement")
    from app.findings import load_for_change

    return [load_for_change(db, i, expected_version=if_version) for i in dict.fromkeys(ids)]


def move_findings(args: argparse.Namespace) -> int:
    """All or nothing: one refused move leaves every finding as it was."""
    from rich.text import Text

    from app.engagements import find_engagement
    from app.findings import FindingStateError, legal_moves, transition
    from app.store import session
    from app.terminal import console as make_console

    moved = []
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        for finding in _chosen(db, engagement.id or 0, args.ids, getattr(args, "if_version", None)):
            before = finding.status
            to = args.to or next((m.to for m in legal_moves(finding) if m.action == "reopen"), None)
            if to is None:
                allowed = ", ".join(m.action for m in legal_moves(finding)) or "none (final)"
                raise FindingStateError(f"finding {finding.id} is {finding.status}; there is nothing to reopen "
                                        f"(allowed: {allowed})")
            transition(db, finding, to, reason=args.reason, actor=args.by, approver=args.approver)
            moved.append(f"finding {finding.id}: {before} → {finding.status}")
    for line in moved:
        make_console().print(Text(line))
    return 0


def classify_findings(args: argparse.Namespace) -> int:
    """All or nothing, like a move: one refused classification leaves every finding as it was."""
    from rich.text import Text

    from app.engagements import find_engagement
    from app.findings import classify
    from app.store import session
    from app.terminal import console as make_console

    done = []
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        for finding in _chosen(db, engagement.id or 0, args.ids, args.if_version):
            before = finding.exception_kind or "not classified"
            classify(db, finding, args.kind, reason=args.reason, actor=args.by)
            done.append(f"finding {finding.id}: exception type {before} → {args.kind}")
    for line in done:
        make_console().print(Text(line))
    return 0


def plan_findings(args: argparse.Namespace) -> int:
    """All or nothing, like a move: one refused edit leaves every finding as it was."""
    from rich.text import Text

    from app.engagements import find_engagement
    from app.finding_plans import set_plan
    from app.store import session
    from app.terminal import console as make_console

    done = []
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        for finding in _chosen(db, engagement.id or 0, args.ids):
            before = f"{finding.priority or 'derived'}, due {finding.due_date or 'derived'}"
            set_plan(db, finding, priority=args.priority, due=args.due, reason=args.reason, actor=args.by)
            done.append(f"finding {finding.id}: {before} → {finding.priority}, due {finding.due_date}")
    for line in done:
        make_console().print(Text(line))
    return 0


def respond_to_finding(args: argparse.Namespace) -> int:
    from rich.text import Text

    from app.engagements import find_engagement
    from app.retest import record_response
    from app.store import session
    from app.terminal import console as make_console

    with session() as db:
        engagement = find_engagement(db, args.engagement)
        finding = _chosen(db, engagement.id or 0, args.ids)[0]
        row = record_response(db, finding, response=args.response, owner=args.owner, response_date=args.date,
                              cause=args.cause, mitigating_controls=args.mitigating, remediation=args.remediation,
                              actor=args.by)
    make_console().print(Text(f"finding {finding.id}: management response {row.id} recorded "
                         f"(owner {args.owner}, {row.response_date})"))
    return 0


def list_exceptions(args: argparse.Namespace) -> int:
    """The exception log, then the failures awaiting triage (drafts are not exceptions yet)."""
    from rich.table import Table
    from rich.text import Text

    from app.engagements import find_engagement
    from app.retest import exception_register
    from app.store import session
    from app.terminal import console as make_console
    from app.text import one_line

    with session() as db:
        engagement = find_engagement(db, args.engagement)
        register = exception_register(db, engagement.id or 0)
    if args.json:
        print(json.dumps(register, indent=2, ensure_ascii=False, default=str))
        return 0
    console = make_console()
    console.print(Text(f"Exception log · {one_line(engagement.name)}: {register['summary']}", style="bold"))
    if register["exceptions"]:
        table = Table(show_lines=True)
        table.add_column("exception", no_wrap=True)
        table.add_column("failure", ratio=1, overflow="fold")
        table.add_column("management response", ratio=1, overflow="fold")
        for r in register["exceptions"]:
            failure = Text(one_line(str(r["title"]), 200), style="bold")
            failure.append(f"\n{one_line(str(r['controls']), 80)} · {r['exception_type']} · {r['status']}", style="dim")
            failure.append(f"\n{one_line(str(r['occurrences']), 200)}", style="dim")
            failure.append(f"\n{r['priority']} priority, {r['due']}",
                           style="bold red" if r["overdue"] == "yes" else "")
            answer = Text(one_line(str(r["response"]), 300))
            if r.get("owner"):
                answer.append(f"\nowner {one_line(str(r['owner']), 60)} · {r['response_date'] or '–'}", style="dim")
            for key in ("cause", "mitigating_controls", "remediation"):
                if r.get(key):
                    answer.append(f"\n{key.replace('_', ' ')}: {one_line(str(r[key]), 200)}")
            if r.get("risk_acceptance"):
                answer.append("\n" + one_line(str(r["risk_acceptance"]), 300))
            table.add_row(Text(str(r["exception"])), failure, answer)
        console.print(table)
    console.print(Text(f"Awaiting triage: {register['triage_summary']}", style="bold"))
    if register["awaiting_triage"]:
        queue = Table(show_lines=False)
        queue.add_column("item", no_wrap=True)
        queue.add_column("failure", ratio=1, overflow="fold")
        for r in register["awaiting_triage"]:
            line = Text(one_line(str(r["title"]), 200))
            line.append(f"\n{one_line(str(r['controls']), 80)} · {r['severity']} · {one_line(str(r['occurrences']), 200)}",
                        style="dim")
            queue.add_row(Text(str(r["item"])), line)
        console.print(queue)
    return 0


def finding_record(finding: Any, seen: Sequence[Any] = (), plan: Any = None) -> dict[str, Any]:
    """One finding as listed: the columns above plus the evidence needed to read it without the cockpit.

    ``moves`` are the lifecycle moves a tester may make next (:func:`app.findings.legal_moves`), as
    actions of this command; ``occurrences`` the runs that showed the weakness (:mod:`app.occurrences`).
    """
    from app.findings import legal_moves

    return {
        "id": finding.id, "status": finding.status, "severity": finding.severity,
        "controls": list(finding.controls), "title": finding.title, "impact": finding.impact,
        "scenario": finding.scenario_id, "run": finding.run_id, "turn": finding.turn_id,
        "created_at": finding.created_at.isoformat() if finding.created_at else None,
        "updated_at": finding.updated_at.isoformat() if finding.updated_at else None,
        "created_by": finding.created_by, "exception_kind": finding.exception_kind,
        "evidence": dict(finding.evidence or {}),
        "moves": [{"action": m.action, "to": m.to, "meaning": m.meaning} for m in legal_moves(finding)],
        "occurrences": [o.to_json() for o in seen], "regression_of": finding.regression_of,
        **(plan.to_json() if plan is not None else {}),
        "version": finding.version,
    }


def list_findings(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from app.attachments import list_attachments
    from app.engagements import find_engagement
    from app.findings import OPEN_STATUSES, find
    from app.occurrences import occurrences
    from app.remediation import plan_of
    from app.runner.plan import today_utc
    from app.store import session
    from app.terminal import console as make_console
    from app.text import one_line

    today = today_utc()
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        found = find(db, engagement.id or 0)
        seen = occurrences(db, found)
        records = [finding_record(f, seen.get(f.id or 0, ()), plan_of(f, engagement, today)) for f in found]
        attached: dict[int, list[dict[str, Any]]] = {}
        for row in list_attachments(db, engagement.id or 0):
            if row.finding_id is not None:
                attached.setdefault(row.finding_id, []).append(
                    {"id": row.id, "filename": row.filename, "sha256": row.sha256, "note": row.note})
    for r in records:
        r["attachments"] = attached.get(r["id"], [])
    console = make_console()
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return 0
    if not records:
        console.print(Text(f"No findings in engagement '{one_line(engagement.name)}' yet."))
        return 0
    table = Table(title=Text(f"Findings · {one_line(engagement.name)}"), title_justify="left",
                  show_lines=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("controls")
    table.add_column("finding", ratio=1, overflow="fold")
    for r in records:
        # Long fields share one column, one per line, so the table reads at 80 columns.
        detail = Text(one_line(r["title"], 200), style="bold")
        if r["impact"]:
            detail.append("\nimpact: " + one_line(r["impact"], 200), style="")
        detail.append(f"\nscenario {one_line(_cell(r['scenario']), 80)} · run {_cell(r['run'])} · "
                      f"{_cell(r['created_at'])}", style="dim")
        if len(r["occurrences"]) > 1:
            runs = ", ".join(str(o["run"]) for o in r["occurrences"])
            detail.append(f"\nseen in {len(r['occurrences'])} runs: {runs}", style="")
        if r["regression_of"]:
            detail.append(f"\nregression of finding {r['regression_of']}", style="")
        due = f"due {r['due_date']}"
        if r["overdue"]:
            due = f"OVERDUE by {r['days_overdue']} day(s), {due}"
        detail.append(f"\nremediation: {r['priority'].replace('_', ' ')} priority, {due}",
                      style="bold red" if r["overdue"] else "")
        if r["attachments"]:
            detail.append("\nattachments: " + ", ".join(f"{a['id']} {one_line(a['filename'], 40)}"
                                                          for a in r["attachments"]), style="")
        detail.append("\nnext: " + (" · ".join(m["action"] for m in r["moves"]) or "none (closed)")
                      + ("; a re-test decides" if r["status"] in OPEN_STATUSES else ""), style="dim")
        table.add_row(Text(str(r["id"])), Text(r["status"]), Text(r["severity"]),
                      Text(one_line(_cell(r["controls"]), 80)), detail)
    console.print(table)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        return value[:16].replace("T", " ")  # an ISO timestamp, to the minute
    return str(value)
