"""``redline attach ENGAGEMENT FILE --finding N | --run N | --control REF --note TEXT``: attach evidence.

``--list`` shows the engagement's attachments, each checked against the audit
chain (exit 1 when a file changed after it was attached). Parsing only; the
work is :mod:`app.attachments`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    from app.attachments import DEFAULT_MAX_BYTES, ENV_MAX_BYTES

    parser = subparsers.add_parser(
        "attach", help="attach a file (ticket, log, signed acceptance) as evidence to a finding, run or control",
        description="Copy a file into the store as evidence for one finding, run or control. Its SHA-256, size, "
                    "type (read from the content), who attached it and when enter the audit chain. With --list, "
                    "show the attachments and check each file against the chain.",
    )
    parser.add_argument("engagement", metavar="ENGAGEMENT", help="the engagement's name")
    parser.add_argument("file", type=Path, nargs="?", metavar="FILE", help="the file to attach")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--finding", type=int, metavar="N", help="attach to finding N")
    target.add_argument("--run", type=int, metavar="N", help="attach to run N")
    target.add_argument("--control", metavar="REF", help="attach to a control (catalog id or the client's ref)")
    parser.add_argument("--note", default="", help="what the file shows (required when attaching)")
    parser.add_argument("--by", metavar="NAME", default="", help="who attaches it (default: $REDLINE_TESTER or your login)")
    parser.add_argument("--max-bytes", type=int, metavar="N",
                        help=f"refuse a file larger than N bytes (default ${ENV_MAX_BYTES} or {DEFAULT_MAX_BYTES:,})")
    parser.add_argument("--list", action="store_true", help="list the attachments and check their files")
    parser.add_argument("--json", action="store_true", help="with --list: print JSON")
    parser.set_defaults(func=_attach)


def _attach(args: argparse.Namespace) -> int:
    from rich.text import Text

    from app.attachments import attach, check_attachments
    from app.engagements import find_engagement
    from app.errors import UsageError
    from app.store import session
    from app.terminal import console as make_console
    from app.text import one_line

    if args.list:
        with session() as db:
            engagement = find_engagement(db, args.engagement)
            states = check_attachments(db, engagement.id or 0)
        if args.json:
            print(json.dumps([s.record for s in states], indent=2, ensure_ascii=False))
        else:
            console = make_console()
            if not states:
                console.print(Text(f"No attachments in engagement '{one_line(engagement.name)}'."))
            for s in states:
                r = s.record
                on = (f"finding {r['finding_id']}" if r["finding_id"] else f"run {r['run_id']}" if r["run_id"]
                      else f"control {r['control']}")
                line = Text(f"{r['id']:>4}  {on:<14} {one_line(r['filename'], 40)}  {r['media_type']}  "
                            f"{r['size']:,} B  sha256 {r['sha256'][:16]}  {one_line(r['attached_by'], 20)} "
                            f"{r['attached_at'][:16]}")
                line.append(f"\n      {one_line(r['note'], 100)}", style="dim")
                if s.problem:
                    line.append(f"\n      CHANGED: {one_line(s.problem, 200)}", style="bold red")
                console.print(line)
        return 1 if any(not s.ok for s in states) else 0
    if args.file is None:
        raise UsageError("name the FILE to attach (or use --list)")
    with session() as db:
        engagement = find_engagement(db, args.engagement)
        row = attach(db, engagement.id or 0, args.file, note=args.note, finding_id=args.finding, run_id=args.run,
                     control=args.control, actor=args.by, limit=args.max_bytes)
        on = (f"finding {row.finding_id}" if row.finding_id else f"run {row.run_id}" if row.run_id
              else f"control {row.control}")
        said = (f"attachment {row.id}: {row.filename} → {on} ({row.media_type}, {row.size:,} bytes, "
                f"sha256 {row.sha256})")
    make_console().print(Text(said))
    return 0
