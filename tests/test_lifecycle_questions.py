"""The auditor's questions answered from the evidence: plainly "no evidence" until something tested them."""

from __future__ import annotations

from typing import Any

from app.catalog import load_catalog
from app.questions import answer_questions
from app.retest import retest_findings
from app.store import session
from tests.test_lifecycle_support import confirm_all, demo, make_engagement, run  # noqa: F401


def _by_key(eid: int) -> dict[str, Any]:
    with session() as db:
        return {a.key: a for a in answer_questions(db, eid)}


def test_every_question_says_plainly_when_there_is_no_evidence(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    answers = _by_key(eid)
    assert list(answers) == [q.key for q in load_catalog().auditor_questions]
    for answer in answers.values():
        assert answer.status == "no evidence"
        assert answer.summary.startswith("No evidence yet:") and answer.findings == ()
    assert "maps no scenario to CC7.2, CC7.3" in answers["monitoring"].summary
    assert "maps no scenario" not in answers["prompt_injection"].summary  # CC6.6 is mapped, just not run


def test_prompt_injection_is_answered_with_results_findings_and_retests(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    run(eid)
    assert _by_key(eid)["prompt_injection"].status == "exceptions open"  # a draft awaits triage
    [finding_id] = confirm_all(eid)
    demo.hardened = True
    [retest] = retest_findings(eid, probe=False)
    answer = _by_key(eid)["prompt_injection"]
    assert answer.status == "remediated"
    assert answer.summary.startswith("Exceptions were remediated and re-tested. CC6.6 tested in 1 of 3")
    [row] = answer.results
    assert (row.criterion, row.strip) == ("CC6.6", "↻··")
    [finding] = answer.findings
    assert (finding.id, finding.status, finding.retests) == (finding_id, "retest_passed", ((retest.run_id, "pass"),))
    lines = answer.lines()
    assert any("W1: remediated after 1 failed run(s)" in line for line in lines)
    assert any(line.startswith(f"finding {finding_id} [high]") and f"run {retest.run_id} pass" in line
               for line in lines)
    assert _by_key(eid)["ai_errors"].status == "no evidence"


def test_the_model_change_question_weighs_the_change_flags(demo: Any) -> None:
    eid = make_engagement(demo.base_url, scenarios=("gov-model-identity",), criterion="CC8.1")
    run(eid)
    assert _by_key(eid)["model_changes"].status == "no exceptions"
    demo.model_version = "2"
    run(eid, window="W2")
    answer = _by_key(eid)["model_changes"]
    assert answer.status == "exceptions open"
    assert "possible unapproved model change(s) flagged" in answer.summary
    assert any("system fingerprint" in line and "between W1 and W2" in line for line in answer.lines())
    assert answer.to_json()["changes"][0]["after_window"] == "W2"
