"""A bundle's attachments checked against the audit chain that recorded them.

The manifest proves a file is what the exporter shipped; the chain proves it
is what the tester attached. Each ``attachment.added`` event pins the file's
SHA-256 and size at the moment it was attached, so an attachment changed in
the store before export (shipped with ``--allow-broken``), or changed in the
bundle together with a rewritten manifest, still fails here.
"""

from __future__ import annotations

import hashlib
import zipfile
from typing import Any

from app.attachments import ACTION, FOLDER


def check_bundle_attachments(archive: zipfile.ZipFile, names: list[str], events: list[dict[str, Any]],
                             windows: Any) -> list[str]:
    """Problems with the bundle's ``attachments/`` files against the chain's ``attachment.added`` events.

    A recorded attachment missing from a whole-engagement bundle is a problem; from a bundle limited to some
    windows it may rightly be absent (its finding or run is outside them). A file under ``attachments/`` that
    no event records is a problem too.
    """
    problems: list[str] = []
    present = {n for n in names if n.startswith(f"{FOLDER}/")}
    expected: set[str] = set()
    for event in events:
        payload = event.get("payload") if isinstance(event, dict) else None
        if event.get("action") != ACTION or not isinstance(payload, dict):
            continue
        stored, sha, size = payload.get("stored_name"), payload.get("sha256"), payload.get("size")
        if not (isinstance(stored, str) and isinstance(sha, str) and isinstance(size, int)):
            problems.append(f"attachment event #{event.get('seq')} lacks stored_name, sha256 or size")
            continue
        path = f"{FOLDER}/{stored}"
        expected.add(path)
        label = f"attachment {payload.get('attachment')} ({payload.get('filename')})"
        if path not in present:
            if windows is None:
                problems.append(f"{label}: {path} is not in the bundle")
            continue
        digest, got = hashlib.sha256(), 0
        try:
            with archive.open(path) as handle:
                while chunk := handle.read(1 << 16):
                    digest.update(chunk)
                    got += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            problems.append(f"{label}: {path} cannot be read intact ({exc})")
            continue
        if (digest.hexdigest(), got) != (sha, size):
            problems.append(f"{label}: {path} changed after it was attached (SHA-256 {digest.hexdigest()[:16]}…, "
                            f"{got:,} bytes; the audit chain recorded {sha[:16]}…, {size:,} bytes)")
    for path in sorted(present - expected):
        problems.append(f"{path}: no attachment.added event in the audit chain records this file")
    return problems
