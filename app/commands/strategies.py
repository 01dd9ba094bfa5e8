"""``redline strategies``: list the prompt strategies ``redline run --strategy`` can apply, and try one.

Strategy text can come from user files and plugins, so everything printed is
made terminal-safe by :mod:`app.text`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.text import for_terminal, one_line


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("strategies", help="list prompt strategies, or show what one does",
                                   description="Prompt strategies transform each attack message (encode, "
                                               "obfuscate, frame, translate, split across turns). Chain them "
                                               "with '+'. User templates live in <data dir>/strategies/*.yaml.")
    sub = parser.add_subparsers(dest="strategies_command", metavar="ACTION", required=True)
    show = sub.add_parser("list", help="every strategy, its family, whether it can be reversed, where it comes from")
    show.set_defaults(func=run_list)
    apply = sub.add_parser("apply", help="print the messages a strategy chain makes of a text")
    apply.add_argument("chain", metavar="CHAIN", help="e.g. base64, roleplay, base64+roleplay, french+split")
    apply.add_argument("text", metavar="TEXT")
    apply.set_defaults(func=run_apply)


def run_list(args: argparse.Namespace) -> int:
    from app.strategies import catalogue
    from app.strategies.user import plugin_problems

    for strategy in sorted(catalogue().values(), key=lambda s: (s.family, s.name)):
        reversible = "reversible" if (strategy.inverse or strategy.join) else "one-way"
        origin = "" if strategy.origin == "built-in" else f"  [{strategy.origin}]"
        print(for_terminal(f"{strategy.name:<20} {strategy.family:<12} {reversible:<10} "
                           f"{one_line(strategy.summary, 100)}{origin}"))
    for problem in plugin_problems():
        print(for_terminal(f"warning: {problem}"), file=sys.stderr)
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from app.errors import UsageError
    from app.strategies import apply_chain

    try:
        messages = apply_chain(args.chain, args.text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for n, message in enumerate(messages, start=1):
        lead = f"turn {n}: " if len(messages) > 1 else ""
        print(for_terminal(lead + message))
    return 0
