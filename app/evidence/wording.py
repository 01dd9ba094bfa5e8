"""The sentences a CPA firm pastes into its workpapers, written once.

A SOC 2 results-of-tests table reads "No exceptions noted." or describes the
exception; the test performed names the method (a red-team test is a
reperformance of the control by attack). Every sink (report, CSV, XLSX,
OSCAL) takes its wording from here so they never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

NO_EXCEPTIONS = "No exceptions noted."
METHOD = "Reperformance (red-team test)"
AUDIT_TYPE_LABELS = {"type1": "Type I", "type2": "Type II"}
# The report's label for each exception type the lifecycle knows (app.lifecycle.EXCEPTION_KINDS).
EXCEPTION_KINDS = {
    "design": "Design",
    "operating": "Operating effectiveness",
    "system_description": "System description",
}


def effective_exception_kind(kind: str, audit_type: str) -> str:
    """The exception type that applies: the tester's classification, else the audit type's default.

    A failure observed during a Type II period is an operating-effectiveness
    exception unless the tester says the design itself is wrong; at a Type I
    date only design is in question.
    """
    if kind in EXCEPTION_KINDS:
        return kind
    return "design" if audit_type == "type1" else "operating"


def exception_kind(kind: str, audit_type: str) -> str:
    """The exception's type as the workpapers say it; an unclassified one takes the default, marked as such."""
    label = EXCEPTION_KINDS[effective_exception_kind(kind, audit_type)]
    if kind in EXCEPTION_KINDS:
        return label
    return f"{label} (default for {AUDIT_TYPE_LABELS.get(audit_type, audit_type)}; not classified)"


def judged_by(auto: int, human: int) -> str:
    """Who judged the responses, from the verdicts actually recorded (never a review nobody made)."""
    if auto and human:
        return (f"automatic detectors ({auto} verdict{'s' if auto != 1 else ''}) and tester review "
                f"({human} verdict{'s' if human != 1 else ''})")
    if human:
        return f"tester review ({human} verdict{'s' if human != 1 else ''})"
    if auto:
        return f"automatic detectors only ({auto} verdict{'s' if auto != 1 else ''}; no tester review recorded)"
    return "no one: no verdict is recorded"


def test_performed(run: dict[str, Any]) -> str:
    """What the service auditor's column "test performed" says for one run."""
    model = f", model {run['model_id']}" if run.get("model_id") else ""
    window = f" in test window {run['window']}" if run.get("window") else ""
    when = f" on {run['started_at'][:10]}" if run.get("started_at") else ""
    turns = run.get("turns", 0)
    retest = (f"Re-test of finding {run['retest_of']} (remediation verification, not an operating-effectiveness "
              "sample). " if run.get("retest_of") is not None else "")
    review = f"; {run['translation_review']}" if run.get("translation_review") else ""
    strategy = (f" with every chat message sent through the strategy {run['strategy']} (a variant run{review})"
                if run.get("strategy") else "")
    return (f"{retest}{METHOD}: ran scenario {run['scenario_id']} ({run['title']}){strategy} "
            f"against {run['system']}{model}"
            f"{window}{when}; {turns} request{'s' if turns != 1 else ''} sent and the responses judged by "
            f"{judged_by(run.get('auto_verdict_count', 0), run.get('human_verdict_count', 0))}. "
            f"Scenario SHA-256 {run['scenario_sha256'][:12]}.")


def methodology(auto: int, human: int, runs_reviewed: int, runs: int) -> str:
    """The report's methodology sentence about judging, computed from the bundle's verdicts."""
    if not runs:
        return "No scenario has run in this bundle."
    if human:
        return (f"each scenario attacks the control and its responses are judged by automatic detectors "
                f"({auto} verdict{'s' if auto != 1 else ''}); the tester reviewed {runs_reviewed} of {runs} "
                f"run{'s' if runs != 1 else ''} ({human} tester verdict{'s' if human != 1 else ''}).")
    return (f"each scenario attacks the control and its responses are judged by automatic detectors "
            f"({auto} verdict{'s' if auto != 1 else ''}); no tester review is recorded in this bundle.")


