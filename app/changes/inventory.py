"""Model inventory discovery (AI-GOV-01): what the endpoint serves against what the client documented.

Each undocumented model gets one draft finding, once: running the check again
never duplicates it. The finding names ``gov-model-inventory`` as its
scenario, so a re-test re-runs that scenario against the system.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.changes.probes import in_scope
from app.store import audit
from app.store.models import AISystem, Finding

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.secrets import SecretResolver


INVENTORY_SCENARIO = "gov-model-inventory"  # re-testing an inventory finding re-runs this scenario
INVENTORY_CONTROLS = ("AI-GOV-01", "CC8.1")
UNDOCUMENTED = "undocumented_model"


@dataclass(frozen=True)
class InventoryCheck:
    """One system's model listing against its documented inventory, and the findings it proposed."""

    system_id: int
    system: str
    listed: tuple[str, ...] = ()
    documented: tuple[str, ...] = ()
    undocumented: tuple[str, ...] = ()
    finding_ids: tuple[int, ...] = ()  # one per undocumented model, new or already proposed
    created: tuple[int, ...] = ()  # the ones this check proposed
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def propose_inventory_findings(db: Session, engagement_id: int, system: AISystem, listed: Sequence[str], *,
                               actor: str = "") -> InventoryCheck:
    """Compare a listing with the inventory; one draft finding per undocumented model, never twice."""
    from sqlmodel import select

    from app.detectors.inventory import undocumented_models
    from app.findings import create_finding

    documented = tuple(system.models)
    extra = tuple(undocumented_models(list(listed), [m.lower() for m in documented]))
    existing = {(f.evidence.get("system_id"), f.evidence.get("model")): f.id
                for f in db.exec(select(Finding).where(Finding.engagement_id == engagement_id,
                                                       Finding.scenario_id == INVENTORY_SCENARIO)).all()
                if f.evidence.get("kind") == UNDOCUMENTED}
    ids: list[int] = []
    created: list[int] = []
    severity, impact = _inventory_impact()
    for model in extra:
        known = existing.get((system.id, model))
        if known is None:
            finding = create_finding(
                db, engagement_id=engagement_id, actor=actor,
                title=f"Undocumented model '{model}' is served by {system.name}",
                severity=severity, impact=impact, controls=list(INVENTORY_CONTROLS),
                scenario_id=INVENTORY_SCENARIO, exception_kind="system_description",
                evidence={"kind": UNDOCUMENTED, "model": model, "system_id": system.id, "system": system.name,
                          "listed": list(listed), "documented": list(documented), "quote": model},
                steps_to_reproduce=(f"1. List the models of {system.name}'s endpoint "
                                    f"({system.target.get('base_url') or 'the built-in demo AI system'}).\n"
                                    f"2. Compare with the documented inventory: {', '.join(documented) or '(empty)'}.\n"
                                    f"Observed: '{model}' is listed but not documented."),
                reason=f"inventory check: {system.name} lists '{model}', which the inventory does not document",
            )
            known = finding.id
            created.append(known or 0)
        ids.append(known or 0)
    check = InventoryCheck(system.id or 0, system.name, tuple(listed), documented, extra, tuple(ids), tuple(created))
    audit.record(db, engagement_id=engagement_id, action="inventory.checked", actor=actor,
                 entity=f"system:{system.id}",
                 payload={"listed": list(listed), "documented": list(documented), "undocumented": list(extra),
                          "findings": ids, "created": created})
    return check


def _inventory_impact() -> tuple[str, str]:
    """Severity and report wording for an inventory gap, from the catalog's finding-impact table."""
    from app.catalog import load_catalog

    row = load_catalog().impact_for(INVENTORY_CONTROLS[:1])
    return (row.finding_severity, row.soc2_impact) if row is not None else ("medium", "AI-GOV-01 gap")


async def _listings(systems: Sequence[AISystem], secrets: SecretResolver | None) -> list[tuple[list[str], str]]:
    from app.runner.adapters import Targets

    targets = Targets(secrets)
    try:
        out = []
        for system in systems:
            result = await targets.prepare(system).list_models()
            error = f"{result.error_type}: {result.detail}" if result.error_type else (
                f"HTTP {result.http_status}" if result.http_status and result.http_status >= 400 else "")
            out.append((list(result.models), error))
        return out
    finally:
        await targets.aclose()


def check_inventory(engagement_id: int, *, secrets: SecretResolver | None = None,
                    actor: str = "") -> list[InventoryCheck]:
    """AI-GOV-01 discovery over every in-scope system; a listing that fails proposes nothing."""
    import asyncio

    from app.store import session

    with session() as db:
        systems = list(db.exec(in_scope(engagement_id)).all())
    listings = asyncio.run(_listings(systems, secrets))
    checks = []
    with session() as db:
        for system, (listed, error) in zip(systems, listings, strict=True):
            if error:
                checks.append(InventoryCheck(system.id or 0, system.name, documented=tuple(system.models), error=error))
                continue
            checks.append(propose_inventory_findings(db, engagement_id, db.get(AISystem, system.id) or system,
                                                     listed, actor=actor))
    return checks
