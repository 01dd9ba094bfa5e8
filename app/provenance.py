"""What a stored turn and its verdicts say about who wrote the prompt and who judged the answer.

Pure readers of stored records (rows, their views, or the bundle's dicts): the cockpit's triage, the
workpapers and the report all ask the same question, and the export must not reach the runner or the
network to ask it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

AUTHOR = "attacker"  # a turn's ``request.author`` when a model wrote its prompt


def written_by(request: Any) -> str:
    """The attacker system that wrote a stored turn's prompt, or "" when the scenario's own text was sent."""
    if not isinstance(request, dict) or request.get("author") != AUTHOR:
        return ""
    record = request.get("attacker")
    return str(record.get("system") or AUTHOR) if isinstance(record, dict) else AUTHOR


def judge_grades(auto: Iterable[Any]) -> list[dict[str, Any]]:
    """What each model judge said of a turn: detector, its verdict's outcome, the judge's own verdict and
    reason, and the judge prompt's hash. A tester's override keeps these beside it."""
    grades = []
    for v in auto:  # stored Verdict rows, their views, or the bundle's verdict records (dicts)
        fields = v if isinstance(v, dict) else {"detector": v.detector, "outcome": v.outcome, "evidence": v.evidence}
        grade = (fields.get("evidence") or {}).get("judge")
        if isinstance(grade, dict):
            grades.append({"detector": fields.get("detector"), "outcome": fields.get("outcome"),
                           "system": grade.get("system", ""),
                           "verdict": grade.get("verdict", ""), "reason": grade.get("reason", ""),
                           "error": grade.get("error", ""), "prompt_sha256": grade.get("prompt_sha256", "")})
    return grades
