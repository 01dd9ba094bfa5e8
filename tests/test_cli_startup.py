"""Start-up does only what the command needs: ``--version`` builds no parser, a command loads only its module."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from app.cli import COMMANDS, build_parser, command_of

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code`` (which may exit)."""
    probe = ("import atexit, json, sys\n"
             "atexit.register(lambda: print('MODULES' + json.dumps(sorted(sys.modules)), file=sys.stderr))\n" + code)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES"))
    return json.loads(line[len("MODULES"):])


def test_version_is_answered_before_any_parser_or_command_module() -> None:
    modules = loaded_after("from app.cli import main\nprint(main(['--version']))")
    assert not [m for m in modules if m.startswith("app.commands")]
    assert "argparse" not in modules and "pydantic" not in modules and "sqlmodel" not in modules


def test_a_command_loads_its_own_module_only() -> None:
    modules = loaded_after("from app.cli import main\ntry:\n    main(['--home', '/nonexistent', 'verify', '--help'])\n"
                           "except SystemExit:\n    pass")
    assert [m for m in modules if m.startswith("app.commands.")] == ["app.commands.verify"]


def test_the_help_table_names_every_command_as_its_module_registers_it() -> None:
    """``--help`` lists commands from COMMANDS without loading them: the table must say what the modules say."""
    parser = build_parser("*")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: help_text for name, (_, help_text) in COMMANDS.items()}
    assert list(sub.choices) == list(COMMANDS)
    light = build_parser(None)
    assert light.format_help() == parser.format_help()


def test_the_command_is_found_past_top_level_options() -> None:
    assert command_of(["--home", "runs", "export", "x"]) == "export"
    assert command_of(["--demo"]) is None
    assert command_of(["-h"]) is None
    assert command_of(["--home=/x", "runs", "acme"]) == "runs"


def test_every_command_module_has_a_row_in_the_table() -> None:
    """A module under app/commands that the table does not name would silently vanish from the CLI."""
    modules = {p.stem for p in (ROOT / "app" / "commands").glob("*.py") if p.stem != "__init__"}
    assert modules == {module for module, _ in COMMANDS.values()}
