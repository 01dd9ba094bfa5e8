"""One engagement's evidence, read out of the store once, as plain records every sink shares.

Small tables (systems, matrix, windows, scenarios, runs, findings) are loaded
whole; turns and verdicts, which grow with every test, are streamed run by
run in batches. All reads happen inside the caller's session, that is inside
one SQLite read transaction, so every file of a bundle sees the same data.
Every string passes the secret scrubber before any sink sees it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError
from app.evidence import wording
from app.evidence.chain import ChainState, chain_state
from app.evidence.dating import DatingRules, PlacedRun, rules_for, sampling, spread
from app.evidence.records import (
    as_record,
    engagement_record,
    fail_reasons,
    iso,
    mapping_records,
    occurrence_records,
    scenario_record,
    system_record,
    turn_stats,
    verdict_sources,
)
from app.evidence.sources import CatalogView, Scrubber, coverage, model_output, secret_values
from app.evidence.turns import BATCH_RUNS, SharedTurns
from app.findings import OPEN_STATUSES

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.store.models import Engagement



class ExportError(RedlineError):
    """The bundle cannot be made as asked (unknown engagement or window); nothing was written."""


@dataclass
class EvidenceSet(SharedTurns):
    db: Session
    scrub: Scrubber
    engagement: dict[str, Any]
    rules: DatingRules
    selected_windows: list[str] | None
    systems: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    mappings: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    retests: list[dict[str, Any]]
    responses: list[dict[str, Any]]
    chain: ChainState
    data_as_of: datetime | None
    catalog: CatalogView
    coverage: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    spread: dict[str, Any] = field(default_factory=dict)
    methodology: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)  # possible unapproved model changes (CC8.1)
    # Secret-looking values in the exported runs' answers: {"found": {kind: distinct values}, "turns", "kept"}
    secrets_in_output: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)  # detectors' and judges' precision and recall
    attachments: list[dict[str, Any]] = field(default_factory=list)  # attached files (app.attachments), linked
    # The turn records every sink shares (app.evidence.turns); a dataclasses.replace copy shares them too.
    _turns: dict[int, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    _turns_kept: list[int] = field(default_factory=lambda: [0], repr=False)
    _text_changed: set[int] = field(default_factory=set, repr=False)

    @property
    def engagement_id(self) -> int:
        return int(self.engagement["id"])

    def iter_verdicts(self) -> Iterator[dict[str, Any]]:
        from sqlmodel import col, select

        from app.store.models import Verdict

        ids = self.run_ids()
        for start in range(0, len(ids), BATCH_RUNS):
            chunk = ids[start:start + BATCH_RUNS]
            for v in self.db.execute(select(*Verdict.__table__.c).where(  # type: ignore[attr-defined]
                    col(Verdict.run_id).in_(chunk)).order_by(col(Verdict.run_id), col(Verdict.id))):
                yield self.verdict_record(v)

    def iter_audit_events(self, *, as_recorded: bool = False) -> Iterator[dict[str, Any]]:
        """The whole chain in sequence order, exactly the fields its hashes cover.

        ``as_recorded`` is for the chain's own file. An event of hash version 2
        passes the full filter: if that changes its payload, the original's
        digest ships beside the redacted payload (``payload_redacted``), the
        hash still verifies, and the manifest lists the event. An older event's
        hash covers its payload itself, so only known secret values are
        scrubbed from it. The report and the workpapers show every event
        through the full filter.
        """
        from sqlmodel import col, select

        from app.store.audit import payload_digest
        from app.store.models import AuditEvent

        known = self.scrub.secrets_only()
        query = select(AuditEvent).where(AuditEvent.chain == self.chain.chain).order_by(col(AuditEvent.seq))
        for ev in self.db.exec(query).yield_per(500):
            record: dict[str, Any] = {"chain": ev.chain, "seq": ev.seq, "at": iso(ev.at), "actor": ev.actor,
                                      "action": ev.action, "entity": ev.entity, "payload": ev.payload,
                                      "prev_hash": ev.prev_hash, "hash": ev.hash}
            if not as_recorded or (ev.hash_version or 1) >= 2:
                record["payload"] = self.scrub.deep(ev.payload)
            else:
                record["payload"] = known.deep(ev.payload)
            if as_recorded and (ev.hash_version or 1) >= 2:
                record["hash_version"] = ev.hash_version
                if record["payload"] != ev.payload:
                    record["payload_sha256"] = payload_digest(ev.payload)
                    record["payload_redacted"] = True
                    self.scrub.changed_events.add(ev.seq)
            yield record


def find_engagement_id(db: Session, name: str) -> int:
    """The id of the engagement called ``name`` (an id given as digits also works)."""
    from sqlmodel import select

    from app.store.models import Engagement

    found = db.exec(select(Engagement).where(Engagement.name == name)).first()
    if found is None and name.isdigit():
        found = db.get(Engagement, int(name))
    if found is None:
        known = ", ".join(e.name for e in db.exec(select(Engagement).order_by(Engagement.name)).all()) or "none"
        raise ExportError(f"no engagement named '{name}' in the store (known: {known})")
    return int(found.id or 0)


def load_evidence(db: Session, engagement_id: int, windows: Sequence[str] | None = None,
                  redact: Sequence[str] = (), keep_secrets_in_output: bool = False,
                  today: date | None = None) -> EvidenceSet:
    """Everything the bundle needs about one engagement, optionally limited to some test windows.

    ``redact`` names export-time redactions (:mod:`app.evidence.redaction`) every record passes, on top of
    the default one for secret-looking model output, which ``keep_secrets_in_output`` leaves out.
    ``today`` dates the overdue flags; a bundle leaves it to the evidence's own date (``data_as_of``), so the
    same store always exports the same bytes.
    """
    from sqlmodel import col, select

    from app.evidence.redaction import export_filters, filters_for, secret_census
    from app.remediation import plan_of
    from app.store.models import (
        AISystem,
        ControlMapping,
        Engagement,
        Finding,
        ManagementResponse,
        Retest,
        Run,
        Scenario,
        TestWindow,
    )

    engagement = db.get(Engagement, engagement_id)
    if engagement is None:
        raise ExportError(f"no engagement with id {engagement_id}")
    window_rows = list(db.exec(select(TestWindow).where(TestWindow.engagement_id == engagement_id)
                               .order_by(TestWindow.start, TestWindow.name)).all())  # type: ignore[arg-type]
    selected_ids = _selected_windows(engagement, window_rows, windows)
    rules = rules_for(engagement, window_rows)
    systems = list(db.exec(select(AISystem).where(AISystem.engagement_id == engagement_id).order_by(AISystem.name)).all())
    names = export_filters(redact, keep_secrets_in_output)
    scrub = Scrubber(secret_values(s.target for s in systems), filters_for(names), names)
    catalog = CatalogView(db)
    chain = chain_state(db, engagement_id)
    data_as_of = chain.head_at or engagement.updated_at
    today = today or (data_as_of.date() if data_as_of else None) or date.today()

    run_rows = [r for r in db.exec(select(Run).where(Run.engagement_id == engagement_id).order_by(col(Run.id))).all()
                if selected_ids is None or r.window_id in selected_ids]
    scenario_rows = {s.id: s for s in db.exec(select(Scenario).where(Scenario.id.in_(  # type: ignore[union-attr]
        sorted({r.scenario_pk for r in run_rows})))).all()}
    system_by_id = {s.id: s for s in systems}
    window_by_id = {w.id: w for w in window_rows}
    stats_by_run = turn_stats(db, engagement_id)
    reasons_by_run = fail_reasons(db, engagement_id)
    sources_by_run = verdict_sources(db, engagement_id)

    all_findings = list(db.exec(select(Finding).where(Finding.engagement_id == engagement_id).order_by(col(Finding.id))).all())
    run_ids = {r.id for r in run_rows if r.id is not None}
    retest_rows = list(db.exec(select(Retest).join(Finding).where(Finding.engagement_id == engagement_id)
                               .order_by(col(Retest.id))).all())
    seen = occurrence_records(db, all_findings, run_ids if selected_ids is not None else None)
    if selected_ids is not None:
        retest_rows = [rt for rt in retest_rows if rt.run_id in run_ids]
        keep = {f.id for f in all_findings if f.run_id in run_ids or seen.get(f.id or 0)} | {
            rt.finding_id for rt in retest_rows}
        all_findings = [f for f in all_findings if f.id in keep]
    finding_ids = {f.id for f in all_findings if f.id is not None}
    retest_rows = [rt for rt in retest_rows if rt.finding_id in finding_ids]
    response_rows = list(db.exec(select(ManagementResponse).where(
        ManagementResponse.finding_id.in_(sorted(finding_ids)))  # type: ignore[attr-defined]
        .order_by(col(ManagementResponse.finding_id), col(ManagementResponse.id))).all())

    findings_by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    finding_records = []
    regressions: dict[int, list[int]] = defaultdict(list)  # finding id -> the findings that regress it
    for g in all_findings:
        if g.regression_of is not None:
            regressions[g.regression_of].append(g.id or 0)
    for f in all_findings:
        rec = scrub.deep(as_record(f))
        rec["open"] = f.status in OPEN_STATUSES
        rec["exception_type"] = wording.exception_kind(f.exception_kind, engagement.audit_type)
        rec["control_names"] = {c: catalog.name(c) for c in f.controls}
        rec["crosswalk"] = [dict(cross, control=c) for c in f.controls for cross in catalog.crosswalk(c)]
        rec["occurrences"] = seen.get(f.id or 0, [])
        rec["regressions"] = list(regressions.get(f.id or 0, []))
        rec.update(plan_of(f, engagement, today, catalog.catalog).to_json())
        finding_records.append(rec)
        for run_id in dict.fromkeys([f.run_id] + [o["run"] for o in rec["occurrences"]]):
            if run_id is not None:  # every run that showed the weakness names its finding
                findings_by_run[run_id].append(rec)

    runs = []
    placed: list[PlacedRun] = []
    for r in run_rows:
        scen = scenario_rows[r.scenario_pk]
        system = system_by_id.get(r.system_id)
        window = window_by_id.get(r.window_id) if r.window_id is not None else None
        stats = stats_by_run.get(r.id or 0, {})
        rec = scrub.deep({
            "id": r.id, "scenario_pk": r.scenario_pk, "scenario_id": scen.scenario_id,
            "scenario_sha256": scen.sha256, "title": scen.title, "category": scen.category,
            "severity": scen.severity, "controls": list(scen.controls),
            "system_id": r.system_id, "system": system.name if system else f"system {r.system_id}",
            "target_kind": str((system.target if system else {}).get("kind", "")),
            "window_id": r.window_id, "window": window.name if window else "",
            "retest_of": r.retest_of, "status": r.status, "verdict": r.verdict, "tool_version": r.tool_version,
            "model_id": r.model_id, "system_fingerprint": r.system_fingerprint,
            "behaviour_fingerprint": r.behaviour_fingerprint, "metrics": r.metrics,
            "started_at": iso(r.started_at), "finished_at": iso(r.finished_at), "created_at": iso(r.created_at),
            "turns": stats.get("turns", 0), "turn_errors": stats.get("errors", 0),
            "retries": stats.get("retries", 0), "error_types": stats.get("error_types", []),
            "fail_reasons": reasons_by_run.get(r.id or 0, []),
            "system_snapshot": r.system_snapshot, "system_sha256": r.system_sha256,
            "strategy": r.strategy or "", "variant": r.variant,
            "translation_review": str((r.variant or {}).get("translation_review", "")) if r.strategy else "",
        })
        sources = sources_by_run.get(r.id or 0, {})
        rec["auto_verdict_count"], rec["human_verdict_count"] = sources.get("auto", 0), sources.get("human", 0)
        rec["dating_flags"] = rules.flags(r.started_at or r.created_at, r.window_id)
        placement = rules.place(r.started_at or r.created_at, r.window_id, r.retest_of)
        rec["placement"] = placement.kind
        rec["counted_window"] = window_by_id[placement.window_id].name if placement.window_id in window_by_id else ""
        rec["is_sample"] = placement.is_sample
        rec["run_type"] = wording.run_type(placement.kind, rec["window"], r.retest_of)
        placed.append(PlacedRun(r.id or 0, scen.scenario_id, r.system_id, placement, r.status))
        rec["finding_ids"] = [f["id"] for f in findings_by_run.get(r.id or 0, [])]
        rec["result"] = wording.run_result(rec, findings_by_run.get(r.id or 0, []))
        runs.append(rec)

    run_by_id = {r["id"]: r for r in runs}
    all_run_verdicts = {r.id: r.verdict for r in db.exec(select(Run).where(Run.engagement_id == engagement_id)).all()}
    finding_by_id = {f["id"]: f for f in finding_records}
    retests = []
    for rt in retest_rows:
        finding = finding_by_id[rt.finding_id]
        after_run = run_by_id.get(rt.run_id)
        before = all_run_verdicts.get(finding.get("run_id")) or ""
        after = rt.outcome or (after_run or {}).get("verdict", "")
        retests.append({"id": rt.id, "finding_id": rt.finding_id, "finding_title": finding["title"],
                        "controls": finding["controls"], "original_run_id": finding.get("run_id"),
                        "before": before, "run_id": rt.run_id, "after": after,
                        "window": (after_run or {}).get("window", ""),
                        "run_started_at": (after_run or {}).get("started_at"),
                        "created_at": iso(rt.created_at), "result": wording.retest_result(before, after)})
    responses = [scrub.deep(as_record(m)) for m in response_rows]
    responses_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in responses:
        responses_of[m["finding_id"]].append(m)
    retests_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for retest in retests:
        retests_of[retest["finding_id"]].append(retest)
    for f in finding_records:
        f["responses"] = responses_of.get(f["id"], [])
        f["retests"] = retests_of.get(f["id"], [])

    mapped = {sid for m in db.exec(select(ControlMapping).where(ControlMapping.engagement_id == engagement_id)).all()
              for sid in m.scenarios}
    scheduled = {(sid, s.id or 0) for sid in mapped for s in systems if s.in_scope}
    sample = {row["window"]: row for row in sampling(rules, placed, data_as_of.date() if data_as_of else None,
                                                    scheduled)}
    for row in sample.values():
        row["rationale"] = wording.sample_rationale(row, len(window_rows))
    window_records = [dict(sample[w.name], id=w.id, name=w.name, selected=selected_ids is None or w.id in selected_ids)
                      for w in window_rows]

    stored_ids = set(db.exec(select(Scenario.scenario_id)).all())
    cov, cov_note = coverage(db, engagement_id, catalog.catalog, stored_ids)
    notes = [n for n in (catalog.problem, cov_note, *chain.notes) if n]
    evidence = EvidenceSet(
        db=db, scrub=scrub, engagement=scrub.deep(engagement_record(engagement, rules)), rules=rules,
        selected_windows=[w.name for w in window_rows if w.id in selected_ids] if selected_ids is not None else None,
        systems=[scrub.deep(system_record(s)) for s in systems], windows=window_records,
        mappings=mapping_records(db, engagement_id, runs, catalog, scrub),
        scenarios=[scrub.deep(scenario_record(s)) for s in sorted(scenario_rows.values(), key=lambda s: s.id or 0)],
        runs=runs, findings=finding_records, retests=retests, responses=responses, chain=chain,
        data_as_of=data_as_of, catalog=catalog, coverage=scrub.deep(cov) if cov else None, notes=notes,
    )
    evidence.spread = spread(rules, [r.started_at or r.created_at for r in run_rows])
    evidence.secrets_in_output = dict(secret_census(model_output(db, [r.id or 0 for r in run_rows])),
                                      kept=keep_secrets_in_output)
    categories = sorted({s.category for s in scenario_rows.values()})
    tested_by: dict[str, list[str]] = defaultdict(list)
    for record in evidence.scenarios:
        if record["methodology"] and record["scenario_id"] not in tested_by[record["methodology"]]:
            tested_by[record["methodology"]].append(record["scenario_id"])
    evidence.methodology = [{**m, "scenarios": tested_by.get(m["key"], [])} for m in catalog.methodology(categories)]
    from app.changes.flags import change_flags

    evidence.changes = [scrub.deep(flag.to_json()) for flag in change_flags(db, engagement_id)]
    from app.calibration import for_bundle

    evidence.calibration = scrub.deep(for_bundle(db, engagement_id))
    from app.evidence.attached import link_attachments

    evidence.attachments = link_attachments(db, engagement_id, scrub, evidence.findings, evidence.runs,
                                            selected_ids is not None)
    return evidence


def _selected_windows(engagement: Engagement, rows: list[Any], names: Sequence[str] | None) -> set[int] | None:
    if not names:
        return None
    by_name = {w.name: w.id for w in rows}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ExportError(f"engagement '{engagement.name}' has no test window {', '.join(repr(u) for u in unknown)}"
                          f" (its windows: {known})")
    return {by_name[n] for n in names}
