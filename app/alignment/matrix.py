"""Step 2 of the alignment: the client's control matrix, mapped to criteria and to scenarios.

"Each control should have at least one corresponding test": :func:`coverage`
answers that question once, for the wizard, the Controls screen and the
evidence bundle's test plan. Gaps are matrix rows with no runnable scenario,
and catalog AI controls nobody mapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from app.alignment.steps import AlignmentError, get_engagement, touch
from app.store.models import ControlMapping

if TYPE_CHECKING:
    from sqlmodel import Session


def rows_of(db: "Session", engagement_id: int) -> list[ControlMapping]:
    from sqlmodel import select

    return list(db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)
                        .order_by(ControlMapping.id)).all())  # type: ignore[arg-type]


def _check_row(criterion: str, scenarios: Sequence[str], catalog: Any, known: Optional[set[str]]) -> None:
    if catalog is not None and criterion not in catalog.ids():
        raise AlignmentError(f"unknown criterion or control '{criterion}' (not in the catalog)")
    if known is not None:
        missing = [s for s in scenarios if s not in known]
        if missing:
            raise AlignmentError(f"unknown scenario {', '.join(repr(s) for s in missing)}")


def save_row(db: "Session", engagement_id: int, *, criterion: str, client_ref: str = "",
             activity: str = "", scenarios: Sequence[str] = (), row_id: Optional[int] = None,
             catalog: Any = None, known_scenarios: Optional[Iterable[str]] = None) -> ControlMapping:
    """Add a matrix row by hand, or edit ``row_id``. Criterion and scenarios are checked when given
    a catalog / the known scenario ids (the wizard always passes both)."""
    criterion = criterion.strip()
    if not criterion:
        raise AlignmentError("a control matrix row needs a criterion or AI control id")
    scenario_list = list(dict.fromkeys(s.strip() for s in scenarios if s.strip()))
    _check_row(criterion, scenario_list, catalog, set(known_scenarios) if known_scenarios is not None else None)
    engagement = get_engagement(db, engagement_id)
    if row_id is None:
        row, action = ControlMapping(engagement_id=engagement_id, criterion=criterion), "controls.row_added"
    else:
        found = db.get(ControlMapping, row_id)
        if found is None or found.engagement_id != engagement_id:
            raise AlignmentError(f"no control matrix row {row_id} in this engagement")
        row, action = found, "controls.row_updated"
    row.criterion, row.client_ref, row.activity = criterion, client_ref.strip(), activity.strip()
    row.scenarios = scenario_list
    db.add(row)
    db.flush()
    touch(db, engagement, action, {"criterion": criterion, "client_ref": row.client_ref,
                                   "activity": row.activity, "scenarios": scenario_list},
          entity=f"control_mapping:{row.id}")
    return row


def remove_row(db: "Session", engagement_id: int, row_id: int) -> None:
    engagement = get_engagement(db, engagement_id)
    row = db.get(ControlMapping, row_id)
    if row is None or row.engagement_id != engagement_id:
        raise AlignmentError(f"no control matrix row {row_id} in this engagement")
    touch(db, engagement, "controls.row_removed", {"criterion": row.criterion, "client_ref": row.client_ref},
          entity=f"control_mapping:{row.id}")
    db.delete(row)
    db.flush()


def import_matrix(db: "Session", engagement_id: int, path: Path, *, replace: bool = False) -> list[ControlMapping]:
    """Append (or with ``replace``, substitute) the rows of a client's CSV/XLSX matrix.

    The file is fully parsed and checked before anything is written, so a bad
    row leaves the matrix as it was (the error names file, row and column).
    """
    from app.formats.matrix import load_control_matrix

    loaded = load_control_matrix(Path(path))
    engagement = get_engagement(db, engagement_id)
    if replace:
        for old in rows_of(db, engagement_id):
            db.delete(old)
        db.flush()
    added = []
    for spec in loaded:
        row = ControlMapping(engagement_id=engagement_id, criterion=spec.criterion, client_ref=spec.client_ref,
                             activity=spec.activity, scenarios=list(spec.scenarios))
        db.add(row)
        added.append(row)
    db.flush()
    touch(db, engagement, "controls.matrix_imported",
          {"path": str(path), "rows": len(added), "replace": replace,
           "criteria": sorted({r.criterion for r in added})})
    return added


def suggested_scenarios(criterion: str, library: Any) -> list[str]:
    """Bundled scenarios whose declared controls include ``criterion`` (a starting point to edit)."""
    return [loaded.spec.id for loaded in library.for_controls([criterion])]


# --- coverage ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoverageRow:
    """One matrix row and the tests that evidence it."""

    mapping_id: int
    criterion: str
    client_ref: str
    activity: str
    scenarios: tuple[str, ...]  # mapped and runnable
    unknown_scenarios: tuple[str, ...] = ()  # mapped, but no such scenario is loaded

    @property
    def gap(self) -> bool:
        return not self.scenarios


@dataclass(frozen=True)
class Coverage:
    """The control matrix against the tests: which rows are covered and what is missing."""

    rows: tuple[CoverageRow, ...]
    unmapped_ai_controls: tuple[str, ...]  # catalog AI controls with no matrix row
    by_criterion: dict[str, tuple[str, ...]] = field(default_factory=dict)  # criterion -> scenarios

    @property
    def gaps(self) -> tuple[CoverageRow, ...]:
        return tuple(row for row in self.rows if row.gap)

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.unmapped_ai_controls

    def summary(self) -> str:
        covered = len(self.rows) - len(self.gaps)
        text = f"{covered}/{len(self.rows)} rows covered"
        if self.gaps:
            text += f", {len(self.gaps)} without a scenario"
        if self.unmapped_ai_controls:
            shown = self.unmapped_ai_controls[:4]
            more = len(self.unmapped_ai_controls) - len(shown)
            text += f"; {len(self.unmapped_ai_controls)} AI controls not mapped: {', '.join(shown)}"
            text += f" and {more} more" if more else ""
        return text


def coverage(db: "Session", engagement_id: int, *, catalog: Any = None,
             known_scenarios: Optional[Iterable[str]] = None) -> Coverage:
    """Per control matrix row, the scenarios that test it; the gaps; the AI controls left unmapped.

    ``known_scenarios`` defaults to the bundled library plus the engagement's
    ``scenario_paths``: a row mapped only to ids that do not exist is a gap too.
    """
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    known = set(known_scenarios) if known_scenarios is not None else set(_library_ids(db, engagement_id))
    rows: list[CoverageRow] = []
    by_criterion: dict[str, list[str]] = {}
    for mapping in rows_of(db, engagement_id):
        runnable = tuple(s for s in mapping.scenarios if s in known)
        rows.append(CoverageRow(mapping.id or 0, mapping.criterion, mapping.client_ref, mapping.activity,
                                runnable, tuple(s for s in mapping.scenarios if s not in known)))
        merged = by_criterion.setdefault(mapping.criterion, [])
        merged.extend(s for s in runnable if s not in merged)
    mapped = {row.criterion for row in rows}
    unmapped = tuple(c.id for c in _ai_controls(catalog) if c.id not in mapped)
    return Coverage(tuple(rows), unmapped, {k: tuple(v) for k, v in by_criterion.items()})


def _ai_controls(catalog: Any) -> list[Any]:
    controls = getattr(catalog, "controls", None)
    if controls is None:
        return []
    return list(controls.values()) if isinstance(controls, dict) else list(controls)


def engagement_library(db: "Session", engagement_id: int) -> Any:
    """The scenario library this engagement runs from: bundled, plus its ``scenario_paths``
    (resolved as the engagement file resolves them: from the file's folder)."""
    from app.engagements import scenario_paths_of
    from app.library import load_library

    engagement = get_engagement(db, engagement_id)
    # scenario_paths_of reads only ``.scenario_paths``, which the stored row has too.
    paths = scenario_paths_of(engagement, engagement.source_path or None)
    return load_library([p for p in paths if p.exists()])


def _library_ids(db: "Session", engagement_id: int) -> set[str]:
    return set(engagement_library(db, engagement_id).ids())
