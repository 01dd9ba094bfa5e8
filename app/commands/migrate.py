"""``redline migrate --from URL --to URL [--engagement NAME]``: move engagements between stores.

Parsing only; the copy is :func:`app.store.migrate.migrate`.
"""

from __future__ import annotations

import argparse

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "migrate", help="copy engagements, with their runs, findings and audit chain, to another store",
        description="Copy engagements from one store to another (a laptop's SQLite file to the team's "
                    "PostgreSQL, or back): systems, windows, runs, turns, raw bodies, verdicts, findings and "
                    "the whole audit chain, under the same ids. The copy's chain is verified before it is "
                    "committed. URLs are SQLAlchemy URLs (sqlite:////path/redline.db, "
                    "postgresql://user@host/db); a server's password comes from `redline secrets set database` "
                    "or $REDLINE_KEY_DATABASE.",
    )
    parser.add_argument("--from", dest="source", required=True, metavar="URL", help="the store to copy from")
    parser.add_argument("--to", dest="target", required=True, metavar="URL", help="the store to copy into")
    parser.add_argument("--engagement", dest="engagements", action="append", metavar="NAME",
                        help="copy only this engagement (repeatable; default: every engagement)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.store.location import at
    from app.store.migrate import migrate

    source, target = at(args.source, "--from"), at(args.target, "--to")
    done = migrate(source, target, args.engagements)
    print(for_terminal(f"{source.shown} → {target.shown}: {done.summary()}"))
    return 0
