"""``redline restore FILE``: check a backup and put it back as the store.

Parsing only; the checks and the copy are :func:`app.store.backup.restore_store`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.text import for_terminal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "restore", help="check a backup (integrity, schema version) and put it back as the store",
        description="Check that FILE is an intact Redline store this version can read, then copy it into the "
                    "store in one step; other processes see the old store or the new one, never a mix. "
                    "Attached files come back from FILE.attachments, checked against their SHA-256, and never "
                    "over a different file already there. "
                    "The restore is recorded in the restored store's audit trail.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="a copy written by `redline backup`")
    parser.add_argument("--force", action="store_true",
                        help="restore even while another process is running a run (it will fail to record it)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.store.backup import copied_files_report, restore_store

    restored = restore_store(args.file, force=args.force)
    print(for_terminal(f"restored {restored.path} (schema {restored.schema_version}, SHA-256 {restored.sha256}): "
                       f"{restored.engagements} engagements, {restored.runs} runs"))
    return copied_files_report(restored)
