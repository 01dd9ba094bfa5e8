"""``redline secrets``: put API keys in the OS keyring, and check an engagement's keys can be read.

Values are read with a hidden prompt (or from stdin for scripts) and are never
printed, logged or stored anywhere but the keyring.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import RedlineError
from app.text import one_line

if TYPE_CHECKING:
    from app.formats.engagement import EngagementSpec


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("secrets", help="store API keys in the keyring; check an engagement's keys",
                                   description="Keys live in the OS keyring (service 'redline') or in "
                                               "environment variables; engagement files only name them.")
    sub = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    put = sub.add_parser("set", help="store a key in the keyring under NAME (prompted, not echoed)",
                         description="Store a key for {keyring: NAME} references. Without a keyring "
                                     "backend, set REDLINE_KEY_<NAME> in the environment instead.")
    put.add_argument("name", metavar="NAME")
    put.add_argument("--stdin", action="store_true", help="read the key from the first line of stdin")
    put.set_defaults(func=run_set)

    check = sub.add_parser("check", help="check that every key an engagement references can be read",
                           description="Reads each referenced key without printing it; exit 2 if any is missing.")
    check.add_argument("engagement", metavar="ENGAGEMENT", help="an engagement file, or the name of one in the store")
    check.set_defaults(func=run_check)


def run_set(args: argparse.Namespace) -> int:
    from app.secrets import cannot_store, keyring_problem, store_in_keyring

    problem = keyring_problem()
    if problem is not None:  # say so before asking for a value that could not be kept
        raise cannot_store(args.name, problem)
    store_in_keyring(args.name, _read_value(args))
    print(one_line(f"Stored key '{args.name}' in the keyring (service 'redline')", 200))
    return 0


def _read_value(args: argparse.Namespace) -> str:
    if args.stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        value = getpass.getpass(f"Key for '{args.name}' (input hidden): ")
    if not value:
        raise RedlineError("no key was entered; nothing was stored")
    return value


def run_check(args: argparse.Namespace) -> int:
    from app.secrets import SecretResolver, check_engagement_keys

    spec = _load_spec(args.engagement)
    resolver = SecretResolver()
    rows = check_engagement_keys(spec, resolver)
    if not rows:
        print(one_line(f"Engagement '{spec.name}' references no keys", 200))
        return 0
    missing = 0
    for system, field_name, ref, problem in rows:
        state = "ok" if not problem else f"MISSING: {problem}"
        missing += bool(problem)
        print(one_line(f"{system} {field_name} {ref}: {state}", 400))
    for notice in resolver.notices:
        print(one_line(f"note: {notice}", 400))
    return 2 if missing else 0


def _load_spec(reference: str) -> EngagementSpec:
    """An engagement file (validated like an import), or an engagement already in the store."""
    from app.engagements import export_engagement, load_engagement_file

    path = Path(reference)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise RedlineError(f"no such engagement file: {reference}")
        return load_engagement_file(path)
    from app.store.engine import session

    with session() as db:
        return export_engagement(db, reference)
