"""The bundle's manifest: what is in it, what each file hashes to, and the audit chain's state at export.

Written last, it lists every other file with its size and SHA-256, so that
:mod:`app.evidence.verify` can prove the bundle unaltered. Its export time is
the one place a bundle asks the clock: everything else depends only on the
data. The bundle then adds who exported it, the key that signs it and what
the export changed on purpose (``app.evidence.bundle``); the signature itself
sits beside it in ``manifest.json.sig`` (:mod:`app.evidence.signature`).
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from app import __version__
from app.evidence.archive import Entry
from app.evidence.collect import ChainState

NAME = "manifest.json"
FORMAT = "redline-evidence-bundle"
FORMAT_VERSION = 1
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str, "format_version": int, "tool": dict, "exported_at": str, "engagement": dict,
    "audit_chain": dict, "files": list,
}
REQUIRED_CHAIN: dict[str, type | tuple[type, ...]] = {
    "chain": str, "length": int, "head_hash": str, "ok": bool, "problems": list,
}


def build(*, engagement: dict[str, Any], windows: list[str] | None, chain: ChainState, entries: Iterable[Entry],
          exported_at: datetime, omitted: list[dict[str, str]], counts: dict[str, int],
          data_as_of: str | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": {"name": "redline", "version": __version__, "python": platform.python_version()},
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "data_as_of": data_as_of,
        "engagement": {"id": engagement["id"], "name": engagement["name"], "client": engagement["client"]},
        "windows": windows,
        "audit_chain": {"chain": chain.chain, "length": chain.length, "head_hash": chain.head_hash,
                        "head_seq": chain.head_seq, "ok": chain.ok, "problems": list(chain.problems)},
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in sorted(entries, key=lambda e: e.path)],
        "omitted": omitted,
        "counts": counts,
    }


def problems(data: Any) -> list[str]:
    """Why a parsed manifest cannot be trusted to describe a bundle; empty when its shape is sound."""
    if not isinstance(data, dict):
        return ["manifest.json is not a JSON object"]
    found = [f"manifest.json: field '{key}' is missing or not a {_names(kind)}"
             for key, kind in REQUIRED.items() if not _is(data.get(key), kind)]
    if found:
        return found
    if data["format"] != FORMAT:
        found.append(f"manifest.json: format is {data['format']!r}, not {FORMAT!r}")
    chain = data["audit_chain"]
    found += [f"manifest.json: field 'audit_chain.{key}' is missing or not a {_names(kind)}"
              for key, kind in REQUIRED_CHAIN.items() if not _is(chain.get(key), kind)]
    for index, item in enumerate(data["files"]):
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and _is(item.get("size"), int)
                and isinstance(item.get("sha256"), str) and len(item["sha256"]) == 64):
            found.append(f"manifest.json: files[{index}] needs path, size and a 64-character sha256")
    return found


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return False
    return isinstance(value, kind)


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "object", list: "list", str: "string", int: "integer", bool: "boolean"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
