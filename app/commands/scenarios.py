"""``redline scenarios``: validate scenario files and list the library.

Scenario text comes from files anyone can edit, so everything printed is a
``rich.text.Text`` made terminal-safe by :mod:`app.text`: never markup.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.errors import FileFormatError
from app.formats.scenario_files import LoadedScenario, load_scenarios, scenario_files
from app.text import for_terminal, one_line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("scenarios", help="validate and list test scenarios",
                                   description="Validate scenario files and list the scenario library.")
    sub = parser.add_subparsers(dest="scenarios_command", metavar="ACTION", required=True)

    check = sub.add_parser("validate", help="check scenario files (default: the bundled library)",
                           description="Check scenario files or folders (searched recursively). Prints every "
                                       "problem as file:line:column; exits 2 if there is any.")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    check.set_defaults(func=run_validate)

    show = sub.add_parser("list", help="list scenarios", description="List the bundled scenarios plus any --path.")
    show.add_argument("--json", action="store_true", help="every field of every scenario, as JSON")
    show.add_argument("--category", metavar="C", help="only this category, e.g. security")
    show.add_argument("--control", metavar="ID", help="only scenarios evidencing this criterion or control")
    show.add_argument("--path", dest="paths", action="append", type=Path, default=[], metavar="P",
                      help="also load scenarios from this file or folder (repeatable)")
    show.set_defaults(func=run_list)


def run_validate(args: argparse.Namespace) -> int:
    from app.resources import scenarios_dir

    paths = list(args.paths) or [scenarios_dir()]
    files = scenario_files(paths)
    try:
        loaded = load_scenarios(files)
    except FileFormatError as exc:
        # A problem list is the output here, not a crash: print it all to stderr and fail.
        import sys

        for problem in exc.problems:
            print(for_terminal(str(problem)), file=sys.stderr)
        count = len(exc.problems)
        print(f"{count} problem{'s' if count != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}",
              file=sys.stderr)
        return 2
    import sys

    for note in (w for s in loaded for w in s.warnings):
        print(for_terminal(f"warning: {note}"), file=sys.stderr)
    print(f"OK: {len(loaded)} scenario{'s' if len(loaded) != 1 else ''} in "
          f"{len(files)} file{'s' if len(files) != 1 else ''}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from app.library import load_library

    library = load_library(args.paths)
    chosen = library.all()
    if args.category:
        chosen = [s for s in chosen if s.spec.category == args.category]
    if args.control:
        chosen = [s for s in chosen if args.control in s.spec.controls]
    if args.json:
        print(json.dumps([scenario_json(s) for s in chosen], indent=2, ensure_ascii=False))
        return 0
    from rich.table import Table
    from rich.text import Text

    from app.terminal import console as make_console

    table = Table(title=f"{len(chosen)} scenario{'s' if len(chosen) != 1 else ''}", title_justify="left")
    # Ids and keys stay whole so they can be copied into an engagement file; the title wraps.
    for name in ("id", "category", "severity", "controls", "methodology"):
        table.add_column(name, overflow="fold")
    table.add_column("title", ratio=1)
    for s in chosen:
        spec = s.spec
        table.add_row(*(Text(one_line(value, 200)) for value in (
            spec.id, spec.category, spec.severity, ", ".join(spec.controls), spec.methodology or "", spec.title)))
    make_console(highlight=False).print(table)
    return 0


def scenario_json(loaded: LoadedScenario) -> dict[str, Any]:
    """Every field of the scenario, plus where it came from, its hash and its step types."""
    data = loaded.spec.model_dump(mode="json")
    data["step_types"] = [step.type for step in loaded.spec.all_steps]
    data["source"] = {"path": str(loaded.path), "line": loaded.line, "sha256": loaded.sha256}
    return data
