"""Detector calibration: each detector's and each judge's precision and recall on labelled responses.

A detector's verdict is evidence only as far as the detector is right. The
shipped set (``assets/calibration/responses.yaml``) holds responses written
for this project, each labelled compliant, refusal, partial, fabrication or
leak, and names the detectors to measure with the labels each should fail.
Precision is the share of a detector's fails that fell on those labels;
recall is the share of those items it failed. An item a detector could not
judge (``error``) counts as not failed, and the count of such items is
reported beside the figures: a judge that cannot answer does not look precise.

Detectors are pure, so their figures are the same on every machine and are
computed again at export. A judge is a model: its figures come from
``redline detectors calibrate --judge SYSTEM`` and are recorded in the
engagement's audit chain (:data:`CALIBRATED_ACTION`), from where the bundle
takes the latest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from app.errors import FileFormatError, Problem

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.formats.scenario import DetectorSpec

LABELS = ("compliant", "refusal", "partial", "fabrication", "leak")
CALIBRATED_ACTION = "detectors.calibrated"
MAX_ITEMS = 1_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelledItem(_Strict):
    id: str = Field(min_length=1, max_length=80)
    label: str
    request: str = Field(min_length=1, max_length=20_000)
    response: str = Field(max_length=100_000)


class CalibratedDetector(_Strict):
    name: str = Field(min_length=1, max_length=80)
    detector: dict[str, Any]
    flags: list[str] = Field(min_length=1)


class CalibrationSet(_Strict):
    version: int
    canaries: list[str] = Field(default_factory=list)
    judge_rubric: str = Field(min_length=1, max_length=4_000)
    calibration: list[CalibratedDetector] = Field(min_length=1)
    items: list[LabelledItem] = Field(min_length=1, max_length=MAX_ITEMS)


@dataclass(frozen=True)
class LoadedSet:
    """A validated labelled set, where it came from and its SHA-256 (the report cites both)."""

    data: CalibrationSet
    path: Path
    sha256: str
    specs: dict[str, DetectorSpec] = field(default_factory=dict)


def default_set_path() -> Path:
    from app.resources import assets_dir

    return assets_dir() / "calibration" / "responses.yaml"


def load_set(path: Path | None = None) -> LoadedSet:
    """The labelled set at ``path`` (default: the shipped one); every problem names file, line and field."""
    from app.detectors import check_detector
    from app.formats.scenario import DetectorSpec
    from app.formats.yamlsource import field_name, load_yaml, read_text, validate

    path = path or default_set_path()
    text = read_text(path)
    data, locations = load_yaml(path)
    loaded = validate(CalibrationSet, data, locations, path)
    problems: list[Problem] = []

    def problem(at: tuple[Any, ...], message: str) -> None:
        line, column = locations.value(at) or locations.nearest(at)
        problems.append(Problem(str(path), line, column, field_name(at), message))

    seen: set[str] = set()
    for i, item in enumerate(loaded.items):
        if item.label not in LABELS:
            problem(("items", i, "label"), f"unknown label '{item.label}' (known: {', '.join(LABELS)})")
        if item.id in seen:
            problem(("items", i, "id"), f"item id '{item.id}' is used twice")
        seen.add(item.id)
    specs: dict[str, DetectorSpec] = {}
    for i, entry in enumerate(loaded.calibration):
        for j, label in enumerate(entry.flags):
            if label not in LABELS:
                problem(("calibration", i, "flags", j), f"unknown label '{label}' (known: {', '.join(LABELS)})")
        if entry.name in specs:
            problem(("calibration", i, "name"), f"detector name '{entry.name}' is used twice")
        try:
            spec = DetectorSpec.model_validate(entry.detector)
            if spec.type == "judge":
                raise ValueError("judges are calibrated with --judge, not listed here")
            check_detector(spec)
            specs[entry.name] = spec
        except ValueError as exc:
            problem(("calibration", i, "detector"), str(exc).splitlines()[0])
    if problems:
        raise FileFormatError(problems)
    return LoadedSet(loaded, path, hashlib.sha256(text.encode("utf-8")).hexdigest(), specs)


def figures(name: str, kind: str, flags: list[str], items: list[LabelledItem],
            outcomes: dict[str, str]) -> dict[str, Any]:
    """Precision, recall and the confusion counts of one detector, from its outcome on each item."""
    tp = fp = fn = tn = errors = 0
    by_label: dict[str, dict[str, int]] = {label: {"items": 0, "failed": 0, "errors": 0} for label in LABELS}
    for item in items:
        outcome = outcomes.get(item.id, "error")
        failed = outcome in ("fail", "review")
        wanted = item.label in flags
        row = by_label[item.label]
        row["items"] += 1
        row["failed"] += failed
        row["errors"] += outcome == "error"
        errors += outcome == "error"
        tp += failed and wanted
        fp += failed and not wanted
        fn += wanted and not failed
        tn += not wanted and not failed
    return {"name": name, "type": kind, "flags": list(flags), "items": len(items), "true_positives": tp,
            "false_positives": fp, "false_negatives": fn, "true_negatives": tn, "errors": errors,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None, "by_label": by_label}


def _observation(loaded: LoadedSet, item: LabelledItem) -> Any:
    from app.detectors import TurnObservation

    return TurnObservation(text=item.response, kind="chat", http_status=200,
                           context={"canaries": list(loaded.data.canaries), "documented_models": [], "recall": []})


def calibrate_detectors(loaded: LoadedSet) -> list[dict[str, Any]]:
    """Every listed detector's figures on the set (pure: no I/O)."""
    from app.detectors import evaluate

    results = []
    for entry in loaded.data.calibration:
        spec = loaded.specs[entry.name]
        outcomes = {item.id: evaluate(spec, _observation(loaded, item)).outcome for item in loaded.data.items}
        results.append(figures(entry.name, spec.type, entry.flags, loaded.data.items, outcomes))
    return results


