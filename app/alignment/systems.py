"""Step 1 of the alignment: the AI systems inside (or explicitly outside) the SOC 2 scope boundary.

A system's target is validated by the engagement file's own model
(:class:`app.formats.engagement.SystemSpec`), so the wizard and the file accept
exactly the same things, and an API key can only ever be a *reference*
(``{env: VAR}`` or ``{keyring: NAME}``), never the key itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from app.alignment.steps import AlignmentError, get_engagement, touch
from app.store.models import AISystem, Run

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.formats.engagement import SystemSpec

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYRING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Shapes of real keys: refusing them keeps a pasted secret out of the store and the audit chain.
_KEY_SHAPED = re.compile(r"^(sk-|sk_|pk-|xai-|gsk_|AIza|hf_|ghp_|Bearer\s)|^[A-Za-z0-9_\-]{40,}$")


def key_reference(source: str, name: str) -> dict[str, str] | None:
    """``{"env": name}`` or ``{"keyring": name}`` from the wizard's two fields; None for no key.

    The name is where the key lives, not the key: a value that looks like a key
    is refused with a message saying why.
    """
    name = name.strip()
    if source in ("", "none") or not name:
        if source not in ("", "none"):
            raise AlignmentError(f"give the {source} name that holds the API key, or choose 'none'")
        return None
    if _KEY_SHAPED.match(name):
        raise AlignmentError("that looks like an API key itself; store the key in an environment "
                             "variable or the keyring and give only its name here")
    if source == "env":
        if not _ENV_NAME.match(name):
            raise AlignmentError(f"{name!r} is not an environment variable name (letters, digits, '_')")
        return {"env": name}
    if source == "keyring":
        if not _KEYRING_NAME.match(name):
            raise AlignmentError(f"{name!r} is not a keyring entry name (letters, digits, '.', '_', '-')")
        return {"keyring": name}
    raise AlignmentError(f"unknown key source {source!r}; use env, keyring or none")


def system_spec(*, name: str, kind: str, base_url: str = "", model: str = "",
                key: dict[str, str] | None = None, in_scope: bool = True, owner: str = "",
                description: str = "", models: Sequence[str] = (), canaries: Sequence[str] = (),
                extra_target: dict[str, Any] | None = None,
                operations: dict[str, Any] | None = None) -> SystemSpec:
    """Build and validate a system the way an engagement file would; errors become AlignmentError."""
    from pydantic import ValidationError

    from app.formats.engagement import SystemSpec

    target: dict[str, Any] = dict(extra_target or {})
    target["kind"] = kind
    for field, value in (("base_url", base_url.strip()), ("model", model.strip())):
        target.pop(field, None)
        if value:
            target[field] = value
    target.pop("api_key", None)
    target.pop("operations", None)  # a stored target carries them; they are the system's, passed apart
    target.pop("canaries", None)
    target.pop("trust_anchor", None)  # described again from the tls block's files when the system is stored
    if key:
        target["api_key"] = key
    try:
        return SystemSpec.model_validate(dict(name=name.strip(), in_scope=in_scope, owner=owner.strip(),
                                              description=description.strip(), target=target,
                                              models=[m.strip() for m in models if m.strip()],
                                              canaries=[c for c in canaries if c],
                                              operations=dict(operations or {})))
    except ValidationError as exc:
        raise AlignmentError("; ".join(_plain(err) for err in exc.errors())) from None


def _plain(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def systems_of(db: Session, engagement_id: int) -> list[AISystem]:
    from sqlmodel import select

    return list(db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id)
                        .order_by(AISystem.id)).all())  # type: ignore[arg-type]


def save_system(db: Session, engagement_id: int, spec: SystemSpec,
                system_id: int | None = None) -> AISystem:
    """Add a system, or update ``system_id`` (its id, runs and findings stay attached)."""
    engagement = get_engagement(db, engagement_id)
    clash = next((s for s in systems_of(db, engagement_id) if s.name == spec.name and s.id != system_id), None)
    if clash is not None:
        raise AlignmentError(f"this engagement already has a system named '{spec.name}'")
    from app.system_config import config_change, system_snapshot

    before = None
    if system_id is None:
        row = AISystem(engagement_id=engagement_id, name=spec.name)
        action = "system.added"
    else:
        found = db.get(AISystem, system_id)
        if found is None or found.engagement_id != engagement_id:
            raise AlignmentError(f"no system with id {system_id} in this engagement")
        row, action = found, "system.updated"
        before = system_snapshot(row)
    row.name, row.in_scope, row.owner, row.description = spec.name, spec.in_scope, spec.owner, spec.description
    from app.engagements import stored_target

    row.target, row.models = stored_target(spec), list(spec.models)
    db.add(row)
    db.flush()
    touch(db, engagement, action, {"name": row.name, "in_scope": row.in_scope, "kind": spec.target.kind,
                                   "models": row.models, "configuration": config_change(before, system_snapshot(row))},
          entity=f"system:{row.id}")
    return row


def remove_system(db: Session, engagement_id: int, system_id: int) -> AISystem | None:
    """Delete a system that was never tested; one with runs is only taken out of scope (history stays).

    Returns the kept row when it was taken out of scope, None when deleted.
    """
    from sqlmodel import select

    engagement = get_engagement(db, engagement_id)
    row = db.get(AISystem, system_id)
    if row is None or row.engagement_id != engagement_id:
        raise AlignmentError(f"no system with id {system_id} in this engagement")
    tested = db.exec(select(Run.id).where(Run.system_id == system_id).limit(1)).first() is not None
    if tested:
        from app.system_config import config_change, system_snapshot

        before = system_snapshot(row)
        row.in_scope = False
        db.add(row)
        touch(db, engagement, "system.descoped", {"name": row.name, "reason": "removed in the wizard; has runs",
                                                  "configuration": config_change(before, system_snapshot(row))},
              entity=f"system:{row.id}")
        return row
    touch(db, engagement, "system.removed", {"name": row.name}, entity=f"system:{row.id}")
    db.delete(row)
    db.flush()
    return None


def target_spec_of(system: AISystem) -> Any:
    """The stored target as a validated :class:`TargetSpec` (extra bookkeeping keys dropped)."""
    from app.formats.engagement import TargetSpec

    fields = set(TargetSpec.model_fields)
    return TargetSpec.model_validate({k: v for k, v in system.target.items() if k in fields})


def parse_operations(text: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wizard's one-line form of a system's operations: ``name=METHOD URL [env:VAR|keyring:NAME|none]``,
    separated by ``;``. Without a key part the operation uses the system's own key (on its own host only).

    What the line cannot say (a body template, another auth header, a description) is kept from the
    operation of the same name in ``existing``. Errors name the entry; nothing is half-parsed.
    """
    found: dict[str, Any] = {}
    for number, entry in enumerate((e.strip() for e in text.split(";")), start=1):
        if not entry:
            continue
        name, equals, rest = entry.partition("=")
        parts = rest.split()
        if not equals or len(parts) not in (2, 3):
            raise AlignmentError(f"operation {number} ({entry!r}): write name=METHOD URL, then optionally "
                                 "env:VAR, keyring:NAME or none")
        method, url = parts[0].upper(), parts[1]
        operation: dict[str, Any] = {k: v for k, v in dict((existing or {}).get(name.strip(), {})).items()
                                     if k in ("body", "auth_header", "description")}
        operation.update(method=method, url=url)
        if len(parts) == 3:
            source, _, ref = parts[2].partition(":")
            if source == "none" and not ref:
                operation["auth"] = "none"
            else:
                reference = key_reference(source, ref)
                if reference is None:
                    raise AlignmentError(f"operation {number} ({name.strip()}): give the key as env:VAR, "
                                         "keyring:NAME or none")
                operation["auth"] = reference
        found[name.strip()] = operation
    return found


def operations_text(operations: dict[str, Any]) -> str:
    """A system's stored operations in the wizard's one-line form (:func:`parse_operations` reads it back)."""
    entries = []
    for name, operation in operations.items():
        auth = operation.get("auth", "target")
        key = "" if auth == "target" else " none" if auth == "none" else \
            f" env:{auth['env']}" if auth.get("env") else f" keyring:{auth.get('keyring')}"
        entries.append(f"{name}={operation.get('method', 'GET')} {operation.get('url', '')}{key}")
    return "; ".join(entries)
