"""``verify``'s checks of the evidence itself: transcripts and verdicts against the chain's digests.

A bundle whose files match its manifest can still carry rewritten turns if
whoever rewrote them also re-hashed the manifest. The audit chain recorded a
digest of every turn and verdict when it was written
(:mod:`app.store.coverage`), so each transcript line and each verdict in the
bundle is recomputed here and compared; and each streamed turn's text is
decoded again from its raw body with the runner's own decoder
(:mod:`app.targets.replay`), so a text that no longer matches the bytes the
endpoint sent is named.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any

from app.evidence.bounds import DEFAULT_LIMITS, VerifyLimits, bounded_lines, loads_bounded, read_bounded
from app.store.coverage import (
    CoverageResult,
    bundle_turn_digest,
    check_run,
    index_events,
    note_uncovered,
    verdict_digest,
)

AUDIT_FILE = "audit/events.jsonl"


def _jsonl(archive: zipfile.ZipFile, name: str, line_bytes: int, depth: int) -> Iterator[dict[str, Any]]:
    """Each line's JSON, every line and its nesting bounded (a hostile bundle is read like any other file)."""
    with archive.open(name) as handle:
        for _, raw in bounded_lines(handle, line_bytes):
            if raw.strip():
                yield loads_bounded(raw, depth)


def check_bundle_evidence(archive: zipfile.ZipFile, names: list[str], manifest: dict[str, Any],
                          limits: VerifyLimits = DEFAULT_LIMITS) -> CoverageResult:
    """Compare every transcript turn and verdict in the bundle with the digests its chain recorded."""
    result = CoverageResult()
    needed = [AUDIT_FILE, "data/runs.json", "data/verdicts.json"]
    if any(n not in names for n in needed):
        return result  # each missing file is already a problem of its own
    try:
        cov = index_events(_jsonl(archive, AUDIT_FILE, limits.audit_line_bytes, limits.json_depth))
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError, EOFError):
        return result  # the chain check already names what is wrong with the audit file
    try:
        runs = loads_bounded(read_bounded(archive, "data/runs.json", limits.data_file_bytes), limits.json_depth)
        verdicts = loads_bounded(read_bounded(archive, "data/verdicts.json", limits.data_file_bytes),
                                 limits.json_depth)
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError, EOFError) as exc:
        result.problems.append(f"the chain, runs or verdicts could not be read to check turns ({exc})")
        return result
    redaction = manifest.get("redaction")
    altered: dict[str, Any] = redaction if isinstance(redaction, dict) else {}
    skip_turns = frozenset(int(t) for t in altered.get("altered_turns", []) if isinstance(t, int))
    skip_verdicts = frozenset(int(v) for v in altered.get("altered_verdicts", []) if isinstance(v, int))
    by_run: dict[int, list[tuple[int, str, str]]] = {}
    for v in verdicts:
        by_run.setdefault(int(v["run_id"]), []).append((int(v["id"]), str(v.get("source")), verdict_digest(v)))
    replays: list[str] = []
    for run in runs:
        run_id = int(run["id"])
        if run.get("status") == "running":
            continue  # exported mid-run: its turns were still being written, and the notes say so
        name = f"transcripts/{run_id}.jsonl"
        turns: dict[int, str] = {}
        if name in names:
            try:
                for line in _jsonl(archive, name, limits.transcript_line_bytes, limits.json_depth):
                    turns[int(line["id"])] = bundle_turn_digest(line)
                    if int(line["id"]) not in skip_turns:
                        replays += _replay_problem(run, line)
            except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError, EOFError) as exc:
                result.problems.append(f"{name} could not be read to check its turns ({exc})")
                continue
        check_run(cov, result, run_id, turns, by_run.get(run_id, []), skip_turns=skip_turns,
                  skip_verdicts=skip_verdicts)
    result.problems += replays
    note_uncovered(cov, result, ((int(r["id"]), str(r.get("status"))) for r in runs))
    if skip_turns or skip_verdicts:
        result.notes.append(f"{len(skip_turns)} turn(s) and {len(skip_verdicts)} verdict(s) were changed at export "
                            "(redacted or secrets removed): the chain's digests cover the stored originals, so "
                            "they were not recomputed from this bundle; the manifest's hashes cover them as exported")
    return result


def _replay_problem(run: dict[str, Any], line: dict[str, Any]) -> list[str]:
    """The turn's text decoded again from its raw body, compared with the text the bundle shows."""
    from app.targets.replay import replay_text

    if line.get("kind") not in ("chat", "burst") or not isinstance(line.get("response_raw_b64"), str):
        return []
    truncated = (run.get("metrics") or {}).get("raw_truncated_turns") or []
    if line["id"] in truncated:
        return []
    import base64

    decoded = replay_text(run.get("system_snapshot"), base64.b64decode(line["response_raw_b64"]))
    shown = line.get("response_text") or ""
    if decoded is None or decoded == shown:
        return []
    if ((line.get("bounds") or {}).get("stopped_by") == "text_bytes" and decoded.startswith(shown)):
        return []  # cut at its text limit: the body holds the rest of the last read, past the cut
    return [f"turn {line['id']} (run {run['id']}): its response text differs from the text its raw body decodes "
            f"to ({len(line.get('response_text') or '')} characters shown, {len(decoded)} decoded)"]
