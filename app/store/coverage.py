"""What the audit chain covers of the evidence itself: each turn's content and every verdict.

The chain alone proves its own bookkeeping. To prove the transcripts, each
run's closing event (``run.finished``, or ``run.interrupted`` for a run a crash
cut) carries a digest of every turn it holds (the request as sent, the
response text and the SHA-256 of the raw body) and of every automatic
verdict; each ``verdict.human`` event carries the digest of the tester's
verdict. Changing a turn's text, its raw body or a verdict afterwards no
longer matches the chain.

The digests are computed by the functions here and nowhere else: the runner
and triage call them when they record, ``export`` calls them on the store, and
``verify`` on the bundle's transcripts and verdicts, so all three agree by
construction. The checks work on plain dicts, whichever side they come from.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.store.audit import _canonical

if TYPE_CHECKING:
    from sqlmodel import Session

# The events whose payload carries a run's evidence; the latest one for a run is the one that counts.
EVIDENCE_ACTIONS = ("run.finished", "run.interrupted")
HUMAN_VERDICT_ACTION = "verdict.human"
VERDICT_FIELDS = ("id", "run_id", "turn_id", "source", "detector", "outcome", "reason", "evidence", "actor")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def turn_digest(turn_id: int, request: Any, response_text: str, raw: bytes | None) -> str:
    """One turn's content digest: its request as sent, its response text, and its raw body's SHA-256."""
    raw_sha = hashlib.sha256(raw).hexdigest() if raw is not None else None
    return _sha(_canonical({"turn": turn_id, "request": request or {}, "response_text": response_text or "",
                            "raw_sha256": raw_sha}))


def verdict_digest(verdict: dict[str, Any]) -> str:
    """One verdict's digest: who or what judged which turn, the outcome, the reason and the quoted span."""
    return _sha(_canonical({name: verdict.get(name) for name in VERDICT_FIELDS}))


def verdict_fields(row: Any) -> dict[str, Any]:
    """The digested fields of a Verdict row (an ORM object or a SQL row)."""
    return {name: getattr(row, name) for name in VERDICT_FIELDS}


def run_evidence(db: Session, run_id: int) -> dict[str, Any]:
    """The digests of one run's turns and automatic verdicts, for the event that closes the run."""
    from sqlalchemy import select

    from app.store.models import Turn, Verdict
    from app.store.streamed import raw_body, streamed_bodies

    turn = Turn.__table__  # type: ignore[attr-defined]
    rows = db.execute(select(turn.c.id, turn.c.request, turn.c.response_text, turn.c.response_raw)
                      .where(turn.c.run_id == run_id).order_by(turn.c.id)).all()
    bodies = streamed_bodies(db, [r.id for r in rows])
    verdicts = db.execute(select(*Verdict.__table__.c).where(  # type: ignore[attr-defined]
        Verdict.__table__.c.run_id == run_id, Verdict.__table__.c.source == "auto")  # type: ignore[attr-defined]
        .order_by(Verdict.__table__.c.id)).all()  # type: ignore[attr-defined]
    return {
        "turns": [{"turn": r.id, "sha256": turn_digest(r.id, r.request, r.response_text,
                                                       raw_body(r.response_raw, bodies, r.id))} for r in rows],
        "verdicts": [{"verdict": v.id, "sha256": verdict_digest(verdict_fields(v))} for v in verdicts],
    }


@dataclass
class ChainCoverage:
    """What the chain's events say the evidence was: per run, per turn, per verdict (with the event's seq)."""

    runs: dict[int, int] = field(default_factory=dict)  # run id -> seq of the event holding its evidence
    run_turns: dict[int, set[int]] = field(default_factory=dict)
    run_verdicts: dict[int, set[int]] = field(default_factory=dict)
    turns: dict[int, tuple[str, int]] = field(default_factory=dict)
    verdicts: dict[int, tuple[str, int]] = field(default_factory=dict)
    human: dict[int, tuple[str | None, int]] = field(default_factory=dict)  # verdict id -> (digest, seq)