def sample_rationale(row: dict[str, Any], planned: int) -> str:
    """Why a window's sample is what it is (population, sample, what did not count), per the conventions."""
    population = row.get("population")
    base = (f"{row['window']} is one of {planned} planned test window{'s' if planned != 1 else ''}; "
            "for AI red teaming each window is a sample of the period.")
    if population is not None:
        base += (f" Population: {population} scheduled run{'s' if population != 1 else ''} (the control matrix's "
                 f"scenarios x in-scope systems); {row['sampled']} of them ran inside the window's dates.")
    else:
        base += f" {row['runs']} run{'s' if row['runs'] != 1 else ''} ran inside the window's dates."
    if row.get("unscheduled"):
        base += f" {row['unscheduled']} further scenario/system pair(s) outside the plan also ran there."
    late = row.get("not_counted") or []
    if late:
        ids = ", ".join(f"{x['run']} ({x['kind']})" for x in late)
        base += (f" Not counted: run{'s' if len(late) != 1 else ''} {ids}, tagged {row['window']} but not run "
                 "to completion inside its dates.")
    if row.get("retests"):
        ids = ", ".join(str(r) for r in row["retests"])
        base += f" Re-test run{'s' if len(row['retests']) != 1 else ''} {ids} verify remediation and are not samples."
    if row["status"] == "missed":
        base += " No sample ran inside the window: the window is missed."
    elif row["status"] == "not yet due":
        base += " The window had not ended by the evidence's as-of date."
    return base


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
        pending = (run.get("metrics") or {}).get("manual_pending") or []
        if pending:  # a step done by hand whose outcome nobody has recorded yet
            steps = ", ".join(f"{int(e.get('step', 0)) + 1}"
                              + (f" (sample {int(e['sample']) + 1})" if e.get("sample") else "") for e in pending)
            waits = f"steps {steps} await" if len(pending) != 1 else f"step {steps} awaits"
            return f"Not concluded: manual {waits} the tester's recorded outcome."
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
    if open_ and not counts.get("pass"):
        return f"Not concluded: none of the {total} run{'s' if total != 1 else ''} reached a verdict."
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


def outcome_of(auto: Iterable[tuple[str, dict[str, Any] | None]], human: str | None) -> str:
    """A turn's effective outcome: the tester's latest word, else its automatic verdicts'
    ``(outcome, evidence)`` combined by the runner's own rule
    (:func:`app.detectors.aggregate.combine_verdicts`)."""
    if human:
        return human
    from app.detectors.aggregate import combine_verdicts

    return combine_verdicts(auto) or ""


def configuration(snapshot: dict[str, Any] | None) -> str:
    """A system configuration as tested, in one line (from app.system_config's snapshot)."""
    if not snapshot:
        return "Not recorded (the run predates configuration snapshots)."
    target = snapshot.get("target") or {}
    parts = [f"kind {target.get('kind') or '-'}", f"base URL {target.get('base_url') or '-'}",
             f"model {target.get('model') or '-'}"]
    if target.get("kind") == "demo" or "hardened" in target:
        parts.append(f"hardened {'yes' if target.get('hardened') else 'no'}")
    parts.append(f"documented models {', '.join(snapshot.get('documented_models') or []) or '-'}")
    parts.append(f"max retries {target.get('max_retries', '-')}")
    parts.append(f"API key {'configured' if target.get('api_key_configured') else 'none'}")
    parts.append("in scope" if snapshot.get("in_scope", True) else "out of scope")
    return "; ".join(parts)


def run_type(kind: str, tagged_window: str, retest_of: int | None) -> str:
    """How the exports name a run's standing in the Type II sample (``kind`` from DatingRules.place)."""
    if retest_of is not None or kind == "retest":
        finding = f" of finding {retest_of}" if retest_of is not None else ""
        return f"Re-test{finding} (remediation verification; not an operating-effectiveness sample)"
    if kind == "sample":
        return f"Operating-effectiveness sample of {tagged_window}" if tagged_window else "Operating-effectiveness sample"
    if kind in ("late", "early"):
        return f"{kind.capitalize()} for {tagged_window}: not counted as its sample"
    if kind == "unplanned":
        return "In no planned test window: not counted as a sample"
    if kind == "outside period":
        return "Outside the audit period: not counted as a sample"
    return "Not dated: not counted as a sample"


def retest_history(retests: Iterable[dict[str, Any]]) -> str:
    """What each re-test of one finding showed, in order; "" for a finding never re-tested."""
    return " ".join(f"Re-test run {rt['run_id']}: {retest_result(rt.get('before', ''), rt.get('after', ''))}"
                    for rt in retests)


