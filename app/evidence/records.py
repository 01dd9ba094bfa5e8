"""Plain records from store rows, and the per-run facts read with one grouped query each.

Everything here turns store rows into dicts of JSON-ready values (ISO
timestamps, lists) that every sink of the bundle shares.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from app.evidence import wording
from app.evidence.dating import DatingRules
from app.evidence.sources import CatalogView, Scrubber

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Engagement


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value.isoformat()


def prompt_of(request: dict[str, Any]) -> str:
    """What the tester's side said in one request: the last user message, else the request body."""
    import json

    body = request.get("body") if isinstance(request, dict) else None
    if isinstance(body, dict):
        for message in reversed(body.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content", "")
                if isinstance(content, list):
                    return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
                return str(content)
        if isinstance(body.get("prompt"), str):
            return body["prompt"]
    if body is None and isinstance(request, dict) and request.get("url"):
        return f"{request.get('method', 'GET')} {request['url']}"
    return json.dumps(body, sort_keys=True, ensure_ascii=False) if body is not None else ""


def retry_note(retry: Any) -> str:
    """One failed attempt before the final one, as a sentence. Two shapes are stored: a retry the
    adapter scheduled (status, wait) and an attempt a resumed run superseded (partial text kept)."""
    if not isinstance(retry, dict):
        return str(retry)
    parts = [f"attempt {retry.get('attempt', '?')}: {retry.get('error_type') or retry.get('status') or 'failed'}"]
    if retry.get("http_status"):
        parts.append(f"HTTP {retry['http_status']}")
    if retry.get("wait_ms") is not None:
        parts.append(f"waited {float(retry['wait_ms']):,.0f} ms")
    if retry.get("superseded"):
        parts.append(f"superseded ({retry['superseded']})")
    detail = retry.get("detail") or retry.get("error") or ""
    if retry.get("partial_text"):
        detail = (detail + "; " if detail else "") + f"partial text kept: {retry['partial_text']}"
    return ", ".join(parts) + (f": {detail}" if detail else "")


def turn_stats(db: Session, engagement_id: int) -> dict[int, dict[str, Any]]:
    """Per run: turns, turns that ended in error, retries, and the error types seen."""
    from sqlalchemy import case, func
    from sqlmodel import col, select

    from app.store.models import Run, Turn

    stats: dict[int, dict[str, Any]] = {}
    query = (select(Turn.run_id, func.count(), func.sum(case((col(Turn.status) == "error", 1), else_=0)),
                    func.sum(func.json_array_length(Turn.retries)))
             .join(Run, col(Run.id) == Turn.run_id).where(Run.engagement_id == engagement_id).group_by(col(Turn.run_id)))
    for run_id, turns, errors, retries in db.exec(query).all():
        stats[run_id] = {"turns": int(turns), "errors": int(errors or 0), "retries": int(retries or 0),
                         "error_types": []}
    kinds = (select(Turn.run_id, Turn.error_type).distinct().join(Run, col(Run.id) == Turn.run_id)
             .where(Run.engagement_id == engagement_id, Turn.error_type != "").order_by(col(Turn.run_id), col(Turn.error_type)))
    for run_id, kind in db.exec(kinds).all():
        stats.setdefault(run_id, {"turns": 0, "errors": 0, "retries": 0, "error_types": []})["error_types"].append(kind)
    return stats


def fail_reasons(db: Session, engagement_id: int, limit: int = 3) -> dict[int, list[str]]:
    """A few distinct reasons per run from its failing verdicts, for the result sentence."""
    from sqlmodel import col, select

    from app.store.models import Run, Verdict

    reasons: dict[int, list[str]] = defaultdict(list)
    query = (select(Verdict.run_id, Verdict.reason).join(Run, col(Run.id) == Verdict.run_id)
             .where(Run.engagement_id == engagement_id, Verdict.outcome == "fail").order_by(col(Verdict.id)))
    for run_id, reason in db.exec(query).all():
        found = reasons[run_id]
        if reason and reason not in found and len(found) < limit:
            found.append(reason)
    return reasons


def verdict_sources(db: Session, engagement_id: int) -> dict[int, dict[str, int]]:
    """Per run: how many automatic and how many human (tester) verdicts it holds.

    The "test performed" sentence says who judged the responses from these
    counts, so it never claims a tester review that the data does not show.
    """
    from sqlalchemy import func
    from sqlmodel import col, select

    from app.store.models import Run, Verdict

    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"auto": 0, "human": 0})
    query = (select(Verdict.run_id, Verdict.source, func.count()).join(Run, col(Run.id) == Verdict.run_id)
             .where(Run.engagement_id == engagement_id).group_by(col(Verdict.run_id), col(Verdict.source)))
    for run_id, source, count in db.exec(query).all():
        counts[run_id]["human" if source == "human" else "auto"] += int(count)
    return dict(counts)


