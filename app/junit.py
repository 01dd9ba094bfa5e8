"""JUnit XML for CI pipelines: one test case per run.

A failed run is a ``<failure>``, a run whose turns the target never let us
judge is an ``<error>``, a run awaiting human review or never started is
``<skipped>``. Each case's ``<system-out>`` carries a short transcript. Model
output is hostile: escape sequences and controls are made visible first
(:func:`app.text.for_terminal`), then anything XML 1.0 cannot carry is
replaced (:func:`app.text.for_xml`); ElementTree does the escaping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.text import for_terminal, for_xml, one_line

if TYPE_CHECKING:
    from app.runner import RunOutcome

TRANSCRIPT_TURNS = 12  # per case; CI logs are for orientation, the store holds everything
TRANSCRIPT_CHARS = 1500  # per message


def _safe(text: str) -> str:
    return for_xml(for_terminal(text))


def _clip(text: str, limit: int = TRANSCRIPT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


def transcript(outcome: RunOutcome) -> str:
    """The first turns of the run, prompt and answer, for a CI log."""
    lines = [f"run {outcome.run_id} · {outcome.label} · {outcome.system}"
             + (f" · window {outcome.window}" if outcome.window else "")
             + f" · {outcome.status} · verdict {outcome.verdict or '-'}"]
    if outcome.finding_ids:
        lines.append("draft finding(s): " + ", ".join(str(i) for i in outcome.finding_ids))
    for entry in outcome.transcript[:TRANSCRIPT_TURNS]:
        status = entry.status + (f" ({entry.error_type})" if entry.error_type else "")
        lines.append("")
        lines.append(f"[step {entry.step + 1} · sample {entry.sample} · {entry.identity} · {entry.kind}] {status}")
        lines.append(f"> {_clip(entry.prompt)}")
        lines.append(_clip(entry.response) if entry.response else "(no response text)")
    hidden = len(outcome.transcript) - TRANSCRIPT_TURNS
    if hidden > 0:
        lines.append(f"\n… {hidden} more turn(s) in the store (run {outcome.run_id})")
    return _safe("\n".join(lines))


def junit_xml(outcomes: Iterable[RunOutcome], *, suite: str) -> str:
    """The JUnit document for ``outcomes`` as a string."""
    items = list(outcomes)
    counts = {
        "tests": len(items),
        "failures": sum(1 for o in items if o.status == "finished" and o.verdict == "fail"),
        "errors": sum(1 for o in items if o.status == "finished" and o.verdict == "error"),
        "skipped": sum(1 for o in items if o.status != "finished" or o.verdict == "review"),
    }
    seconds = sum(o.total_ms for o in items) / 1000.0
    totals = {k: str(v) for k, v in counts.items()}
    root = ET.Element("testsuites", {"name": "redline", "time": f"{seconds:.3f}", **totals})
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    node = ET.SubElement(root, "testsuite", {"name": _safe(f"redline.{suite}"), "timestamp": stamp,
                                             "time": f"{seconds:.3f}", **totals})
    for outcome in items:
        case = ET.SubElement(node, "testcase", classname=_safe(f"{suite}.{outcome.system}"),
                             name=_safe(outcome.label), time=f"{outcome.total_ms / 1000.0:.3f}")
        message = _safe(one_line(outcome.reason or outcome.title, 300))
        if outcome.status != "finished":
            ET.SubElement(case, "skipped", message=f"run {outcome.status.replace('_', ' ')}"
                          + (f": {message}" if outcome.reason else ""))
        elif outcome.verdict == "fail":
            failure = ET.SubElement(case, "failure", type="control_failure", message=message)
            failure.text = _safe(f"{outcome.title}\n{outcome.reason}")
        elif outcome.verdict == "error":
            error = ET.SubElement(case, "error", type="target_error", message=message)
            error.text = _safe(f"{outcome.title}\n{outcome.reason}")
        elif outcome.verdict == "review":
            ET.SubElement(case, "skipped", message="needs human review")
        ET.SubElement(case, "system-out").text = transcript(outcome)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: Path, outcomes: Iterable[RunOutcome], *, suite: str) -> None:
    """Write the report atomically, so a CI step never reads half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(junit_xml(outcomes, suite=suite), encoding="utf-8")
    tmp.replace(path)
