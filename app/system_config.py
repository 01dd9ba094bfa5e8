"""The system as tested: a key-free snapshot of an AI system's configuration, and its SHA-256.

An auditor relies on knowing what each test ran against. The engagement's
systems are edited over a period (a demo flipped to hardened, a model
upgraded, a base URL moved), so the current configuration says nothing about
what runs made months ago were tested against. Each run stores this snapshot
when it starts; every engagement edit records the snapshot before and after.

A snapshot never holds a key, nor even a key's reference (which env var or
keyring entry): only whether one is configured. Planted canary tokens are
left out too (only their count is kept), since they must never travel. Client
operations are kept (method, URL) with only whether each has a key of its own.
A ``tls`` block is kept (its files and pinned CA fingerprints) with only whether
the client key has a passphrase, and ``trust_anchor`` says which CA and client
certificate (fingerprint, subject, expiry) the tests relied on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Target fields that name where a secret lives; the snapshot keeps only whether each is set.
_KEY_FIELDS = ("api_key", "revoked_key")
_LEFT_OUT = ("canaries", "operations")


def system_snapshot(system: Any) -> dict[str, Any]:
    """The configuration a test of ``system`` (an AISystem row) runs against, as plain JSON values."""
    target = dict(getattr(system, "target", None) or {})
    config = {k: v for k, v in sorted(target.items()) if k not in _KEY_FIELDS and k not in _LEFT_OUT}
    for key in _KEY_FIELDS:
        config[f"{key}_configured"] = bool(target.get(key))
    config["canaries_planted"] = len(target.get("canaries") or [])
    if target.get("tls"):
        # Which files and which pinned CA; the passphrase's reference is reduced to whether one is set.
        tls = {k: v for k, v in sorted(dict(target["tls"]).items()) if k != "key_passphrase"}
        tls["key_passphrase_configured"] = bool(target["tls"].get("key_passphrase"))
        config["tls"] = tls
    if target.get("operations"):
        from app.operations import operation_snapshot

        config["operations"] = operation_snapshot(target["operations"])
    return {"name": system.name, "in_scope": bool(system.in_scope), "target": config,
            "documented_models": list(getattr(system, "models", None) or [])}


def snapshot_sha256(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the snapshot's canonical JSON (sorted keys, no spaces): equal configurations hash alike."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def snapshot_with_hash(system: Any) -> tuple[dict[str, Any], str]:
    snapshot = system_snapshot(system)
    return snapshot, snapshot_sha256(snapshot)


def config_change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """The before and after of one system's configuration, with their hashes, for an audit event."""
    return {"before": before, "before_sha256": snapshot_sha256(before) if before is not None else None,
            "after": after, "after_sha256": snapshot_sha256(after) if after is not None else None}
