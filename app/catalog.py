"""The SOC 2 for AI control catalog: criteria, AI controls, crosswalk and audit tables.

The catalog is data (``assets/catalog/*.yaml``) so an auditor can review it
without reading code, and so a client's own controls can be added in
``$REDLINE_HOME/catalog.d/*.yaml`` or with ``--file``. Every other part asks
the catalog which ids exist, what a criterion means, how it maps to ISO 42001,
the NIST AI RMF and the EU AI Act, and how serious a failure against it is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

# The row types are re-exported: callers import them from app.catalog.
from app.catalog_rows import (  # noqa: F401
    _SEVERITY_RANK,
    BUILTIN,
    SECTIONS,
    TAXONOMIES,
    USER_SECTIONS,
    AIControl,
    AtlasTechnique,
    AuditorQuestion,
    AuditTypeRow,
    BuiltinFile,
    Criterion,
    CrosswalkEntry,
    EvidenceType,
    ExtensionFile,
    FindingImpact,
    MethodologyItem,
    OwaspRisk,
    PreEngagementStep,
    Remediation,
)
from app.errors import FileFormatError, Problem
from app.formats.scenario import CATEGORIES

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.formats.yamlsource import DataPath, LocationIndex


@dataclass(frozen=True)
class Catalog:
    """The whole catalog, built-in plus user extensions, with the lookups other parts need."""

    criteria: tuple[Criterion, ...] = ()
    controls: tuple[AIControl, ...] = ()
    crosswalk: tuple[CrosswalkEntry, ...] = ()
    audit_types: tuple[AuditTypeRow, ...] = ()
    auditor_questions: tuple[AuditorQuestion, ...] = ()
    evidence_types: tuple[EvidenceType, ...] = ()
    pre_engagement: tuple[PreEngagementStep, ...] = ()
    methodology: tuple[MethodologyItem, ...] = ()
    finding_impacts: tuple[FindingImpact, ...] = ()
    remediation: Remediation = Remediation()
    owasp_llm: tuple[OwaspRisk, ...] = ()
    atlas: tuple[AtlasTechnique, ...] = ()
    _by_id: dict[str, Criterion | AIControl] = field(default_factory=dict, init=False, repr=False,
                                                           compare=False)
    _crosswalk: dict[str, CrosswalkEntry] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({row.id: row for row in self.criteria})
        self._by_id.update({row.id: row for row in self.controls})
        self._crosswalk.update({row.criterion: row for row in self.crosswalk})

    def ids(self) -> set[str]:
        """Every criterion and AI control id: what a scenario or finding may cite."""
        return set(self._by_id)

    def get(self, ident: str) -> Criterion | AIControl | None:
        """The criterion or control with this id (case and surrounding spaces ignored)."""
        return self._by_id.get(ident.strip().upper())

    def criteria_for_category(self, category: str) -> tuple[Criterion, ...]:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
        return tuple(c for c in self.criteria if c.category == category)

    def crosswalk_for(self, ident: str) -> dict[str, str] | None:
        """``{"iso42001", "nist_ai_rmf", "eu_ai_act"}`` for a criterion, or None if it has no row."""
        row = self._crosswalk.get(ident.strip().upper())
        return row.mapping() if row else None

    def crosswalks_for(self, idents: Iterable[str]) -> dict[str, dict[str, str]]:
        """The crosswalk rows behind a finding's controls; AI controls count through their criteria."""
        rows = ((ident, self.crosswalk_for(ident)) for ident in self.expand(idents))
        return {ident: mapping for ident, mapping in rows if mapping is not None}

    def expand(self, idents: Iterable[str]) -> list[str]:
        """The ids given (normalised, in order, once each), each AI control followed by its criteria."""
        out: dict[str, None] = {}
        for ident in idents:
            ident = ident.strip().upper()
            row = self._by_id.get(ident)
            out.update(dict.fromkeys((ident, *(row.criteria if isinstance(row, AIControl) else ()))))
        return list(out)

    def taxonomy(self, field_name: str) -> dict[str, OwaspRisk | AtlasTechnique]:
        """The entries of a scenario's ``owasp`` or ``atlas`` taxonomy, by id, in catalog order."""
        section, _ = TAXONOMIES[field_name]
        return {row.id: row for row in getattr(self, section)}

    def methodology_keys(self) -> set[str]:
        return {item.key for item in self.methodology}

    def methodology_item(self, key: str) -> MethodologyItem | None:
        return next((item for item in self.methodology if item.key == key), None)

    def impact_for(self, idents: Iterable[str]) -> FindingImpact | None:
        """The seed impact row that best fits a finding's controls, to pre-fill severity and impact.

        A row naming one of the ids directly beats a row reached only through an
        AI control's related criteria; more matches beat fewer; then the higher
        severity wins (an unreviewed draft should not understate); then seed order.
        None when no row touches the ids: the caller keeps the scenario's own severity.
        """
        wanted = {ident.strip().upper() for ident in idents}
        related = set(self.expand(wanted))
        best: FindingImpact | None = None
        best_score = (0, 0, -1)
        for row in self.finding_impacts:
            criteria = set(row.criteria)
            score = (len(criteria & wanted), len(criteria & related), _SEVERITY_RANK[row.severity])
            if score[1] and score > best_score:
                best, best_score = row, score
        return best

    def to_dict(self, sections: Iterable[str] = SECTIONS) -> dict[str, Any]:
        """Plain data in a stable order (sections as listed, fields as declared), for JSON."""
        out: dict[str, Any] = {}
        for name in sections:
            if name not in SECTIONS:
                raise ValueError(f"unknown catalog section {name!r}")
            value = getattr(self, name)
            out[name] = _plain(value) if isinstance(value, BaseModel) else [_plain(row) for row in value]
        return out


