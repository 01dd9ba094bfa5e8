"""Step 2 of the alignment: the client's control matrix, mapped to criteria and to scenarios.

"Each control should have at least one corresponding test": :func:`coverage`
answers that question once, for the wizard, the Controls screen and the
evidence bundle's test plan. Gaps are matrix rows with no runnable scenario,
and catalog AI controls nobody mapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.alignment.steps import AlignmentError, get_engagement, touch
from app.store.models import ControlMapping

if TYPE_CHECKING:
    from sqlmodel import Session


def rows_of(db: Session, engagement_id: int) -> list[ControlMapping]:
    from sqlmodel import select

    return list(db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)
                        .order_by(ControlMapping.id)).all())  # type: ignore[arg-type]


def _check_row(criterion: str, scenarios: Sequence[str], catalog: Any, known: set[str] | None) -> None:
    if catalog is not None and criterion not in catalog.ids():
        raise AlignmentError(f"unknown criterion or control '{criterion}' (not in the catalog)")
    if known is not None:
        missing = [s for s in scenarios if s not in known]
        if missing:
            raise AlignmentError(f"unknown scenario {', '.join(repr(s) for s in missing)}")


def save_row(db: Session, engagement_id: int, *, criterion: str, client_ref: str = "",
             activity: str = "", scenarios: Sequence[str] = (), row_id: int | None = None,
             catalog: Any = None, known_scenarios: Iterable[str] | None = None) -> ControlMapping:
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


def remove_row(db: Session, engagement_id: int, row_id: int) -> None:
    engagement = get_engagement(db, engagement_id)
    row = db.get(ControlMapping, row_id)
    if row is None or row.engagement_id != engagement_id:
        raise AlignmentError(f"no control matrix row {row_id} in this engagement")
    touch(db, engagement, "controls.row_removed", {"criterion": row.criterion, "client_ref": row.client_ref},
          entity=f"control_mapping:{row.id}")
    db.delete(row)
    db.flush()


def import_matrix(db: Session, engagement_id: int, path: Path, *, replace: bool = False) -> list[ControlMapping]:
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
    scenarios: tuple[str, ...]  # mapped and known (runnable, or planned and waiting on the client)
    unknown_scenarios: tuple[str, ...] = ()  # mapped, but no such scenario is loaded
    # Mapped scenarios no in-scope system can run yet, each with what it needs ("needs the client's ...").
    waiting: tuple[tuple[str, str], ...] = ()

    @property
    def gap(self) -> bool:
        return not self.scenarios

    @property
    def only_planned(self) -> bool:
        """Every mapped scenario waits on the client: the row is planned, not yet testable."""
        return bool(self.scenarios) and len(self.waiting) == len(self.scenarios)


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
        waiting = sorted({s for row in self.rows for s, _ in row.waiting})
        if waiting:
            text += f"; {len(waiting)} scenario(s) planned, waiting on the client's operations"
        if self.unmapped_ai_controls:
            shown = self.unmapped_ai_controls[:4]
            more = len(self.unmapped_ai_controls) - len(shown)
            text += f"; {len(self.unmapped_ai_controls)} AI controls not mapped: {', '.join(shown)}"
            text += f" and {more} more" if more else ""
        return text


def coverage(db: Session, engagement_id: int, *, catalog: Any = None,
             known_scenarios: Iterable[str] | None = None, library: Any = None) -> Coverage:
    """Per control matrix row, the scenarios that test it; the gaps; the AI controls left unmapped.

    ``known_scenarios`` defaults to the bundled library plus the engagement's
    ``scenario_paths``: a row mapped only to ids that do not exist is a gap too.
    Each row also says which of its scenarios wait on a client operation that
    no in-scope system maps (``waiting``), read from ``library`` (by default
    the engagement's, when ``known_scenarios`` is not given).
    """
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    if known_scenarios is None:
        library = library if library is not None else engagement_library(db, engagement_id)
        known = set(library.ids())
    else:
        known = set(known_scenarios)
    waits = _waiting(db, engagement_id, library) if library is not None else {}
    rows: list[CoverageRow] = []
    by_criterion: dict[str, list[str]] = {}
    for mapping in rows_of(db, engagement_id):
        runnable = tuple(s for s in mapping.scenarios if s in known)
        rows.append(CoverageRow(mapping.id or 0, mapping.criterion, mapping.client_ref, mapping.activity,
                                runnable, tuple(s for s in mapping.scenarios if s not in known),
                                tuple((s, waits[s]) for s in runnable if waits.get(s))))
        merged = by_criterion.setdefault(mapping.criterion, [])
        merged.extend(s for s in runnable if s not in merged)
    mapped = {row.criterion for row in rows}
    unmapped = tuple(c.id for c in _ai_controls(catalog) if c.id not in mapped)
    return Coverage(tuple(rows), unmapped, {k: tuple(v) for k, v in by_criterion.items()})


def _waiting(db: Session, engagement_id: int, library: Any) -> dict[str, str]:
    """Scenario id -> "needs the client's ..." for each scenario no in-scope system can run yet."""
    from app.alignment.needs import waiting_on
    from app.alignment.systems import systems_of

    systems = [s for s in systems_of(db, engagement_id) if s.in_scope]
    waits: dict[str, str] = {}
    for loaded in library.all():
        spec = loaded.spec
        if not spec.operations:
            continue
        reasons = [waiting_on(spec, system) for system in systems]
        if not systems or all(reasons):
            waits[spec.id] = reasons[0] if reasons else waiting_on_words(spec)
    return waits


def waiting_on_words(spec: Any) -> str:
    from app.operations import operation_words

    return "needs " + " and ".join(operation_words(n) for n in spec.operations)


def _ai_controls(catalog: Any) -> list[Any]:
    controls = getattr(catalog, "controls", None)
    if controls is None:
        return []
    return list(controls.values()) if isinstance(controls, dict) else list(controls)


def engagement_library(db: Session, engagement_id: int) -> Any:
    """The scenario library this engagement runs from: bundled, plus its ``scenario_paths``
    (resolved as the engagement file resolves them: from the file's folder)."""
    from app.engagements import scenario_paths_of
    from app.library import load_library

    engagement = get_engagement(db, engagement_id)
    # scenario_paths_of reads only ``.scenario_paths``, which the stored row has too.
    paths = scenario_paths_of(engagement, engagement.source_path or None)
    return load_library([p for p in paths if p.exists()])

