"""``redline verify FILE.zip``: check an evidence bundle against its manifest and audit chain.

Exit 0 when intact, 1 on any problem, 2 when the file cannot be read as a zip.
Parsing only; the checks are :func:`app.evidence.verify.verify_bundle`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.evidence.bounds import VerifyLimits
from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check an evidence bundle has not been altered",
        description="Check every file of an evidence bundle against the SHA-256 in its manifest, look for "
                    "missing and extra files, and re-verify the audit chain. Exit 0 if intact, 1 if not, "
                    "2 if the file is not a readable zip.",
    )
    parser.add_argument("file", type=Path, metavar="FILE.zip", help="the bundle written by `redline export`")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--key", type=Path, metavar="PUBKEY_OR_ALLOWED_SIGNERS",
                        help="the exporter's public key (.pub) or an allowed-signers file: the manifest's signature "
                             "must come from one of its keys")
    defaults = VerifyLimits()
    parser.add_argument("--max-manifest-bytes", type=int, default=defaults.manifest_bytes, metavar="N",
                        help=f"read manifest.json only up to N bytes (default {defaults.manifest_bytes:,})")
    parser.add_argument("--max-audit-line-bytes", type=int, default=defaults.audit_line_bytes, metavar="N",
                        help=f"read each audit event line only up to N bytes (default {defaults.audit_line_bytes:,})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.evidence.signature import trusted_keys
    from app.evidence.verify import verify_bundle

    trusted = trusted_keys(args.key) if args.key is not None else None
    report = verify_bundle(args.file, VerifyLimits(manifest_bytes=args.max_manifest_bytes,
                                                   audit_line_bytes=args.max_audit_line_bytes),
                           trusted_keys=trusted)
    if args.json:
        print(json.dumps({"ok": report.ok, "path": str(report.path), "files_checked": report.files_checked,
                          "problems": report.problems, "notes": report.notes, "signed_by": report.signed_by,
                          "key_checked": report.key_checked}, indent=2, ensure_ascii=True))
    else:
        # Entry names come from the zip, which anyone could have edited: print them inert.
        print(for_terminal(report.summary()))
        for problem in report.problems:
            print(f"  - {for_terminal(problem)}")
        for note in report.notes:
            print(f"  note: {for_terminal(note)}")
    return 0 if report.ok else 1