def _entity_id(entity: str, prefix: str) -> int | None:
    if isinstance(entity, str) and entity.startswith(prefix) and entity[len(prefix):].isdigit():
        return int(entity[len(prefix):])
    return None


def index_events(events: Iterable[dict[str, Any]]) -> ChainCoverage:
    """Read the digests the chain recorded; a later event for the same run replaces an earlier one."""
    cov = ChainCoverage()
    for ev in sorted(events, key=lambda e: e["seq"]):
        payload = ev.get("payload") or {}
        if ev.get("action") in EVIDENCE_ACTIONS and isinstance(payload.get("evidence"), dict):
            run_id = _entity_id(ev.get("entity", ""), "run:")
            if run_id is None:
                continue
            for old in cov.run_turns.pop(run_id, set()):
                cov.turns.pop(old, None)
            for old in cov.run_verdicts.pop(run_id, set()):
                cov.verdicts.pop(old, None)
            cov.runs[run_id] = ev["seq"]
            evidence = payload["evidence"]
            cov.run_turns[run_id] = {int(t["turn"]) for t in evidence.get("turns", [])}
            cov.run_verdicts[run_id] = {int(v["verdict"]) for v in evidence.get("verdicts", [])}
            cov.turns.update({int(t["turn"]): (str(t["sha256"]), ev["seq"]) for t in evidence.get("turns", [])})
            cov.verdicts.update({int(v["verdict"]): (str(v["sha256"]), ev["seq"])
                                 for v in evidence.get("verdicts", [])})
        elif ev.get("action") == HUMAN_VERDICT_ACTION:
            verdict_id = _entity_id(ev.get("entity", ""), "verdict:")
            if verdict_id is not None:
                digest = payload.get("sha256")
                cov.human[verdict_id] = (str(digest) if digest else None, ev["seq"])
    return cov


