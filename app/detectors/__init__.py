"""Detectors: pure functions of a turn. See :mod:`app.detectors.base` for the contract.

The scenario loader calls :func:`check_detector` on every detector spec, so a
typo is reported with its file and line before anything runs. The runner calls
:func:`evaluate_all` on each observed turn and :func:`aggregate` on the run;
export calls the same functions on stored turns.

Context keys the runner supplies in ``TurnObservation.context`` are listed in
:data:`CONTEXT_KEYS`; a family that needs a key that is absent returns
``error`` (it cannot judge), never ``pass``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from app.detectors import canary, endpoint, inventory, judge, literal, pii, refusal, secret, transport
from app.detectors.aggregate import OUTCOMES, aggregate
from app.detectors.base import CannotJudge, DetectorFamily, DetectorResult, TurnObservation

if TYPE_CHECKING:
    from app.formats.scenario import DetectorSpec

__all__ = [
    "CONTEXT_KEYS", "FAMILIES", "OUTCOMES", "DetectorFamily", "DetectorResult", "TurnObservation",
    "aggregate", "applies_to", "check_detector", "detector_warning", "evaluate", "evaluate_all",
]

FAMILIES: dict[str, DetectorFamily] = {
    family.name: family
    for family in sorted(
        [*literal.FAMILIES, canary.FAMILY, endpoint.FAMILY, refusal.FAMILY, pii.FAMILY, secret.FAMILY,
         *transport.FAMILIES, inventory.FAMILY, judge.FAMILY],
        key=lambda f: f.name,
    )
}

CONTEXT_KEYS: dict[str, str] = {
    canary.CANARIES_KEY: "list[str]: the canary tokens planted in the system under test (the engagement's "
                         "'canaries'); read by canary detectors with from_context: true",
    inventory.DOCUMENTED_KEY: "list[str]: the system's documented model ids or patterns (the engagement's "
                              "'models'); read by inventory detectors",
    judge.GRADES_KEY: "dict[str, dict]: each model judge's grade of this turn, keyed by "
                      "app.detectors.judge.grade_key; filled by the runner (app.runner.grading) before "
                      "the detectors run; read by judge detectors",
    literal.RECALL_KEY: "list[str]: text that must not come back in this turn, such as another identity's "
                        "earlier messages or data the user asked to delete; read by recall detectors",
}

# When the expected thing did not happen, the opposite verdict: a detector that flags review on a
# match passes otherwise, since nothing was seen that needs a human.
_OPPOSITE = {"fail": "pass", "pass": "fail", "review": "pass"}


def check_detector(spec: DetectorSpec) -> None:
    """Raise ValueError with a user-facing message when the spec's type or parameters are wrong."""
    family = FAMILIES.get(spec.type)
    if family is None:
        raise ValueError(f"unknown detector type '{spec.type}' (known: {', '.join(FAMILIES)})")
    family.check(spec.params)


def detector_warning(spec: DetectorSpec) -> str | None:
    """A note for the scenario author about a valid spec that may misbehave (today: a regex that may
    backtrack without end), or None."""
    if spec.type == "regex":
        return literal.regex_warning(spec.params)
    return None


def applies_to(spec: DetectorSpec, step_index: int, kind: str) -> bool:
    """Whether the spec judges this step: its ``steps`` list names the step, or it has none and the
    family handles this step type (an inventory detector has nothing to say about a chat turn)."""
    if spec.steps is not None:
        return step_index in spec.steps
    family = FAMILIES.get(spec.type)
    return family is None or not family.kinds or kind in family.kinds


def evaluate(spec: DetectorSpec, obs: TurnObservation) -> DetectorResult:
    """The verdict of one detector on one turn. Never raises for a bad spec or turn: those are ``error``."""
    family = FAMILIES.get(spec.type)
    if family is None:
        return DetectorResult("error", f"unknown detector type '{spec.type}' (known: {', '.join(FAMILIES)})")
    params = spec.params
    try:
        # Cheap, and it keeps a spec stored by an older Redline from crashing a re-evaluation.
        family.check(params)
    except ValueError as exc:
        return DetectorResult("error", str(exc))
    if family.kinds and obs.kind not in family.kinds:
        return DetectorResult("error", f"detector '{family.name}' judges {' or '.join(family.kinds)} steps, "
                                       f"not {obs.kind} steps")
    try:
        found = family.match(params, obs)
        if found is None:
            if obs.error_type and not family.judges_faults:
                return _unanswered(family, obs)
            reason = family.miss(params, obs) if family.miss else f"no match: {family.describe}"
            return DetectorResult(_OPPOSITE[spec.verdict_on_match], reason)
    except CannotJudge as exc:
        return DetectorResult("error", str(exc))
    span, reason = found
    if obs.error_type and not family.judges_faults and spec.verdict_on_match == "pass":
        return _unanswered(family, obs)  # a good sign in a cut-off answer is not a complete answer
    return DetectorResult(spec.verdict_on_match, reason, span)


def _unanswered(family: DetectorFamily, obs: TurnObservation) -> DetectorResult:
    """A text family on a turn that ended in a target fault: the absence of what it looks for in a
    missing or cut-off answer proves nothing, so it cannot judge (what it found there still counts)."""
    return DetectorResult("error", f"the turn ended in a target fault ({obs.error_type}) before a complete "
                                   f"answer: '{family.name}' has no answer to judge")


def evaluate_all(specs: Iterable[DetectorSpec], obs: TurnObservation,
                 step_index: int) -> list[tuple[DetectorSpec, DetectorResult]]:
    """Every applicable detector's verdict on the turn at ``step_index``, in spec order."""
    return [(spec, evaluate(spec, obs)) for spec in specs if applies_to(spec, step_index, obs.kind)]
