"""``redline monitor ENGAGEMENT``: the Type II picture per criterion and window, schedule and change flags.

``--inventory`` and ``--probe`` first check the endpoints (AI-GOV-01 model
listing; canary probes for model changes) and record what they saw;
``--questions`` answers the auditor's questions from the evidence instead of
drawing the grid.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "monitor", help="Type II monitoring: results per criterion and window, overdue windows, model changes",
        description="Per criterion, the result in each test window and the trend; windows due, overdue or "
        "missed; runs outside the period or their window; possible unapproved model changes.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--probe", action="store_true",
                        help="first send the canary probes to every in-scope system (model change detection)")
    parser.add_argument("--inventory", action="store_true",
                        help="first compare each endpoint's model listing with the inventory (AI-GOV-01); "
                        "each undocumented model gets one draft finding")
    parser.add_argument("--questions", action="store_true",
                        help="answer the auditor's questions from the evidence instead of drawing the grid")
    parser.add_argument("--by", metavar="NAME", default="", help="the tester (for --probe and --inventory)")
    parser.set_defaults(func=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    from app.engagements import find_engagement
    from app.store import session
    from app.terminal import console as make_console

    with session() as db:
        engagement_id = find_engagement(db, args.engagement).id or 0
    out: dict[str, Any] = {}
    console = make_console()
    if args.inventory:
        from app.changes import check_inventory

        checks = check_inventory(engagement_id, actor=args.by)
        out["inventory"] = [c.to_json() for c in checks]
        if not args.json:
            _print_inventory(console, checks)
    if args.probe:
        from app.changes import probe_engagement

        probes = probe_engagement(engagement_id, actor=args.by)
        out["probes"] = [{"system": p.system, "model_id": p.model_id, "system_fingerprint": p.system_fingerprint,
                          "behaviour_fingerprint": p.behaviour_fingerprint, "error": p.error} for p in probes]
        if not args.json:
            _print_probes(console, probes)
    with session() as db:
        if args.questions:
            from app.questions import answer_questions

            answers = answer_questions(db, engagement_id)
            out["questions"] = [a.to_json() for a in answers]
        else:
            from app.monitoring import monitoring

            picture = monitoring(db, engagement_id)
            out["monitoring"] = picture.to_json()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    elif args.questions:
        _print_answers(console, answers)
    else:
        _print_monitoring(console, picture)
    return 0


def _line(console: Any, text: str, style: str = "") -> None:
    from rich.text import Text

    from app.text import for_terminal

    console.print(Text(for_terminal(text), style=style), soft_wrap=True)


def _print_inventory(console: Any, checks: list[Any]) -> None:
    for c in checks:
        if c.error:
            _line(console, f"inventory {c.system}: the model listing failed ({c.error})", "yellow")
        elif not c.undocumented:
            _line(console, f"inventory {c.system}: every listed model is documented ({', '.join(c.listed)})", "green")
        else:
            new = f"; proposed draft finding(s) {', '.join(f'#{i}' for i in c.created)}" if c.created else ""
            _line(console, f"inventory {c.system}: undocumented model(s) {', '.join(c.undocumented)}{new} "
                           f"(findings {', '.join(f'#{i}' for i in c.finding_ids)})", "bold red")


def _print_probes(console: Any, probes: list[Any]) -> None:
    for p in probes:
        if p.error:
            _line(console, f"probe {p.system}: incomplete ({p.error})", "yellow")
        else:
            _line(console, f"probe {p.system}: model {p.model_id or '?'}, fingerprint {p.system_fingerprint or '–'}, "
                           f"behaviour {p.behaviour_fingerprint[:12]}")


def _print_monitoring(console: Any, picture: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    from app.evidence.wording import AUDIT_TYPE_LABELS
    from app.monitoring import LEGEND
    from app.text import one_line

    styles = {"pass": "green", "fail": "bold red", "remediated": "cyan", "review": "yellow", "error": "magenta"}
    period = (f"{picture.period_start} to {picture.period_end}" if picture.period_start else "no period set")
    kind = AUDIT_TYPE_LABELS.get(picture.audit_type, picture.audit_type)
    _line(console, f"Monitoring · {picture.engagement} · {kind} · {period} · as of {picture.today}", "bold")
    for w in picture.windows:
        dates = f"{w.start} to {w.end}" if w.start else "no window's sample"
        _line(console, f"  {w.name:<10} {dates:<26} {w.note}",
              "bold red" if w.status in ("overdue", "missed", "flagged") else "")
    if not picture.criteria:
        _line(console, "No criterion is mapped or tested yet.", "dim")
    else:
        table = Table(show_edge=False, pad_edge=False, box=None)
        table.add_column("criterion", no_wrap=True)
        for w in picture.windows:
            table.add_column(Text(one_line(w.name, 8)), justify="center", no_wrap=True)
        table.add_column("trend", no_wrap=True)
        for row in picture.criteria:
            cells = [Text(c.mark + (f"{c.tested}/{c.total}" if c.tested else ""), style=styles.get(c.state, "dim"))
                     for c in row.cells]
            label = Text(one_line(row.criterion, 12), style="bold" if row.in_matrix else "")
            table.add_row(label, *cells, Text(row.trend))
        console.print(table)
        _line(console, LEGEND, "dim")
    if picture.spread.get("months"):
        _line(console, f"Runs per month: {picture.spread_strip()}  {picture.spread.get('note', '')}")
    flags = picture.flags()
    _line(console, "Flags:" if flags else "Flags: none", "bold")
    for flag in flags:
        _line(console, f"  ! {flag}", "red")


def _print_answers(console: Any, answers: list[Any]) -> None:
    for a in answers:
        _line(console, a.question, "bold")
        style = {"no evidence": "dim", "exceptions open": "red", "remediated": "cyan", "no exceptions": "green"}
        for i, line in enumerate(a.lines()):
            _line(console, f"  {line}", style.get(a.status, "") if i == 0 else "")
        console.print()