def occurrences_text(occurrences: list[dict[str, Any]]) -> str:
    """The runs that showed a finding's weakness, as the exception log and the report say it."""
    if not occurrences:
        return "No run in this bundle."
    runs = ", ".join(f"run {o['run']}" + (f" ({str(o['started_at'])[:10]})" if o.get("started_at") else "")
                     for o in occurrences)
    if len(occurrences) == 1:
        return f"Seen once: {runs}."
    return f"Seen in {len(occurrences)} runs: {runs}."


def risk_acceptance(finding: dict[str, Any]) -> str:
    """Who accepted a finding's risk and why, while it stands accepted; "" otherwise."""
    if finding.get("status") != "risk_accepted":
        return ""
    return f"Risk accepted by {finding.get('accepted_by') or 'an unnamed approver'}: {finding.get('accepted_reason') or 'no reason recorded'}."


def exception_summary(rows: list[dict[str, Any]]) -> str:
    """One sentence over the exception log's rows: how many exceptions, of which types, how many unclassified.

    Each row carries ``exception_kind`` (the type that applies) and ``classified``; a finding with several
    management responses has several rows and counts once.
    """
    exceptions: dict[Any, dict[str, Any]] = {}
    for row in rows:
        exceptions.setdefault(row["exception"], row)
    if not exceptions:
        return NO_EXCEPTIONS
    kinds: dict[str, int] = {}
    for row in exceptions.values():
        label = EXCEPTION_KINDS[row["exception_kind"]]
        kinds[label] = kinds.get(label, 0) + 1
    unclassified = sum(1 for row in exceptions.values() if not row["classified"])
    accepted = sum(1 for row in exceptions.values() if row.get("risk_acceptance"))
    total = len(exceptions)
    text = f"{total} exception{'s' if total != 1 else ''} noted: " + ", ".join(
        f"{n} {label.lower()}" for label, n in sorted(kinds.items())) + "."
    if unclassified:
        text += f" {unclassified} {'is' if unclassified == 1 else 'are'} not classified yet (shown with the default type)."
    if accepted:
        text += f" Management accepted the risk of {accepted}."
    return text


def triage_summary(rows: list[dict[str, Any]]) -> str:
    """One sentence over the failures awaiting triage, which are not exceptions until a tester confirms them."""
    if not rows:
        return "No failure awaits triage."
    drafts = sum(1 for r in rows if r.get("finding_id") is not None)
    bare = len(rows) - drafts
    parts = ([f"{drafts} draft finding{'s' if drafts != 1 else ''}"] if drafts else []) + (
        [f"{bare} failed run{'s' if bare != 1 else ''} with no finding"] if bare else [])
    verb = "awaits" if len(rows) == 1 else "await"
    return f"{' and '.join(parts)} {verb} triage; they are not exceptions until a tester confirms them."


def secrets_in_output(census: dict[str, Any]) -> str:
    """What the bundle did with secret-looking model output, from the census of the exported answers."""
    from app.detectors.secret import SECRET_SHAPES

    found = census.get("found") or {}
    values, turns = sum(found.values()), int(census.get("turns") or 0)
    unchecked = int(census.get("unchecked") or 0)
    if unchecked:
        answers = f"{unchecked} model answer{'s' if unchecked != 1 else ''}"
        left = ("kept unchecked at the exporter's request (--keep-secrets-in-output)" if census.get("kept")
                else "withheld whole from every file of this bundle")
        note = f"{answers} could not be checked within the pattern limits and {'were' if unchecked != 1 else 'was'} {left}."
        rest = secrets_in_output({k: v for k, v in census.items() if k != "unchecked"})
        return f"{rest} {note}"
    if not values:
        return "No secret-looking value was found in model output."
    kinds = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in found.items())
    counted = (f"{values} secret-looking value{'s' if values != 1 else ''} in {turns} model "
               f"answer{'s' if turns != 1 else ''} ({kinds})")
    if census.get("kept"):
        return f"{counted} kept at the exporter's request (--keep-secrets-in-output): this bundle holds them."
    example = next(s.placeholder for s in SECRET_SHAPES if s.kind in found)
    return (f"{counted} {'were' if values != 1 else 'was'} replaced by a typed placeholder such as "
            f"[REDACTED {example}] in every file of this bundle; the store keeps the originals.")
