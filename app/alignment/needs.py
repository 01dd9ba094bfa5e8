"""What a scenario needs from the system it runs against, so nothing is mapped that cannot be judged.

Some scenarios only mean something when the system record carries a field: the
revoked-key test sends the key the client says it revoked, a ``from_context``
canary detector looks for the canaries planted in that system, and the
inventory detector compares a model listing with the documented models. Mapped
against a system without that field, the run errors ("client_error") or its
detectors cannot judge ("!"), which reads like a broken target. The wizard
asks these functions first, and offers such a scenario with a note saying
what to fill in, instead of mapping it silently.

A scenario that calls a client operation (``operation:<name>``) needs the
system to map that operation. Unlike the fields above, an unmapped operation
never reaches the target: the run is planned as "needs the client's ..." and
stays out of the results (:func:`waiting_on`), since calling a path the client
does not have would only record a broken target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.formats.scenario import ScenarioSpec
    from app.store.models import AISystem

# Each need, and how the tester supplies it (the wizard's system form field; the engagement file key).
NEED_WORDS: dict[str, str] = {
    "revoked_key": "a revoked key (system form: 'Revoked key in'; file: systems[].target.revoked_key)",
    "canaries": "the canaries planted in the system (system form: 'Canaries'; file: systems[].canaries)",
    "models": "the documented models (system form: 'Documented'; file: systems[].models)",
}


OPERATION_NEED = "operation:"


def need_words(need: str) -> str:
    """How the tester supplies ``need`` (a :data:`NEED_WORDS` key or ``operation:<name>``)."""
    if need.startswith(OPERATION_NEED):
        from app.operations import operation_words

        name = need[len(OPERATION_NEED):]
        return (f"{operation_words(name)} (system form: 'Operations'; file: systems[].operations.{name})")
    return NEED_WORDS[need]


def scenario_needs(spec: ScenarioSpec) -> tuple[str, ...]:
    """The system fields ``spec`` cannot run or be judged without: :data:`NEED_WORDS` keys, then
    ``operation:<name>`` for each client operation it calls."""
    needs: list[str] = []
    if any(getattr(step, "auth", "default") == "revoked" for step in spec.all_steps):
        needs.append("revoked_key")
    for detector in spec.detectors:
        params = detector.params
        if detector.type == "canary" and params.get("from_context") and not params.get("tokens"):
            needs.append("canaries")
        if detector.type == "inventory":
            needs.append("models")
    needs.extend(OPERATION_NEED + name for name in spec.operations)
    return tuple(dict.fromkeys(needs))


def system_has(system: AISystem, need: str) -> bool:
    """Whether the stored system record supplies ``need``."""
    target: dict[str, Any] = system.target or {}
    if need.startswith(OPERATION_NEED):
        from app.operations import mapped_operations

        return need[len(OPERATION_NEED):] in mapped_operations(target)
    if need == "revoked_key":
        return bool(target.get("revoked_key"))
    if need == "canaries":
        return bool(target.get("canaries"))
    if need == "models":
        return bool(system.models)
    raise ValueError(f"unknown need {need!r}")


def unmet_needs(spec: ScenarioSpec, systems: Sequence[AISystem]) -> tuple[str, ...]:
    """Needs of ``spec`` that no in-scope system meets (empty: it can run and be judged somewhere)."""
    in_scope = [s for s in systems if s.in_scope]
    return tuple(n for n in scenario_needs(spec) if not any(system_has(s, n) for s in in_scope))


def needs_note(scenario_id: str, needs: Sequence[str]) -> str:
    """One sentence for the tester: which scenario was not mapped and what would let it run."""
    return f"{scenario_id} not mapped: it needs " + "; ".join(need_words(n) for n in needs) + \
        " on an in-scope system"


def waiting_on(spec: ScenarioSpec, system: AISystem) -> str:
    """Why a run of ``spec`` against ``system`` is planned but not run ("" when it can run).

    Only client operations hold a run back: the sentence names each one the
    system does not map, e.g. "needs the client's security alert feed
    (operation 'security_alerts')".
    """
    from app.operations import operation_words

    missing = [name for name in spec.operations if not system_has(system, OPERATION_NEED + name)]
    return ("needs " + " and ".join(operation_words(name) for name in missing)) if missing else ""
