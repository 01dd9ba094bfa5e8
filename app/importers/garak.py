"""Reading a garak ``report.jsonl``: its attempts, grouped by probe, with every detector's score.

garak writes one JSON object per line, each with an ``entry_type``. ``init`` names garak's version and the
start time; ``start_run setup`` the generator (model); ``attempt`` lines carry the probe, the prompt, the
outputs (one per generation) and ``detector_results``: for each detector, one score per output, where 1.0
means the detector saw the failure it looks for (the attack worked). garak logs an attempt again once it is
evaluated (status 2); the last line for an attempt's uuid wins. Older versions write prompts and outputs as
strings, newer ones as objects with ``text`` (prompts as a conversation with ``turns``); both are read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from app.importers.model import (
    MAX_JSON_DEPTH,
    MAX_LINE_BYTES,
    MAX_REPORT_BYTES,
    ImportedAttempt,
    ImportedOutput,
    ImportedProbe,
    ImportedReport,
    ReportImportError,
    ToolJudgement,
    clip,
)

HIT_AT = 0.5  # garak's own threshold: a detector score at or above it is a hit


def _text(value: Any) -> str | None:
    """The text of a garak prompt or output in any of the shapes its versions write."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "text" in value:
            found = value["text"]
            return found if found is None or isinstance(found, str) else str(found)
        turns = value.get("turns")
        if isinstance(turns, list):  # a conversation: the last user turn is what was sent
            for turn in reversed(turns):
                if isinstance(turn, dict) and turn.get("role", "user") == "user":
                    return _text(turn.get("content"))
        if "content" in value:
            return _text(value["content"])
    return str(value)


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def parse(path: Path) -> ImportedReport:
    """The report at ``path``, or :class:`ReportImportError` naming the line and what is wrong; reads within bounds."""
    from app.evidence.bounds import TooLarge, bounded_lines, loads_bounded

    size = path.stat().st_size
    if size > MAX_REPORT_BYTES:
        raise ReportImportError(f"{path}: {size:,} bytes is over the {MAX_REPORT_BYTES:,}-byte limit for a report")
    digest = hashlib.sha256()
    version, started, model = "", None, ""
    attempts: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    with path.open("rb") as handle:
        try:
            for number, line in bounded_lines(handle, MAX_LINE_BYTES):
                digest.update(line)
                if not line.strip():
                    continue
                try:
                    entry = loads_bounded(line, MAX_JSON_DEPTH)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise ReportImportError(f"{path}:{number}: not a JSON object ({exc})") from None
                if not isinstance(entry, dict):
                    raise ReportImportError(f"{path}:{number}: not a JSON object")
                kind = entry.get("entry_type")
                if kind == "init":
                    version = str(entry.get("garak_version") or "")
                    started = _when(entry.get("start_time"))
                elif kind == "start_run setup":
                    model = str(entry.get("plugins.target_name") or entry.get("plugins.model_name") or "")
                elif kind == "attempt":
                    uuid = entry.get("uuid")
                    if not isinstance(uuid, str) or not isinstance(entry.get("probe_classname"), str):
                        raise ReportImportError(f"{path}:{number}: field 'uuid' or 'probe_classname': an attempt "
                                           "needs both")
                    if uuid not in attempts:
                        order.append(uuid)
                    attempts[uuid] = entry  # evaluated (status 2) lines come after the first log of it
        except TooLarge as exc:
            raise ReportImportError(f"{path}: {exc}") from None
    if not version:
        raise ReportImportError(f"{path}: no 'init' line with garak_version: is this a garak report.jsonl?")
    report = ImportedReport("garak", version, path.name, digest.hexdigest(), started, model)
    probes: dict[str, ImportedProbe] = {}
    for uuid in order:
        entry = attempts[uuid]
        probe = probes.setdefault(entry["probe_classname"], ImportedProbe(entry["probe_classname"]))
        probe.attempts.append(_attempt(uuid, entry))
    report.probes = list(probes.values())
    return report


def _attempt(uuid: str, entry: dict[str, Any]) -> ImportedAttempt:
    raw_outputs, raw_results = entry.get("outputs"), entry.get("detector_results")
    outputs: list[Any] = raw_outputs if isinstance(raw_outputs, list) else []
    results: dict[str, Any] = raw_results if isinstance(raw_results, dict) else {}
    evaluated = entry.get("status") == 2
    attempt = ImportedAttempt(ref=uuid, prompt=clip(_text(entry.get("prompt")) or ""),
                              goal=str(entry.get("goal") or ""))
    for index, raw in enumerate(outputs):
        text = _text(raw)
        output = ImportedOutput(clip(text) if text is not None else None)
        if text is None:
            output.error = "garak recorded no output for this generation"
        for detector, scores in results.items():
            score = scores[index] if isinstance(scores, list) and index < len(scores) else None
            if isinstance(score, (int, float)) and evaluated:
                output.judgements.append(ToolJudgement(
                    str(detector), score >= HIT_AT, float(score),
                    f"garak detector {detector} scored {float(score):.2f} (a hit at {HIT_AT})"))
            else:
                output.judgements.append(ToolJudgement(str(detector), None, None,
                                                       f"garak detector {detector} left no score for this output"))
        attempt.outputs.append(output)
    if not outputs:
        attempt.outputs.append(ImportedOutput(None, error=f"garak recorded no output (attempt status "
                                                          f"{entry.get('status')})"))
    return attempt
