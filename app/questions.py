"""The auditor's questions, answered from the evidence gathered so far.

The catalog lists what auditors ask of AI controls ("How do you prevent
prompt injection?") and which criteria each question is about. Each answer
here is built from the engagement's monitoring picture (results per window,
trend), its findings and their re-tests, and, for change management, the
possible unapproved model changes. A question nothing has tested yet says so
plainly instead of implying an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from app.alignment.status import NOT_TESTED, OUTSIDE
from app.findings import OPEN_STATUSES
from app.monitoring import REMEDIATED, CriterionRow, Monitoring, monitoring

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.changes import ChangeFlag

CHANGE_CRITERIA = frozenset({"CC8.1"})  # questions about these also weigh the model change flags

NO_EVIDENCE = "no evidence"
NO_EXCEPTIONS = "no exceptions"
EXCEPTIONS = "exceptions open"
REMEDIATED_ALL = "remediated"
NOT_CONCLUDED = "not concluded"


@dataclass(frozen=True)
class FindingEvidence:
    id: int
    title: str
    status: str
    severity: str
    controls: tuple[str, ...]
    retests: tuple[tuple[int, str], ...]  # (re-test run id, outcome)

    def line(self) -> str:
        tests = ", ".join(f"run {run} {outcome or 'pending'}" for run, outcome in self.retests)
        return (f"finding {self.id} [{self.severity}] {self.title}: {self.status.replace('_', ' ')}"
                + (f" (re-test {tests})" if tests else ""))


@dataclass(frozen=True)
class Answer:
    key: str
    question: str
    assesses: str
    criteria: tuple[str, ...]
    red_team_help: str
    status: str  # no evidence | no exceptions | exceptions open | remediated | not concluded
    summary: str
    results: tuple[CriterionRow, ...]
    findings: tuple[FindingEvidence, ...]
    changes: tuple[ChangeFlag, ...]

    def lines(self) -> list[str]:
        """The answer as plain lines (the CLI prints them, the cockpit shows them literally)."""
        out = [self.summary]
        for row in self.results:
            tested = [c for c in row.cells if c.result != NOT_TESTED]
            detail = "; ".join(f"{c.window}: {c.state}" + (f" after {c.failed_runs} failed run(s)" if c.state == REMEDIATED else "")
                               + f" ({c.tested}/{c.total} scenarios)" for c in tested) or "not tested in any window"
            out.append(f"{row.criterion} {row.strip} {row.trend}: {detail}")
        out += [f.line() for f in self.findings]
        out += [c.message for c in self.changes]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "question": self.question, "assesses": self.assesses, "criteria": list(self.criteria),
            "red_team_help": self.red_team_help, "status": self.status, "summary": self.summary,
            "results": [{"criterion": r.criterion, "strip": r.strip, "trend": r.trend,
                         "windows": [{"window": c.window, "state": c.state, "tested": c.tested, "total": c.total,
                                      "failed_runs": c.failed_runs} for c in r.cells]} for r in self.results],
            "findings": [{"id": f.id, "title": f.title, "status": f.status, "severity": f.severity,
                          "controls": list(f.controls), "retests": [{"run": r, "outcome": o} for r, o in f.retests]}
                         for f in self.findings],
            "changes": [c.to_json() for c in self.changes], "lines": self.lines(),
        }


def _findings(db: Session, engagement_id: int, catalog: Any) -> list[tuple[set[str], FindingEvidence]]:
    """Every finding but dismissed ones, with the criteria it touches (AI controls count through theirs)."""
    from sqlmodel import col, select

    from app.findings import find
    from app.store.models import Retest, Run

    rows = [f for f in find(db, engagement_id) if f.status != "dismissed"]
    retests: dict[int, list[tuple[int, str]]] = {}
    if rows:
        query = (select(Retest, Run.verdict).join(Run, Run.id == Retest.run_id)  # type: ignore[arg-type]
                 .where(col(Retest.finding_id).in_([f.id for f in rows])).order_by(col(Retest.id)))
        for retest, verdict in db.exec(query).all():
            retests.setdefault(retest.finding_id, []).append((retest.run_id, retest.outcome or verdict))
    out = []
    for f in rows:
        touched = set(catalog.expand(f.controls)) if catalog is not None else set(f.controls)
        out.append((touched, FindingEvidence(f.id or 0, f.title, f.status, f.severity, tuple(f.controls),
                                             tuple(retests.get(f.id or 0, [])))))
    return out


def _judge(results: list[CriterionRow], findings: list[FindingEvidence],
           changes: list[ChangeFlag]) -> str:
    states = [c.state for r in results for c in r.cells if c.result != NOT_TESTED]
    if not states and not findings and not changes:
        return NO_EVIDENCE
    if changes or any(f.status in OPEN_STATUSES or f.status == "draft" for f in findings) or "fail" in states:
        return EXCEPTIONS
    if any(f.status in ("closed", "retest_passed") for f in findings) or REMEDIATED in states:
        return REMEDIATED_ALL
    if states and all(s == "pass" for s in states):
        return NO_EXCEPTIONS
    return NOT_CONCLUDED


def _summary(status: str, criteria: tuple[str, ...], results: list[CriterionRow],
             findings: list[FindingEvidence], changes: list[ChangeFlag]) -> str:
    ids = ", ".join(criteria)
    if status == NO_EVIDENCE:
        unmapped = [c for c in criteria if not any(r.criterion == c and r.scenarios for r in results)]
        gap = f" The control matrix maps no scenario to {', '.join(unmapped)}." if unmapped else ""
        return f"No evidence yet: nothing that tests {ids} has run in this engagement.{gap}"
    cells = [c for r in results for c in r.cells]
    planned = list(dict.fromkeys(c.window for c in cells if c.window != OUTSIDE))
    windows = [w for w in planned if any(c.window == w and c.result != NOT_TESTED for c in cells)]
    outside = any(c.window == OUTSIDE and c.result != NOT_TESTED for c in cells)
    if windows or outside:
        parts = [f"{ids} tested in {len(windows)} of {len(planned)} test window(s)"
                 + (f" ({', '.join(windows)})" if windows else "") + (" and in runs that are no window's sample (late, early or unplanned)" if outside else "")]
    else:
        parts = [f"no scenario testing {ids} has run yet"]
    open_ = [f for f in findings if f.status in OPEN_STATUSES]
    drafts = [f for f in findings if f.status == "draft"]
    settled = [f for f in findings if f.status in ("closed", "retest_passed")]
    accepted = [f for f in findings if f.status == "risk_accepted"]
    if findings:
        counts = [f"{len(open_)} open"] if open_ else []
        counts += [f"{len(drafts)} awaiting triage"] if drafts else []
        counts += [f"{len(settled)} remediated and re-tested"] if settled else []
        counts += [f"{len(accepted)} risk accepted"] if accepted else []
        parts.append(f"{len(findings)} finding(s): {', '.join(counts)}")
    if changes:
        parts.append(f"{len(changes)} possible unapproved model change(s) flagged")
    verdict = {NO_EXCEPTIONS: "No exceptions noted.", REMEDIATED_ALL: "Exceptions were remediated and re-tested.",
               EXCEPTIONS: "Exceptions are open.", NOT_CONCLUDED: "Testing has not concluded."}[status]
    body = "; ".join(parts)
    return f"{verdict} {body[:1].upper()}{body[1:]}."


def answer_questions(db: Session, engagement_id: int, *, today: date | None = None, catalog: Any = None,
                     picture: Monitoring | None = None) -> list[Answer]:
    """One answer per catalog question, in catalog order, from the evidence in the store now."""
    if catalog is None:
        from app.catalog import load_catalog

        catalog = load_catalog()
    picture = picture or monitoring(db, engagement_id, today=today, catalog=catalog)
    findings = _findings(db, engagement_id, catalog)
    answers = []
    for q in catalog.auditor_questions:
        wanted = set(q.criteria)
        results = [r for r in picture.criteria if r.criterion in wanted]
        results.sort(key=lambda r: q.criteria.index(r.criterion))
        related = [f for touched, f in findings if touched & wanted]
        changes = list(picture.changes) if wanted & CHANGE_CRITERIA else []
        status = _judge(results, related, changes)
        answers.append(Answer(q.key, q.question, q.assesses, tuple(q.criteria), q.red_team_help, status,
                              _summary(status, tuple(q.criteria), results, related, changes), tuple(results),
                              tuple(related), tuple(changes)))
    return answers


__all__ = ["Answer", "FindingEvidence", "answer_questions"]