def as_record(model: Any) -> dict[str, Any]:
    return {k: iso(v) if isinstance(v, (date, datetime)) else v for k, v in model.model_dump().items()}


def engagement_record(e: Engagement, rules: DatingRules) -> dict[str, Any]:
    rec = as_record(e)
    rec.pop("wizard", None)
    rec["audit_type_label"] = wording.AUDIT_TYPE_LABELS.get(e.audit_type, e.audit_type)
    rec["dating"] = rules.describe()
    return rec


def system_record(s: Any) -> dict[str, Any]:
    from app.system_config import snapshot_with_hash

    rec = as_record(s)
    rec["kind"] = str(s.target.get("kind", ""))
    rec["config_sha256"] = snapshot_with_hash(s)[1]  # the current configuration; runs carry their own
    if s.target.get("tls"):  # which trust anchor its TLS relies on: fingerprints and subjects, never a key
        rec["trust_anchor"] = dict(s.target.get("trust_anchor") or {})
        rec["trust_anchor_summary"] = wording.trust_anchor(rec["trust_anchor"])
    return rec


def scenario_record(s: Any) -> dict[str, Any]:
    import yaml

    rec = as_record(s)
    rec["sha256_matches"] = hashlib.sha256(s.yaml_text.encode("utf-8")).hexdigest() == s.sha256
    try:
        spec = yaml.safe_load(s.yaml_text) if s.yaml_text else None
    except yaml.YAMLError:
        spec = None
    if isinstance(spec, list):
        spec = next((x for x in spec if isinstance(x, dict) and x.get("id") == s.scenario_id), None)
    spec = spec if isinstance(spec, dict) else {}
    for key in ("methodology", "description", "expected", "rationale", "remediation"):
        value = spec.get(key)
        rec[key] = value if isinstance(value, str) else ""
    for key in ("owasp", "atlas"):  # the attack taxonomies the scenario cites (ids checked when it was loaded)
        value = spec.get(key)
        rec[key] = [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []
    return rec


def mapping_records(db: Session, engagement_id: int, runs: list[dict[str, Any]], catalog: CatalogView,
                     scrub: Scrubber) -> list[dict[str, Any]]:
    from sqlmodel import col, select

    from app.store.models import ControlMapping

    rows = db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)
                   .order_by(col(ControlMapping.id))).all()
    records = []
    for m in rows:
        tested = [r for r in runs if r["scenario_id"] in m.scenarios]
        records.append(scrub.deep({
            "id": m.id, "criterion": m.criterion, "criterion_name": catalog.name(m.criterion),
            "client_ref": m.client_ref, "activity": m.activity, "scenarios": list(m.scenarios),
            "scenarios_run": sorted({r["scenario_id"] for r in tested}), "runs": len(tested),
            "windows_tested": sorted({r["window"] for r in tested if r["window"]}),
        }))
    return records


def occurrence_records(db: Session, findings: list[Any], run_ids: set[int] | None) -> dict[int, list[dict[str, Any]]]:
    """Per finding, the runs that showed its weakness (:mod:`app.occurrences`), limited to ``run_ids`` if given.

    Each record: run, turn, window, started_at and whether it is the run the finding was filed from.
    """
    from app.occurrences import occurrences

    return {finding_id: [o.to_json() for o in seen if run_ids is None or o.run_id in run_ids]
            for finding_id, seen in occurrences(db, findings).items()}
