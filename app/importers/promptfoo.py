"""Reading a promptfoo eval's results (``promptfoo eval -o results.json``), red-team runs included.

The file is one JSON document: ``results.results`` is the list of rows, one per test case and prompt, each
with the prompt sent (``prompt.raw``), the provider's answer (``response.output``), promptfoo's verdict
(``success``, with ``gradingResult.reason``) and an ``error`` when the provider failed. Red-team rows name
their plugin and strategy in ``testCase.metadata`` (``pluginId``, ``strategyId``); rows are grouped into runs
by plugin, else by the test's description. ``success: true`` means the system held (pass); ``false`` that the
assertion or the red-team grader caught a failure; a row with an error was never judged.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.importers.model import (
    MAX_JSON_DEPTH,
    MAX_REPORT_BYTES,
    ImportedAttempt,
    ImportedOutput,
    ImportedProbe,
    ImportedReport,
    ReportImportError,
    ToolJudgement,
    clip,
)


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):

        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, ensure_ascii=False)  # a structured output (tool calls): shown as recorded


def parse(path: Path) -> ImportedReport:
    """The results at ``path``, or :class:`ReportImportError` naming the field that is missing or wrong."""
    from app.evidence.bounds import json_depth

    size = path.stat().st_size
    if size > MAX_REPORT_BYTES:
        raise ReportImportError(f"{path}: {size:,} bytes is over the {MAX_REPORT_BYTES:,}-byte limit for a report")
    raw = path.read_bytes()
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ReportImportError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep")
    import json

    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportImportError(f"{path}: not JSON ({exc})") from None
    rows = _dig(data, "results", "results")
    if not isinstance(rows, list):
        raise ReportImportError(f"{path}: field 'results.results': expected the list of result rows of a promptfoo "
                           "eval (promptfoo eval -o results.json)")
    version = str(_dig(data, "metadata", "promptfooVersion") or _dig(data, "results", "version") or "")
    started = _when(_dig(data, "results", "timestamp") or _dig(data, "metadata", "timestamp"))
    report = ImportedReport("promptfoo", version, path.name, hashlib.sha256(raw).hexdigest(), started)
    probes: dict[str, ImportedProbe] = {}
    models: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ReportImportError(f"{path}: field 'results.results[{index}]': expected an object")
        found = _dig(row, "testCase", "metadata")
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        group = str(meta.get("pluginId") or _dig(row, "testCase", "description") or row.get("description")
                    or "promptfoo tests")
        probe = probes.setdefault(group, ImportedProbe(group))
        plugin = meta.get("pluginId")
        if isinstance(plugin, str) and f"plugin:{plugin}" not in probe.tags:
            probe.tags.append(f"plugin:{plugin}")
        provider = _dig(row, "provider", "id") or row.get("provider")
        if isinstance(provider, str):
            models[provider] = None
        prompt = _dig(row, "prompt", "raw")
        if not isinstance(prompt, str):
            prompt = _text(_dig(row, "vars", "prompt") or _dig(row, "testCase", "vars", "prompt") or "")
        attempt = ImportedAttempt(ref=str(row.get("id") or f"row {index}"), prompt=clip(prompt),
                                  strategy=str(meta.get("strategyId") or ""),
                                  goal=str(meta.get("goal") or _dig(row, "testCase", "description") or ""),
                                  latency_ms=row.get("latencyMs") if isinstance(row.get("latencyMs"), (int, float))
                                  else None)
        error = row.get("error")
        output = ImportedOutput(clip(_text(_dig(row, "response", "output"))) if row.get("response") else None)
        graded = row.get("gradingResult")
        grading: dict[str, Any] = graded if isinstance(graded, dict) else {}
        success = row.get("success")
        if error and not grading:
            output.error = f"promptfoo recorded an error: {str(error)[:500]}"
        elif isinstance(success, bool):
            score = row.get("score") if isinstance(row.get("score"), (int, float)) else None
            output.judgements.append(ToolJudgement(
                "promptfoo:" + (plugin if isinstance(plugin, str) else "assertions"), not success,
                float(score) if score is not None else None,
                str(grading.get("reason") or ("passed" if success else "failed"))[:2000]))
        else:
            output.error = "promptfoo recorded no verdict for this row"
        attempt.outputs.append(output)
        probe.attempts.append(attempt)
    report.model = ", ".join(models)
    report.probes = list(probes.values())
    return report
