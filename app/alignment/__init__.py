"""The pre-engagement alignment: what the cockpit's wizard does, as plain functions.

The seed's four alignment steps, each saved as it is completed and recorded in
the audit chain: identify the in-scope AI systems (:mod:`.systems`), map the
client's controls to tests (:mod:`.matrix`, with :func:`coverage`), coordinate
timing with the auditors (:mod:`.steps` and :mod:`.windows`), and agree the
evidence format. :func:`control_status` is the per-criterion result picture.
No UI code lives here; the CLI, the cockpit and the evidence bundle share it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.alignment.connection import ConnectionReport, check_connection, record_connection_check, undocumented_models
from app.alignment.matrix import (
    Coverage,
    CoverageRow,
    coverage,
    engagement_library,
    import_matrix,
    remove_row,
    rows_of,
    save_row,
    suggested_scenarios,
)
from app.alignment.status import NOT_TESTED, ControlStatus, CriterionStatus, WindowResult, control_status, worst
from app.alignment.steps import (
    STEP_TITLES,
    STEPS,
    AlignmentError,
    check_new_engagement_name,
    complete_step,
    create_engagement,
    find_engagement,
    get_engagement,
    is_aligned,
    next_step,
    set_evidence,
    set_type1,
    set_type2,
    step_problems,
    steps_done,
    touch,
    windows_of,
)
from app.alignment.systems import key_reference, remove_system, save_system, system_spec, systems_of, target_spec_of
from app.alignment.windows import (
    WindowPlan,
    calendar_year,
    next_window_label,
    period_label,
    suggest_windows,
    window_at,
    window_countdown,
    window_problems,
)

if TYPE_CHECKING:
    from sqlmodel import Session

__all__ = [
    "AlignmentError", "ConnectionReport", "ControlStatus", "Coverage", "CoverageRow", "CriterionStatus",
    "NOT_TESTED", "STEPS", "STEP_TITLES", "WindowPlan", "WindowResult", "calendar_year", "check_connection",
    "complete_step", "control_status", "coverage", "create_engagement", "engagement_library", "find_engagement",
    "get_engagement", "import_matrix", "is_aligned", "key_reference", "next_step", "next_window_label",
    "period_label", "record_connection_check", "remove_row", "remove_system", "rows_of", "save_row",
    "save_system", "set_evidence", "set_type1", "set_type2", "step_problems", "steps_done",
    "check_new_engagement_name", "suggest_windows", "suggested_scenarios", "system_spec", "systems_of",
    "target_spec_of", "touch", "undocumented_models", "window_at", "window_countdown", "window_problems", "windows_of", "worst", "write_engagement_file",
]


def write_engagement_file(db: Session, engagement_id: int, path: Path) -> Path:
    """Export the aligned engagement as an engagement file (the same format ``redline engagement import`` reads)."""
    from app.engagements import dump_engagement_yaml, export_engagement

    engagement = get_engagement(db, engagement_id)
    text = dump_engagement_yaml(export_engagement(db, engagement.name))
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / f"{engagement.name}.yaml"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AlignmentError(f"cannot write {path}: {exc.strerror or exc}") from None
    touch(db, engagement, "engagement.exported", {"path": str(path)})
    return path