def _plain(row: BaseModel) -> dict[str, Any]:
    """A row as JSON-ready data with ``source`` last, so each entry reads id first."""
    data = row.model_dump(mode="json")
    if "source" in data:
        data["source"] = data.pop("source")
    return data


# ------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Doc:
    """One parsed catalog file, kept with its positions so cross-file problems can be located."""

    path: Path
    locations: LocationIndex
    body: ExtensionFile
    source: str

    def problem(self, at: DataPath, message: str) -> Problem:
        from app.formats.yamlsource import field_name

        line, column = self.locations.value(at) or self.locations.nearest(at)
        return Problem(str(self.path), line, column, field_name(at), message)


def _read(path: Path, model: type[ExtensionFile], source: str) -> _Doc:
    from app.formats.yamlsource import load_yaml, validate

    data, locations = load_yaml(path)
    if not isinstance(data, dict):
        line, column = locations.nearest(())
        sections = ", ".join(SECTIONS if model is BuiltinFile else USER_SECTIONS)
        raise FileFormatError([Problem(str(path), line, column, "",
                                       f"expected a mapping with any of: {sections}")])
    body = validate(model, data, locations, path)
    updated = {name: tuple(row.model_copy(update={"source": source}) for row in getattr(body, name))
               for name in USER_SECTIONS}
    return _Doc(path, locations, body.model_copy(update=updated), source)


def _assemble(docs: list[_Doc]) -> Catalog:
    """Merge parsed files into one catalog, refusing duplicates and dangling references."""
    problems: list[Problem] = []
    merged: dict[str, list[Any]] = {name: [] for name in SECTIONS if name != "remediation"}
    remediation: Remediation | None = None
    seen: dict[tuple[str, str], tuple[_Doc, DataPath]] = {}

    def claim(space: str, ident: str, doc: _Doc, at: DataPath, what: str) -> bool:
        first = seen.get((space, ident))
        if first is None:
            seen[(space, ident)] = (doc, at)
            return True
        other, other_at = first
        line, column = other.locations.value(other_at) or other.locations.nearest(other_at)
        problems.append(doc.problem(at, f"duplicate {what} '{ident}' (already defined at "
                                        f"{other.path}:{line}:{column})"))
        return False

    remediation_doc: _Doc | None = None
    for doc in docs:
        for name in SECTIONS:
            if name == "remediation":
                extra = getattr(doc.body, "remediation", None)
                if extra is not None and remediation is not None:
                    problems.append(doc.problem(("remediation",), "remediation is defined in two files"))
                if remediation is None and extra is not None:
                    remediation, remediation_doc = extra, doc
                continue
            for i, row in enumerate(getattr(doc.body, name, ())):
                if name in ("criteria", "controls"):
                    ok = claim("id", row.id, doc, (name, i, "id"), "id")
                elif name == "crosswalk":
                    ok = claim("crosswalk", row.criterion, doc, (name, i, "criterion"), "crosswalk row for")
                elif name in ("owasp_llm", "atlas"):
                    ok = claim(name, row.id, doc, (name, i, "id"), f"{name} id")
                else:
                    ok = claim(name, row.key, doc, (name, i, "key"), f"{name} key")
                if ok:
                    merged[name].append((doc, i, row))

    criteria_ids = {row.id for _, _, row in merged["criteria"]}
    all_ids = criteria_ids | {row.id for _, _, row in merged["controls"]}
    refs = (("controls", "criteria", criteria_ids, "criterion"),
            ("auditor_questions", "criteria", all_ids, "criterion or control"),
            ("finding_impacts", "criteria", all_ids, "criterion or control"))
    for section, attr, known, what in refs:
        for doc, i, row in merged[section]:
            for j, ref in enumerate(getattr(row, attr)):
                if ref not in known:
                    problems.append(doc.problem((section, i, attr, j), f"unknown {what} '{ref}'"))
    techniques = {row.id for _, _, row in merged["atlas"]}
    for doc, i, row in merged["atlas"]:
        if row.parent is not None and row.parent not in techniques:
            problems.append(doc.problem(("atlas", i, "parent"), f"unknown ATLAS technique '{row.parent}'"))
    impact_keys = {row.key for _, _, row in merged["finding_impacts"]}
    for j, key in enumerate(remediation.immediate_impacts if remediation and remediation_doc else ()):
        if key not in impact_keys and remediation_doc is not None:
            problems.append(remediation_doc.problem(("remediation", "immediate_impacts", j),
                                                    f"unknown finding impact '{key}'"))
    for doc, i, row in merged["crosswalk"]:
        if row.criterion not in criteria_ids:
            problems.append(doc.problem(("crosswalk", i, "criterion"), f"unknown criterion '{row.criterion}'"))
    if problems:
        raise FileFormatError(problems)
    tables = {name: tuple(row for _, _, row in rows) for name, rows in merged.items()}
    return Catalog(**tables, remediation=remediation or Remediation())


