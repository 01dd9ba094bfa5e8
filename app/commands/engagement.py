"""``redline engagement``: import, export and list engagement files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.errors import UsageError
from app.text import for_terminal, one_line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("engagement", help="import, export and list engagements",
                                   description="Engagement files are the pre-engagement alignment as code.")
    sub = parser.add_subparsers(dest="engagement_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import", help="create or update an engagement from its file",
                         description="Create the engagement, or update it by name. History is kept: runs, "
                                     "findings and audit events are never deleted.")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--no-transport-check", dest="transport", action="store_false",
                     help="skip the transport checks (CC6.7) of each in-scope system's URLs (they need the network)")
    imp.set_defaults(func=run_import)

    exp = sub.add_parser("export", help="write an engagement back out as a file")
    exp.add_argument("name", metavar="NAME")
    exp.add_argument("--out", type=Path, metavar="FILE", help="write here instead of to stdout")
    exp.set_defaults(func=run_export)

    lst = sub.add_parser("list", help="list engagements with their period, next window and open findings")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)


def run_import(args: argparse.Namespace) -> int:
    from app.engagements import apply_engagement, load_engagement_file
    from app.store.engine import session

    spec = load_engagement_file(args.file)  # every check before the store is opened
    with session() as db:
        outcome = apply_engagement(db, spec, args.file)
    verb = "Imported" if outcome.created else "Updated"
    print(one_line(f"{verb} engagement '{spec.name}': {outcome.summary}", 400))
    if args.transport:
        import sys

        from app.alignment.connection import check_transport

        with session() as db:
            for line in check_transport(db, outcome.engagement.id or 0):
                print(f"redline: {one_line(line, 400)}", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from app.engagements import dump_engagement_yaml, export_engagement
    from app.store.engine import session

    with session() as db:
        text = dump_engagement_yaml(export_engagement(db, args.name))
    if args.out is None:
        print(text, end="")
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
    print(for_terminal(f"Wrote {args.out}"))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from app.engagements import list_engagements
    from app.store.engine import session

    with session() as db:
        rows = list_engagements(db)
    if args.json:
        print(json.dumps([row.to_json() for row in rows], indent=2, ensure_ascii=False))
        return 0
    from rich.table import Table
    from rich.text import Text

    from app.terminal import console as make_console

    table = Table(title=f"{len(rows)} engagement{'s' if len(rows) != 1 else ''}", title_justify="left")
    for name in ("name", "client", "type", "period", "systems", "next window", "open"):
        table.add_column(name, overflow="fold")
    for row in rows:
        if row.audit_type == "type1":
            period = f"as of {row.as_of.isoformat()}" if row.as_of else ""
        else:
            period = f"{row.period_start} to {row.period_end}" if row.period_start else ""
        window = f"{row.next_window} ({row.next_window_start})" if row.next_window else "-"
        severities = ", ".join(f"{n} {s}" for s, n in sorted(row.open_by_severity.items()))
        opened = f"{row.open_findings} ({severities})" if row.open_findings else "0"
        table.add_row(*(Text(one_line(str(v), 120)) for v in (
            row.name, row.client, "II" if row.audit_type == "type2" else "I", period,
            row.systems_in_scope, window, opened)))
    make_console(highlight=False).print(table)
    return 0
