"""The turns of an evidence set, read once and shared by every file of the bundle.

Both reports, the CSV and XLSX workpapers, OSCAL and the transcripts walk
every turn. Reading, decoding (the JSON columns) and scrubbing each turn once,
and sharing the record, is most of what keeps an export close to the cost of
zipping its bytes. The shared records are bounded (:data:`TURNS_KEPT`), so a
very large engagement still exports in bounded memory.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from app.evidence import wording
from app.evidence.records import iso, prompt_of, retry_note
from app.store.streamed import raw_body, streamed_bodies

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.evidence.sources import Scrubber

BATCH_RUNS = 100
# Turn records kept in memory for every sink to share (about 4 KB each with 1 KB of text): past this many,
# the remaining runs are read again by each sink, a batch at a time, so memory stays bounded.
TURNS_KEPT = 50_000


class SharedTurns:
    """What :class:`app.evidence.collect.EvidenceSet` does with turns: the attributes below are its fields."""

    db: Session
    scrub: Scrubber
    runs: list[dict[str, Any]]
    _turns: dict[int, list[dict[str, Any]]]  # run id -> its turn records
    _turns_kept: list[int]  # how many turn records _turns holds (a list, so copies share the count)
    _text_changed: set[int]  # turns whose request or text the scrubber changed

    def run_ids(self) -> list[int]:
        return [r["id"] for r in self.runs]

    def iter_transcripts(self, *, with_raw: bool = False) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each run with its turns (and each turn's verdicts), in run order.

        Every sink of the bundle walks the turns (both reports, the CSV, the
        XLSX, OSCAL, the transcripts), so each turn is read, decoded and
        scrubbed once, on the first walk, and its record is shared by every
        later one (up to :data:`TURNS_KEPT` turns; runs past that are read a
        batch at a time on each walk); sinks copy a record before adding to it.
        Raw response bytes are read only when asked, a batch of runs at a time,
        and never kept.
        """
        by_id = {r["id"]: r for r in self.runs}
        ids = self.run_ids()
        for start in range(0, len(ids), BATCH_RUNS):
            chunk = ids[start:start + BATCH_RUNS]
            fresh = self._read_turns([rid for rid in chunk if rid not in self._turns])
            if fresh and self._turns_kept[0] + sum(map(len, fresh.values())) <= TURNS_KEPT:
                self._turns.update(fresh)
                self._turns_kept[0] += sum(map(len, fresh.values()))
            raws = self._raw_bodies(chunk) if with_raw else {}
            for run_id in chunk:
                turns = self._turns[run_id] if run_id in self._turns else fresh[run_id]
                yield by_id[run_id], [self._with_raw(t, raws.get(t["id"])) for t in turns] if with_raw else turns

    def _read_turns(self, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The turns (with their verdicts) of ``run_ids``, read, decoded and scrubbed: per run, its records."""
        if not run_ids:
            return {}
        from sqlmodel import select

        from app.store.models import Turn, Verdict

        columns = [c for c in Turn.__table__.c if c.name != "response_raw"]  # type: ignore[attr-defined]
        verdicts: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for v in self.db.execute(select(*Verdict.__table__.c).where(  # type: ignore[attr-defined]
                Verdict.run_id.in_(run_ids)).order_by(Verdict.id)):  # type: ignore[attr-defined,arg-type]
            if v.turn_id is not None:
                verdicts[v.turn_id].append(self.verdict_record(v))
        turns: dict[int, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
        rows = self.db.execute(select(*columns).where(Turn.run_id.in_(run_ids))  # type: ignore[attr-defined]
                               .order_by(Turn.run_id, Turn.step, Turn.sample, Turn.id)).all()
        from app.strategies.variants import with_strategy

        by_id = {r["id"]: r for r in self.runs}
        for t in rows:  # a strategy variant's turn keeps the original message beside the one sent
            turns[t.run_id].append(with_strategy(self._turn_record(t, verdicts.get(t.id, [])), by_id[t.run_id]))
        return turns

    def _raw_bodies(self, run_ids: list[int]) -> dict[int, tuple[bytes | None, str]]:
        """Per turn of ``run_ids``: its raw body as stored (whole or streamed) and why it was withheld, if it was."""
        from sqlmodel import select

        from app.store.models import Turn

        rows = self.db.execute(select(Turn.id, Turn.response_raw, Turn.raw_withheld)
                               .where(Turn.run_id.in_(run_ids))).all()  # type: ignore[attr-defined]
        streamed = streamed_bodies(self.db, [r.id for r in rows])
        return {r.id: (raw_body(r.response_raw, streamed, r.id), r.raw_withheld) for r in rows}

    def verdict_record(self, v: Any) -> dict[str, Any]:
        original = {"id": v.id, "run_id": v.run_id, "turn_id": v.turn_id, "source": v.source,
                    "detector": v.detector, "outcome": v.outcome, "reason": v.reason,
                    "evidence": v.evidence, "actor": v.actor, "created_at": iso(v.created_at)}
        record = self.scrub.deep(original)
        if record != original:
            self.scrub.changed_verdicts.add(v.id)
        return record

    def _turn_record(self, t: Any, verdicts: list[dict[str, Any]]) -> dict[str, Any]:
        auto = [v for v in verdicts if v["source"] != "human"]
        human = [v for v in verdicts if v["source"] == "human"]
        record = self.scrub.deep({
            "id": t.id, "run_id": t.run_id, "step": t.step, "sample": t.sample, "kind": t.kind,
            "identity": t.identity, "status": t.status, "request": t.request, "prompt": prompt_of(t.request),
            "response_text": t.response_text, "http_status": t.http_status, "error_type": t.error_type,
            "error_detail": t.error_detail, "ttft_ms": t.ttft_ms, "total_ms": t.total_ms,
            "chunk_count": t.chunk_count, "token_count": t.token_count, "usage": t.usage, "model_id": t.model_id,
            "system_fingerprint": t.system_fingerprint, "retries": t.retries, "started_at": iso(t.started_at),
            "finished_at": iso(t.finished_at), "bounds": t.bounds or {},
        })
        record["retry_notes"] = [retry_note(r) for r in record["retries"] or []]
        record["auto_verdicts"] = auto
        record["human_verdicts"] = human
        record["outcome"] = wording.outcome_of(((v["outcome"], v.get("evidence")) for v in auto),
                                               human[-1]["outcome"] if human else None)
        if record["request"] != t.request or record["response_text"] != t.response_text:
            self.scrub.changed_turns.add(t.id)
            self._text_changed.add(t.id)
        return record

    def _with_raw(self, record: dict[str, Any], stored: tuple[bytes | None, str] | None) -> dict[str, Any]:
        """A copy of a turn's record with its raw body, as the transcript keeps it (or the reason it is withheld)."""
        raw, withheld = stored if stored is not None else (None, "")
        record = dict(record)
        kept = self.scrub.raw(raw) if raw is not None else None
        if withheld:
            # Withheld when the turn ran, because its frames would rebuild a secret: the reason and
            # the digest of the original are on the record; nothing a crash left behind takes its place.
            kept = None
            record["response_raw_withheld"] = withheld
        elif raw is not None and (kept is None or (record["id"] in self._text_changed and self.scrub.filters)):
            kept = None
            record["response_raw_withheld"] = "redacted export: the body holds data the redaction removes"
        record["response_raw_b64"] = base64.b64encode(kept).decode("ascii") if kept is not None else None
        if kept != raw and not withheld:
            self.scrub.changed_turns.add(record["id"])
        return record