@dataclass
class CoverageResult:
    """Problems (the evidence differs from what the chain recorded) and notes (what the chain does not cover)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    turns_checked: int = 0
    verdicts_checked: int = 0


def check_run(cov: ChainCoverage, result: CoverageResult, run_id: int, turns: dict[int, str],
              verdicts: list[tuple[int, str, str]], *, skip_turns: frozenset[int] = frozenset(),
              skip_verdicts: frozenset[int] = frozenset()) -> None:
    """Compare one run's evidence (turn id -> digest; (verdict id, source, digest)) with the chain.

    ``skip_*`` are rows an export changed on purpose (redacted): their digests
    cover the stored originals and cannot be recomputed from the bundle.
    """
    seq = cov.runs.get(run_id)
    for verdict_id, source, digest in verdicts:
        if source == "human":
            recorded = cov.human.get(verdict_id)
            if recorded is None:
                if seq is not None:
                    result.problems.append(f"verdict {verdict_id} (tester, run {run_id}) is in no audit event: "
                                           "it was added without going through Redline")
            elif recorded[0] is not None and verdict_id not in skip_verdicts:
                result.verdicts_checked += 1
                if recorded[0] != digest:
                    result.problems.append(f"verdict {verdict_id} (tester, run {run_id}) differs from what audit "
                                           f"event #{recorded[1]} recorded")
            continue
        if seq is None:
            continue
        known = cov.verdicts.get(verdict_id)
        if known is None or verdict_id not in cov.run_verdicts.get(run_id, set()):
            result.problems.append(f"verdict {verdict_id} (automatic, run {run_id}) is not in audit event #{seq}, "
                                   "which recorded the run's verdicts: it was added afterwards")
        elif verdict_id not in skip_verdicts:
            result.verdicts_checked += 1
            if known[0] != digest:
                result.problems.append(f"verdict {verdict_id} (automatic, run {run_id}) differs from what audit "
                                       f"event #{seq} recorded")
    if seq is None:
        return
    seen_verdicts = {v for v, source, _ in verdicts if source != "human"}
    for turn_id, digest in sorted(turns.items()):
        recorded = cov.turns.get(turn_id)
        if recorded is None or turn_id not in cov.run_turns.get(run_id, set()):
            result.problems.append(f"turn {turn_id} (run {run_id}) is not in audit event #{seq}, which recorded "
                                   "the run's turns: it was added afterwards")
        elif turn_id not in skip_turns:
            result.turns_checked += 1
            if recorded[0] != digest:
                result.problems.append(f"turn {turn_id} (run {run_id}): its request, response text or raw body "
                                       f"differs from the digest audit event #{seq} recorded")
    for turn_id in sorted(cov.run_turns.get(run_id, set()) - set(turns)):
        result.problems.append(f"turn {turn_id} (run {run_id}) recorded in audit event #{seq} is missing")
    for verdict_id in sorted(cov.run_verdicts.get(run_id, set()) - seen_verdicts):
        result.problems.append(f"verdict {verdict_id} (automatic, run {run_id}) recorded in audit event "
                               f"#{seq} is missing")


def note_uncovered(cov: ChainCoverage, result: CoverageResult, runs: Iterable[tuple[int, str]]) -> None:
    """Say which runs the chain does not cover, and why, rather than implying it checked them."""
    legacy = [run_id for run_id, status in runs if run_id not in cov.runs or status == "running"]
    if legacy:
        shown = ", ".join(str(r) for r in legacy[:10]) + (" …" if len(legacy) > 10 else "")
        result.notes.append(f"{len(legacy)} run(s) have no turn digests in the audit chain (still running, or "
                            f"recorded before the chain covered turn content): {shown}; their turns and automatic "
                            "verdicts were not checked against it")


def check_store(db: Session, engagement_id: int) -> CoverageResult:
    """Compare every run of the engagement in the store with the digests its chain recorded."""
    from sqlmodel import col, select

    from app.store import audit
    from app.store.models import AuditEvent, Run, Verdict

    chain = audit.chain_name(engagement_id)
    cov = index_events(e.model_dump() for e in db.exec(select(AuditEvent).where(AuditEvent.chain == chain)))
    result = CoverageResult()
    runs = [(run_id, status) for run_id, status in db.exec(
        select(Run.id, Run.status).where(Run.engagement_id == engagement_id).order_by(col(Run.id))).all()
        if run_id is not None]
    human: dict[int, list[Any]] = {}  # each run's tester verdicts, read in one query rather than one per run
    for v in db.exec(select(Verdict).join(Run, col(Run.id) == col(Verdict.run_id))
                     .where(Run.engagement_id == engagement_id, Verdict.source == "human").order_by(col(Verdict.id))):
        human.setdefault(v.run_id, []).append(v)
    for run_id, status in runs:
        if status == "running":
            continue  # its turns are still being written (a resumed run rewrites the ones it redoes)
        evidence = run_evidence(db, run_id) if run_id in cov.runs else {"turns": [], "verdicts": []}
        turns = {t["turn"]: t["sha256"] for t in evidence["turns"]}
        verdicts = [(v["verdict"], "auto", v["sha256"]) for v in evidence["verdicts"]]
        verdicts += [(v.id, "human", verdict_digest(verdict_fields(v))) for v in human.get(run_id, [])]
        check_run(cov, result, run_id, turns, verdicts)
    note_uncovered(cov, result, runs)
    return result


def bundle_turn_digest(record: dict[str, Any]) -> str:
    """A transcript line's digest, computed as :func:`turn_digest` computed it from the store."""
    raw_b64 = record.get("response_raw_b64")
    raw = base64.b64decode(raw_b64) if isinstance(raw_b64, str) else None
    return turn_digest(int(record["id"]), record.get("request"), record.get("response_text") or "", raw)
