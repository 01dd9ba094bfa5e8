"""The sentences a CPA firm pastes into its workpapers, written once.

A SOC 2 results-of-tests table reads "No exceptions noted." or describes the
exception; the test performed names the method (a red-team test is a
reperformance of the control by attack). Every sink (report, CSV, XLSX,
OSCAL) takes its wording from here so they never disagree.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

NO_EXCEPTIONS = "No exceptions noted."
METHOD = "Reperformance (red-team test)"
AUDIT_TYPE_LABELS = {"type1": "Type I", "type2": "Type II"}
EXCEPTION_KINDS = {
    "design": "Design",
    "operating": "Operating effectiveness",
    "system_description": "System description",
}


def exception_kind(kind: str, audit_type: str) -> str:
    """The exception's type; an unclassified one takes the default for the audit type, marked as such.

    A failure observed during a Type II period is an operating-effectiveness
    exception unless the tester says the design itself is wrong; at a Type I
    date only design is in question.
    """
    if kind in EXCEPTION_KINDS:
        return EXCEPTION_KINDS[kind]
    default = "design" if audit_type == "type1" else "operating"
    return f"{EXCEPTION_KINDS[default]} (default for {AUDIT_TYPE_LABELS.get(audit_type, audit_type)}; not classified)"


def test_performed(run: dict[str, Any]) -> str:
    """What the service auditor's column "test performed" says for one run."""
    model = f", model {run['model_id']}" if run.get("model_id") else ""
    window = f" in test window {run['window']}" if run.get("window") else ""
    when = f" on {run['started_at'][:10]}" if run.get("started_at") else ""
    turns = run.get("turns", 0)
    return (f"{METHOD}: ran scenario {run['scenario_id']} ({run['title']}) against {run['system']}{model}"
            f"{window}{when}; {turns} request{'s' if turns != 1 else ''} sent and the responses judged by "
            f"automatic detectors and tester review. Scenario SHA-256 {run['scenario_sha256'][:12]}.")


def run_result(run: dict[str, Any], findings: Iterable[dict[str, Any]]) -> str:
    """The result column for one run: "No exceptions noted." or the exception, described."""
    verdict = run.get("verdict") or ""
    linked = [f for f in findings if f.get("status") != "dismissed"]
    dismissed = [f for f in findings if f.get("status") == "dismissed"]
    if verdict == "pass":
        return NO_EXCEPTIONS
    if verdict == "fail":
        if linked:
            parts = [f"finding {f['id']} \"{f['title']}\" (severity {f['severity']}"
                     + (f"; {f['impact']}" if f.get("impact") else "") + ")" for f in linked]
            return "Exception noted: " + "; ".join(parts) + "."
        if dismissed:
            ids = ", ".join(str(f["id"]) for f in dismissed)
            return f"{NO_EXCEPTIONS} The automatic failure was dismissed on review as a false positive (finding {ids})."
        reasons = "; ".join(run.get("fail_reasons") or []) or "a detector reported a failure"
        return f"Exception noted: {reasons}. No finding has been recorded yet."
    if verdict == "review":
        return "Not concluded: the response awaits tester review."
    if verdict == "error":
        why = inconclusive_reason(run.get("metrics") or {}, run.get("status") or "")
        if why:
            return f"Not concluded: {why}."
        kinds = ", ".join(run.get("error_types") or []) or "target errors"
        return f"Not concluded: the test could not be completed ({kinds})."
    return f"Not concluded: the run is {run.get('status') or 'unfinished'}."


def _turn_phrase(entry: dict[str, Any]) -> str:
    where = f"step {int(entry.get('step', 0)) + 1}"
    if entry.get("sample"):
        where += f", sample {int(entry['sample']) + 1}"
    kind = entry.get("error_type") or "not judged"
    if entry.get("http_status"):
        kind += f", HTTP {entry['http_status']}"
    return f"turn {entry.get('turn')} ({where}: {kind})"


def inconclusive_reason(metrics: dict[str, Any], status: str) -> str:
    """Why a run is inconclusive, from the turns its metrics name (``inconclusive``) and its status.

    The run summary, the CLI table and the export's result all say it with these words.
    """
    listed = list(metrics.get("inconclusive") or [])
    total = max(int(metrics.get("errors") or 0), len(listed))
    parts: list[str] = []
    if status in ("cancelled", "interrupted"):
        parts.append(f"the run was {status} before every step had been answered and judged")
    if listed:
        if total == 1:
            entry = listed[0]
            detail = f": {entry['detail']}" if entry.get("detail") else ""
            parts.append(f"{_turn_phrase(entry)} was not answered or judged{detail}")
        else:
            shown = ", ".join(_turn_phrase(e) for e in listed[:3])
            more = f" and {total - 3} more" if total > 3 else ""
            parts.append(f"{total} turns were not answered or judged: {shown}{more}")
    return "; ".join(parts)


def rollup_result(counts: dict[str, int]) -> str:
    """The result for a control across several runs (one window, or the whole period)."""
    total = sum(counts.values())
    if not total:
        return "Not tested."
    fails = counts.get("fail", 0)
    if fails:
        return f"Exceptions noted in {fails} of {total} run{'s' if total != 1 else ''}."
    open_ = total - counts.get("pass", 0)
    if open_:
        return f"{NO_EXCEPTIONS[:-1]} in {counts.get('pass', 0)} run(s); {open_} not concluded."
    return NO_EXCEPTIONS


def retest_result(before: str, after: str) -> str:
    if after == "pass":
        return "Remediated: the re-test passed." if before == "fail" else "The re-test passed."
    if after == "fail":
        return "Not remediated: the re-test failed."
    if after == "error":
        return "Not concluded: the re-test could not be completed."
    return "Not concluded: the re-test has no verdict yet."


def outcome_of(auto: Iterable[str], human: Optional[str]) -> str:
    """A turn's effective outcome: the tester's latest word, else its automatic verdicts combined by
    the runner's own rule (:func:`app.detectors.aggregate.combine`)."""
    if human:
        return human
    from app.detectors.aggregate import combine

    return combine(auto) or ""