def builtin_dir() -> Path:
    from app.resources import assets_dir

    return assets_dir() / "catalog"


@functools.lru_cache(maxsize=1)
def _builtin_docs() -> tuple[_Doc, ...]:
    paths = sorted(builtin_dir().glob("*.yaml"))
    if not paths:
        raise FileFormatError([Problem(str(builtin_dir()), None, None, "", "no catalog files found")])
    return tuple(_read(path, BuiltinFile, BUILTIN) for path in paths)


@functools.lru_cache(maxsize=1)
def _builtin_catalog() -> Catalog:
    return _assemble(list(_builtin_docs()))


def user_catalog_files() -> list[Path]:
    """``$REDLINE_HOME/catalog.d/*.yaml``, looked for without creating the data dir."""
    from app.paths import home_dir

    folder = home_dir(create=False) / "catalog.d"
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def load_catalog(extra: Iterable[Path] = ()) -> Catalog:
    """The built-in catalog plus user files (``extra``, then ``catalog.d``); every problem raised at once."""
    builtin = _builtin_docs()
    paths: dict[Path, Path] = {}
    for path in [*map(Path, extra), *user_catalog_files()]:
        paths.setdefault(path.resolve(), path)
    if not paths:
        return _builtin_catalog()
    docs: list[_Doc] = list(builtin)
    problems: list[Problem] = []
    for path in paths.values():
        try:
            docs.append(_read(path, ExtensionFile, str(path)))
        except FileFormatError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FileFormatError(problems)
    return _assemble(docs)


# ------------------------------------------------------------------ the store


def sync_catalog(db: Session, catalog: Catalog) -> None:
    """Upsert criteria and controls into the store, so it keeps the catalog an engagement was tested against.

    Rows that leave the catalog stay in the store: past findings still cite them.
    A change is recorded once in the global audit chain; an unchanged catalog records nothing.
    """
    from app.store import audit
    from app.store.models import Control as ControlRow
    from app.store.models import Criterion as CriterionRow

    added: list[str] = []
    changed: list[str] = []
    for criterion in catalog.criteria:
        values = criterion.model_dump(exclude={"id"})
        values["crosswalk"] = catalog.crosswalk_for(criterion.id) or {}
        _upsert(db, CriterionRow, criterion.id, values, added, changed)
    for control in catalog.controls:
        values = control.model_dump(exclude={"id"})
        values["criteria"] = list(control.criteria)
        _upsert(db, ControlRow, control.id, values, added, changed)
    if added or changed:
        db.flush()
        audit.record(db, engagement_id=None, action="catalog.synced", entity="catalog",
                     payload={"added": added, "changed": changed})


def _upsert(db: Session, table: Any, ident: str, values: dict[str, Any],
            added: list[str], changed: list[str]) -> None:
    row = db.get(table, ident)
    if row is None:
        db.add(table(id=ident, **values))
        added.append(ident)
        return
    differs = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            differs = True
    if differs:
        db.add(row)
        changed.append(ident)
