"""The ``redline`` command: argument parsing only.

Each subcommand lives in ``app/commands/<name>.py`` and exposes
``register(subparsers)``; the work itself is done by the core modules those
commands call. With no subcommand, the cockpit opens.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from app import __version__
from app.errors import RedlineError

# Commands that read the evidence: a crash's leftovers are recovered first (app.startup).
# ``run`` and the cockpit recover on their own, with their own words.
RECOVER_FIRST = ("export", "findings", "monitor", "retest", "runs", "coverage")
COMMANDS = (
    "catalog", "engagement", "scenarios", "run", "findings", "retest",
    "runs", "coverage", "importer", "export", "verify", "keys", "demo_target", "secrets", "monitor", "backup",
    "restore", "detectors", "strategies", "manual", "attach", "schedule", "migrate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redline",
        description="AI red-team engagements that produce SOC 2 evidence. "
        "With no command, opens the cockpit.",
    )
    parser.add_argument("--version", action="version", version=f"redline {__version__}")
    parser.add_argument("--home", metavar="DIR", help="data dir holding the store (default: $REDLINE_HOME or the user data dir)")
    parser.add_argument("--database-url", metavar="URL",
                        help="a shared store, as a SQLAlchemy URL such as postgresql://ana@db.example/redline "
                        "(default: $REDLINE_DATABASE_URL, else the SQLite file in the data dir); the password "
                        "comes from `redline secrets set database` or $REDLINE_KEY_DATABASE")
    parser.add_argument("--demo", action="store_true", help="open the cockpit on the built-in demo engagement")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"app.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.commands.{name}":
                raise
            continue  # not built yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        from app.paths import set_home

        set_home(args.home)
    if args.database_url:
        from app.store.location import set_database_url

        set_database_url(args.database_url)
    try:
        if args.command is None:
            return _open_cockpit(demo=args.demo)
        if args.command in RECOVER_FIRST:
            _prepare_store()
        return int(args.func(args) or 0)
    except RedlineError as exc:
        from app.text import for_terminal

        # Messages quote names, paths and file contents the user (or a hostile file) chose.
        print(f"redline: {for_terminal(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("redline: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `redline ... | head`: the reader has gone, as it is entitled to
        from app.terminal import silence_closed_stdout

        return silence_closed_stdout()
    finally:
        from app.private import take_notices
        from app.store.engine import dispose_all
        from app.text import for_terminal

        dispose_all()
        for notice in take_notices():
            print(f"redline: {for_terminal(notice)}", file=sys.stderr)


def _prepare_store() -> None:
    from app.startup import prepare_store
    from app.text import for_terminal

    for notice in prepare_store():
        print(f"redline: {for_terminal(notice)}", file=sys.stderr)


def _open_cockpit(demo: bool) -> int:
    try:
        from screens.app import run_cockpit
    except ModuleNotFoundError as exc:
        if exc.name not in ("screens", "screens.app"):
            raise
        print("redline: the cockpit is not installed in this build; try `redline catalog`.", file=sys.stderr)
        return 2
    return run_cockpit(demo=demo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
