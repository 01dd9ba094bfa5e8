"""``redline keys show | export-public FILE | rotate``: the tester's bundle-signing key.

Parsing only; the keys are kept by :mod:`app.evidence.keys`. Nothing here
prints or writes the private key: only public keys and fingerprints, which the
tester hands to the auditor out of band.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys", help="your evidence-signing key: show, export the public key, rotate",
        description="Each tester signs exported bundles with an Ed25519 key (an SSH signature an auditor checks "
                    "with `ssh-keygen -Y verify`). The key is created by `redline export --sign` or "
                    "`redline keys rotate`; its private half stays in the OS keyring, or in an owner-only file "
                    "where there is no keyring.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("show", help="print your public keys and their fingerprints")
    export = actions.add_parser("export-public", help="write your public key as an OpenSSH public key file")
    export.add_argument("file", type=Path, metavar="FILE")
    export.add_argument("--all", action="store_true", help="every key you have signed with, retired ones too")
    actions.add_parser("rotate", help="make a new key; the old public key is kept so old bundles still verify")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.evidence import keys
    from app.evidence.keys import SigningKeyError

    name = keys.tester()
    if args.action == "rotate":
        old, created = keys.rotate(name)
        if old is not None:
            print(f"retired key {old.fingerprint} (its public key is kept: bundles it signed still verify)")
        print(f"new key {created.key.fingerprint} for {for_terminal(name)}: {for_terminal(created.notice)}")
        print(for_terminal(created.key.line))
        return 0
    found = keys.all_public(name)
    if not found:
        raise SigningKeyError(f"{name} has no signing key yet; `redline keys rotate` or `redline export --sign` "
                              "makes one")
    if args.action == "show":
        for key in found:
            state = "retired" if key.retired else "current"
            print(f"{state} {key.fingerprint}")
            print(f"  {for_terminal(key.line)}")
        return 0
    chosen = found if args.all else found[:1]
    if chosen[0].retired and not args.all:
        raise SigningKeyError(f"{name} has no current key; `redline keys rotate` makes one")
    args.file.expanduser().write_text("".join(k.line + "\n" for k in chosen), encoding="utf-8")
    print(f"wrote {len(chosen)} public key(s) to {args.file}: {', '.join(k.fingerprint for k in chosen)}")
    return 0