def report(loaded: LoadedSet, detectors: list[dict[str, Any]], judges: list[dict[str, Any]],
           source: str) -> dict[str, Any]:
    """The calibration report as the CLI prints it and the bundle carries it."""
    from app import __version__

    counts = {label: sum(1 for i in loaded.data.items if i.label == label) for label in LABELS}
    return {"set": {"path": loaded.path.name, "sha256": loaded.sha256, "version": loaded.data.version,
                    "items": len(loaded.data.items), "labels": counts},
            "tool_version": __version__, "source": source, "detectors": detectors, "judges": judges}


def record_calibration(db: Session, engagement_id: int, result: dict[str, Any]) -> None:
    """Put a calibration that measured a judge into the engagement's audit chain."""
    from app.store import audit

    audit.record(db, engagement_id=engagement_id, action=CALIBRATED_ACTION, entity=f"engagement:{engagement_id}",
                 payload=result)


def latest_calibration(db: Session, engagement_id: int) -> tuple[dict[str, Any], int] | None:
    """The last calibration recorded for the engagement and its chain seq, or None."""
    from sqlmodel import select

    from app.store.models import AuditEvent

    event = db.exec(select(AuditEvent).where(AuditEvent.chain == f"engagement:{engagement_id}",
                                             AuditEvent.action == CALIBRATED_ACTION)
                    .order_by(AuditEvent.seq.desc())).first()  # type: ignore[attr-defined]
    return (dict(event.payload), event.seq) if event is not None else None


def for_bundle(db: Session, engagement_id: int) -> dict[str, Any]:
    """What ``calibration/detectors.json`` holds: the detectors measured now (they are pure), and the
    judges from the latest calibration the chain records for this engagement (none when never run)."""
    loaded = load_set()
    current = report(loaded, calibrate_detectors(loaded), [], "computed at export")
    recorded = latest_calibration(db, engagement_id)
    if recorded is not None:
        payload, seq = recorded
        current["judges"] = payload.get("judges") or []
        current["judges_recorded"] = {"audit_seq": seq, "set_sha256": (payload.get("set") or {}).get("sha256"),
                                      "tool_version": payload.get("tool_version")}
    return current


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """``(detector, fails on, precision, recall, tp/fp/fn, errors)`` per detector and judge, for every view."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    rows = []
    for entry in [*result.get("detectors", []), *result.get("judges", [])]:
        rows.append((str(entry["name"]), ", ".join(entry.get("flags", [])), pct(entry.get("precision")),
                     pct(entry.get("recall")),
                     f"{entry['true_positives']}/{entry['false_positives']}/{entry['false_negatives']}",
                     str(entry.get("errors", 0))))
    return rows


def summary_sentence(result: dict[str, Any]) -> str:
    """The report's sentence about the calibration, from the report's own figures."""
    labelled = result.get("set") or {}
    counts = ", ".join(f"{n} {label}" for label, n in (labelled.get("labels") or {}).items())
    text = (f"Each detector below was run over {labelled.get('items', 0)} labelled responses ({counts}; set "
            f"SHA-256 {str(labelled.get('sha256', ''))[:16]}) when this bundle was exported.")
    judges = result.get("judges") or []
    recorded = result.get("judges_recorded") or {}
    if judges:
        names = ", ".join(str(j.get("system")) for j in judges)
        text += (f" Model judges ({names}) were measured by redline detectors calibrate, recorded at audit "
                 f"event {recorded.get('audit_seq')}.")
    else:
        text += " No model judge was calibrated for this engagement."
    return text
