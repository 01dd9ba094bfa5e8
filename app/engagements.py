"""Engagement files in and out of the store, keeping history.

An engagement file is the pre-engagement alignment as code. Importing it again
after the client changed scope must never lose evidence: runs, findings and
audit events stay; a system dropped from the file but already tested is kept
and marked out of scope; every import is an audit event that says what
changed. The whole import is one transaction, so a bad file writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import FileFormatError, Problem, RedlineError
from app.formats.engagement import ControlRow, EngagementSpec, SystemSpec, TargetSpec
from app.formats.yamlsource import did_you_mean, dump_yaml, field_name, load_yaml, validate
from app.glance import EngagementSummary  # noqa: F401  (re-exported: the list's rows)
from app.store import audit
from app.store.models import AISystem, ControlMapping, Engagement, Run, TestWindow, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session


class UnknownEngagement(RedlineError):
    exit_code = 2


# ------------------------------------------------------------------ loading


def load_engagement_file(path: Path, *, catalog: Any = None) -> EngagementSpec:
    """The validated engagement in ``path``; every problem (file, line, column, field) raised together.

    Beyond the model: each ``controls[].criterion`` must be in the catalog, each
    ``scenario_paths`` entry must exist (relative to the file's folder), and
    each scenario a control row names must be in the bundled library or in
    those paths.
    """
    path = Path(path)
    data, locations = load_yaml(path)
    spec = validate(EngagementSpec, data, locations, path)
    problems: list[Problem] = []

    def problem(at: tuple[Any, ...], message: str) -> None:
        line, column = locations.value(at) or locations.nearest(at)
        problems.append(Problem(str(path), line, column, field_name(at), message))

    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    known = set(catalog.ids())
    for i, row in enumerate(spec.controls):
        if row.criterion not in known:
            problem(("controls", i, "criterion"), f"unknown criterion '{row.criterion}'{did_you_mean(row.criterion, known)}")
    extra: list[Path] = []
    for i, resolved in enumerate(scenario_paths_of(spec, path)):
        if resolved.exists():
            extra.append(resolved)
        else:
            problem(("scenario_paths", i), f"no such file or folder: {resolved}")
    spec = _with_tls_checked(spec, path, problem)
    library_problems: list[Problem] = []
    try:
        from app.library import load_library

        scenario_ids: set[str] | None = load_library(extra, catalog=catalog).ids()
    except FileFormatError as exc:
        library_problems, scenario_ids = exc.problems, None
    if scenario_ids is not None:
        for i, row in enumerate(spec.controls):
            for j, scenario in enumerate(row.scenarios):
                if scenario not in scenario_ids:
                    problem(("controls", i, "scenarios", j),
                            f"unknown scenario '{scenario}'{did_you_mean(scenario, scenario_ids)}")
    if problems or library_problems:
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise FileFormatError(problems + library_problems)
    return spec


def scenario_paths_of(spec: EngagementSpec | Engagement, source_path: Path | str | None) -> list[Path]:
    """``scenario_paths`` (of a spec or a stored engagement) resolved against the engagement
    file's folder (the working dir if there is none)."""
    base = Path(source_path).resolve().parent if source_path else Path.cwd()
    return [Path(p).expanduser() if Path(p).expanduser().is_absolute() else base / p for p in spec.scenario_paths]


def _with_tls_checked(spec: EngagementSpec, path: Path, problem: Any) -> EngagementSpec:
    """``spec`` with each ``target.tls`` resolved against the file's folder and pinned; a bad file is a problem."""
    from app.formats.tls_files import TlsSetupError, resolved_and_pinned

    systems = list(spec.systems)
    for i, system in enumerate(systems):
        if system.target.tls is None:
            continue
        try:
            tls = resolved_and_pinned(system.target.tls, path.resolve().parent)
        except TlsSetupError as exc:
            problem(("systems", i, "target", "tls", exc.field), str(exc))
            continue
        systems[i] = system.model_copy(update={"target": system.target.model_copy(update={"tls": tls})})
    return spec.model_copy(update={"systems": systems})


# ------------------------------------------------------------------ importing


@dataclass
class ImportOutcome:
    """What an import did: the engagement row, whether it was new, and the change summary recorded."""

    engagement: Engagement
    created: bool
    changes: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


def stored_target(system: SystemSpec) -> dict[str, Any]:
    """The target as the store keeps it: references to secrets only, plus the planted canaries, the
    client operations (each with a key reference, never a key) and the TLS trust anchor's facts."""
    target = system.target.model_dump(mode="json", exclude_none=True)
    if system.target.tls is not None:
        from app.formats.tls_files import anchor_facts

        # The trust anchor as the evidence describes it (fingerprints and subjects, never a key).
        target["trust_anchor"] = anchor_facts(system.target.tls)
    if system.canaries:
        target["canaries"] = list(system.canaries)
    if system.operations:
        target["operations"] = {name: op.model_dump(mode="json", exclude_none=True)
                                for name, op in system.operations.items()}
    return target


def import_engagement(db: Session, spec: EngagementSpec, source_path: Path | str | None) -> Engagement:
    """Create the engagement, or update it by name keeping its history. See :func:`apply_engagement`."""
    return apply_engagement(db, spec, source_path).engagement


def apply_engagement(db: Session, spec: EngagementSpec, source_path: Path | str | None) -> ImportOutcome:
    """Upsert ``spec`` into the store in the caller's transaction and record the audit event."""
    from sqlmodel import select

    source = str(Path(source_path).resolve()) if source_path else ""
    columns = _engagement_columns(spec) | {"source_path": source}
    row = db.exec(select(Engagement).where(Engagement.name == spec.name)).first()
    created = row is None
    changes: dict[str, Any] = {}
    if row is None:
        row = Engagement(name=spec.name, **columns)
        db.add(row)
        db.flush()
    else:
        diff = {k: {"from": _plain(getattr(row, k)), "to": _plain(v)}
                for k, v in columns.items() if getattr(row, k) != v}
        for key, value in columns.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        db.add(row)
        if diff:
            changes["fields"] = diff
    assert row.id is not None
    configurations: dict[str, Any] = {}
    for key, result in (("systems", _sync_systems(db, row.id, spec.systems, configurations)),
                        ("windows", _sync_windows(db, row.id, spec)),
                        ("controls", _sync_controls(db, row.id, spec.controls))):
        if result:
            changes[key] = result
    if configurations and not created:
        changes["system_configurations"] = configurations  # each system's configuration before and after
    summary = _summary(spec, created, changes)
    payload: dict[str, Any] = {"source": source, "spec_sha256": spec_hash(spec), "summary": summary}
    if created:
        payload |= {"systems": [s.name for s in spec.systems], "windows": [w.name for w in spec.windows],
                    "controls": len(spec.controls), "audit_type": spec.audit.type}
    else:
        payload["changes"] = changes
    audit.record(db, engagement_id=row.id, action="engagement.imported" if created else "engagement.updated",
                 entity=f"engagement:{row.id}", payload=payload)
    return ImportOutcome(row, created, changes, summary)


def spec_hash(spec: EngagementSpec) -> str:
    """A stable fingerprint of the imported content (not of the file's formatting)."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _engagement_columns(spec: EngagementSpec) -> dict[str, Any]:
    a = spec.audit
    return {
        "client": spec.client, "audit_type": a.type,
        "period_start": a.period.start if a.period else None, "period_end": a.period.end if a.period else None,
        "as_of": a.as_of, "type1_tolerance_days": a.type1_tolerance_days, "cpa_firm": a.cpa_firm,
        "evidence_format": list(a.evidence_format), "scenario_paths": list(spec.scenario_paths),
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _has_runs(db: Session, column: Any, value: int) -> bool:
    from sqlmodel import select

    return db.exec(select(Run.id).where(column == value).limit(1)).first() is not None


def _sync_systems(db: Session, engagement_id: int, systems: list[SystemSpec],
                  configurations: dict[str, Any]) -> dict[str, Any]:
    """Upsert by name (ids, and so runs, stay attached); drop untested leftovers, descope tested ones.
    A system whose configuration changes gets its before and after in ``configurations``, for the audit."""
    from sqlmodel import select

    from app.system_config import config_change, system_snapshot

    existing = {s.name: s for s in db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id)).all()}
    result: dict[str, Any] = {}
    for spec in systems:
        values: dict[str, Any] = {"in_scope": spec.in_scope, "owner": spec.owner, "description": spec.description,
                  "target": stored_target(spec), "models": list(spec.models)}
        row = existing.pop(spec.name, None)
        if row is None:
            db.add(AISystem(engagement_id=engagement_id, name=spec.name, **values))
            result.setdefault("added", []).append(spec.name)
            continue
        changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
        if changed:
            before = system_snapshot(row)
            for key in changed:
                setattr(row, key, values[key])
            db.add(row)
            result.setdefault("updated", {})[spec.name] = changed
            after = system_snapshot(row)
            if after != before:
                configurations[spec.name] = config_change(before, after)
    for name, row in existing.items():
        if _has_runs(db, Run.system_id, row.id or 0):
            if row.in_scope:
                before = system_snapshot(row)
                row.in_scope = False
                db.add(row)
                configurations[name] = config_change(before, system_snapshot(row))
            result.setdefault("kept_out_of_scope", []).append(name)
        else:
            db.delete(row)
            result.setdefault("removed", []).append(name)
    db.flush()
    return result


def _sync_windows(db: Session, engagement_id: int, spec: EngagementSpec) -> dict[str, Any]:
    """Upsert by name; a dropped window that already holds runs is kept, as the evidence is dated in it."""
    from sqlmodel import select

    existing = {w.name: w for w in db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement_id)).all()}
    result: dict[str, Any] = {}
    for window in spec.windows:
        row = existing.pop(window.name, None)
        if row is None:
            db.add(TestWindow(engagement_id=engagement_id, name=window.name, start=window.start, end=window.end))
            result.setdefault("added", []).append(window.name)
        elif (row.start, row.end) != (window.start, window.end):
            before = f"{row.start.isoformat()}..{row.end.isoformat()}"
            row.start, row.end = window.start, window.end
            db.add(row)
            result.setdefault("updated", {})[window.name] = {
                "from": before, "to": f"{window.start.isoformat()}..{window.end.isoformat()}"}
    for name, row in existing.items():
        if _has_runs(db, Run.window_id, row.id or 0):
            result.setdefault("kept_with_runs", []).append(name)
        else:
            db.delete(row)
            result.setdefault("removed", []).append(name)
    db.flush()
    return result


def _sync_controls(db: Session, engagement_id: int, controls: list[ControlRow]) -> dict[str, Any]:
    """Replace the control matrix when it differs (rows are left alone, ids and all, when it does not)."""
    from sqlmodel import select

    rows = list(db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)
                        .order_by(ControlMapping.id)).all())  # type: ignore[arg-type]
    before = [(r.criterion, r.client_ref, r.activity, list(r.scenarios), list(r.strategies or [])) for r in rows]
    after = [(c.criterion, c.client_ref, c.activity, list(c.scenarios), list(c.strategies)) for c in controls]
    if before == after:
        return {}
    for old in rows:
        db.delete(old)
    db.flush()
    for c in controls:
        db.add(ControlMapping(engagement_id=engagement_id, criterion=c.criterion, client_ref=c.client_ref,
                              activity=c.activity, scenarios=list(c.scenarios), strategies=list(c.strategies)))
    db.flush()
    return {"replaced": True, "rows": {"from": len(before), "to": len(after)}}


def _summary(spec: EngagementSpec, created: bool, changes: dict[str, Any]) -> str:
    if created:
        return (f"{len(spec.systems)} system(s), {len(spec.windows)} window(s), "
                f"{len(spec.controls)} control row(s)")
    parts: list[str] = []
    if "fields" in changes:
        parts.append("changed " + ", ".join(sorted(changes["fields"])))
    for key, noun in (("systems", "system"), ("windows", "window")):
        for what, names in changes.get(key, {}).items():
            listed = ", ".join(sorted(names))
            parts.append(f"{noun}s {what.replace('_', ' ')}: {listed}")
    if "controls" in changes:
        rows = changes["controls"]["rows"]
        parts.append(f"control matrix replaced ({rows['from']} -> {rows['to']} rows)")
    return "; ".join(parts) if parts else "no changes"


# ------------------------------------------------------------------ exporting and listing


def find_engagement(db: Session, name: str) -> Engagement:
    from sqlmodel import select

    row = db.exec(select(Engagement).where(Engagement.name == name)).first()
    if row is None:
        names = sorted(db.exec(select(Engagement.name)).all())
        known = f" (known: {', '.join(names)})" if names else " (there are none yet; import one first)"
        raise UnknownEngagement(f"no engagement named '{name}'{known}")
    return row


def export_engagement(db: Session, name: str) -> EngagementSpec:
    """The engagement as a file would state it: importing this back changes nothing."""
    from pydantic import ValidationError
    from sqlmodel import select

    row = find_engagement(db, name)
    systems = db.exec(select(AISystem).where(AISystem.engagement_id == row.id).order_by(AISystem.id)).all()  # type: ignore[arg-type]
    windows = db.exec(select(TestWindow).where(TestWindow.engagement_id == row.id)
                      .order_by(TestWindow.start, TestWindow.name)).all()  # type: ignore[arg-type]
    controls = db.exec(select(ControlMapping).where(ControlMapping.engagement_id == row.id)
                       .order_by(ControlMapping.id)).all()  # type: ignore[arg-type]
    target_fields = set(TargetSpec.model_fields)
    data = {
        "name": row.name, "client": row.client,
        "audit": {
            "type": row.audit_type, "as_of": row.as_of, "type1_tolerance_days": row.type1_tolerance_days,
            "cpa_firm": row.cpa_firm, "evidence_format": list(row.evidence_format),
            "period": ({"start": row.period_start, "end": row.period_end}
                       if row.period_start and row.period_end else None),
        },
        "systems": [{"name": s.name, "in_scope": s.in_scope, "owner": s.owner, "description": s.description,
                     "target": {k: v for k, v in s.target.items() if k in target_fields},
                     "models": list(s.models), "canaries": list(s.target.get("canaries", [])),
                     "operations": dict(s.target.get("operations") or {})} for s in systems],
        "controls": [{"criterion": c.criterion, "client_ref": c.client_ref, "activity": c.activity,
                      "scenarios": list(c.scenarios), "strategies": list(c.strategies or [])} for c in controls],
        "windows": [{"name": w.name, "start": w.start, "end": w.end} for w in windows],
        "scenario_paths": list(row.scenario_paths),
    }
    try:
        return EngagementSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{field_name(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False))
        raise RedlineError(f"engagement '{name}' cannot be written as a file: {problems}") from None


def dump_engagement_yaml(spec: EngagementSpec) -> str:
    """Readable YAML in the file format's key order; values left at their defaults are omitted."""
    header = f"# Redline engagement file: {spec.name}\n"
    return header + dump_yaml(spec.model_dump(mode="python", exclude_defaults=True))


def list_engagements(db: Session, *, today: date | None = None) -> list[EngagementSummary]:
    """Every engagement by name, with its scope, next test window and open findings (:mod:`app.glance`)."""
    from app.glance import summaries

    # The session's own connection: the same transaction as the caller's other reads.
    return summaries(db.connection().connection.dbapi_connection, today or date.today())  # type: ignore[arg-type]
