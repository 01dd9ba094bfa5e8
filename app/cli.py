"""The ``redline`` command: argument parsing only.

Each subcommand lives in ``app/commands/<module>.py`` and exposes
``register(subparsers)``; the work itself is done by the core modules those
commands call. With no subcommand, the cockpit opens.

Start-up does only what the command needs: ``--version`` is answered before
any parser is built, and only the module of the command given is imported
(some pull in pydantic or the store). The others appear in ``--help`` from
:data:`COMMANDS`, a table of name, module and help line; a test keeps it equal
to what each module registers.
"""

from __future__ import annotations

import sys

from app import __version__

TYPE_CHECKING = False  # typing itself costs more than all of ``--version``; mypy reads this name as typing's
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

# Commands that read the evidence: a crash's leftovers are recovered first (app.startup).
# ``run`` and the cockpit recover on their own, with their own words.
RECOVER_FIRST = ("export", "findings", "monitor", "retest", "runs", "coverage")
# command name -> (module under app.commands, the help line --help shows), in --help order
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("catalog", "show the SOC 2 for AI control catalog"),
    "engagement": ("engagement", "import, export and list engagements"),
    "scenarios": ("scenarios", "validate and list test scenarios"),
    "run": ("run", "run scenarios against the engagement's AI systems"),
    "findings": ("findings", "list an engagement's findings (and change their status)"),
    "retest": ("retest", "re-test open findings after remediation"),
    "runs": ("runs", "list an engagement's runs: ids, states, verdicts, what can be resumed"),
    "coverage": ("coverage", "an engagement's results by OWASP LLM Top 10 risk and MITRE ATLAS technique"),
    "import": ("importer", "import garak or promptfoo results as runs of an engagement"),
    "export": ("export", "write an engagement's evidence bundle (zip)"),
    "verify": ("verify", "check an evidence bundle has not been altered"),
    "keys": ("keys", "your evidence-signing key: show, export the public key, rotate"),
    "demo-target": ("demo_target", "run the built-in demo AI system (Acme Support) on loopback"),
    "secrets": ("secrets", "store API keys in the keyring; check an engagement's keys"),
    "monitor": ("monitor", "Type II monitoring: results per criterion and window, overdue windows, model changes"),
    "backup": ("backup", "copy the store consistently, even while a run or the cockpit uses it"),
    "restore": ("restore", "check a backup (integrity, schema version) and put it back as the store"),
    "detectors": ("detectors", "measure detectors and model judges"),
    "strategies": ("strategies", "list prompt strategies, or show what one does"),
    "manual": ("manual", "list manual steps awaiting the tester, or record one's outcome"),
    "attach": ("attach", "attach a file (ticket, log, signed acceptance) as evidence to a finding, run or control"),
    "schedule": ("schedule", "print a cron table, systemd timer or GitHub Actions workflow running each test window"),
    "migrate": ("migrate", "copy engagements, with their runs, findings and audit chain, to another store"),
}
# Top-level options that take a value: the word after them is not the command.
_VALUED = ("--home", "--database-url")


def build_parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The argument parser; ``command`` is the one subcommand whose module is loaded and registered in full.

    Every other command is listed by name and help line only. ``"*"`` loads
    them all (for tests and documentation), ``None`` none.
    """
    import argparse
    import importlib

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
    for name, (module_name, help_text) in COMMANDS.items():
        if command not in ("*", name):
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        try:
            module = importlib.import_module(f"app.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.commands.{module_name}":
                raise
            continue  # not built yet
        module.register(sub)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not a top-level option or its value)."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if word in _VALUED:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["--version"]:  # before any parser: nothing else is imported for it
        print(f"redline {__version__}")
        return 0
    from app.errors import RedlineError

    parser = build_parser(command_of(words))
    args = parser.parse_args(words)
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
