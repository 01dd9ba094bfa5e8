"""The ``inventory`` family: the endpoint serves models the inventory does not list (AI-GOV-01).

The runner puts the system's documented models (the engagement's ``models``
list) in ``obs.context["documented_models"]``. Entries may be exact ids or
shell-style patterns (``gpt-4o*`` covers dated snapshots); comparison ignores
case. ``allow`` adds ids that are out of scope for this test, such as an
embedding model the inventory covers elsewhere.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from app.detectors.base import CannotJudge, DetectorFamily, TurnObservation
from app.detectors.params import reject_unknown, want_str_list

DOCUMENTED_KEY = "documented_models"


def _check(params: dict[str, Any]) -> None:
    reject_unknown("inventory", params, ("allow",))
    want_str_list("inventory", params, "allow")


def _documented(params: dict[str, Any], obs: TurnObservation) -> list[str]:
    documented = obs.context.get(DOCUMENTED_KEY)
    if documented is None:
        raise CannotJudge(f"no documented inventory to compare with: context['{DOCUMENTED_KEY}'] is not set")
    return [m.lower() for m in [*documented, *(params.get("allow") or [])] if isinstance(m, str)]


def undocumented_models(served: tuple[str, ...] | list[str], documented: list[str]) -> list[str]:
    """Served model ids that match no documented id or pattern, in listing order, once each."""
    found: list[str] = []
    for model in served:
        if model not in found and not any(fnmatchcase(model.lower(), entry) for entry in documented):
            found.append(model)
    return found


def _match(params: dict[str, Any], obs: TurnObservation) -> tuple[tuple[int, int] | None, str] | None:
    if obs.error_type:
        raise CannotJudge(f"the model listing failed ({obs.error_type}): nothing to compare")
    extra = undocumented_models(obs.models, _documented(params, obs))
    if not extra:
        return None
    span = None
    for line_start, line in _lines(obs.text):
        if line.strip() == extra[0]:
            offset = line.index(extra[0])
            span = (line_start + offset, line_start + offset + len(extra[0]))
            break
    count = len(extra)
    named = ", ".join(extra[:10]) + (f" and {count - 10} more" if count > 10 else "")
    return span, f"{count} undocumented model{'s' if count > 1 else ''} served: {named}"


def _lines(text: str) -> list[tuple[int, str]]:
    result, start = [], 0
    for line in text.splitlines(keepends=True):
        result.append((start, line))
        start += len(line)
    return result


def _miss(params: dict[str, Any], obs: TurnObservation) -> str:
    return f"all {len(obs.models)} served models are in the documented inventory"


FAMILY = DetectorFamily(
    name="inventory",
    check=_check,
    match=_match,
    miss=_miss,
    kinds=("list_models",),
    describe=f"a model listing includes models not in context['{DOCUMENTED_KEY}'] (plus 'allow')",
)
