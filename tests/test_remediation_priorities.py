"""Remediation priorities and due dates: pre-filled from severity and the seed's table, edited with an audit
trail, flagged when overdue in the register, on Home and in the exception log, and carried as POA&M milestones."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.remediation import suggested_due, suggested_priority
from tests.test_lifecycle_support import confirm_all, demo, events, make_engagement, run  # noqa: F401


def test_priority_follows_severity_and_the_catalogs_immediate_rows() -> None:
    assert suggested_priority("high", ["PI1.5"]) == "immediate"  # data out / someone in: the auditor's high
    assert suggested_priority("medium", ["CC7.2"]) == "immediate"  # no monitoring for AI attacks
    assert suggested_priority("medium", ["CC8.1"]) == "immediate"  # uncontrolled model deployment
    assert suggested_priority("medium", ["PI1.5"]) == "longer_term"  # no fallback: not an immediate row
    assert suggested_priority("medium", []) == "longer_term"
    assert suggested_priority("low", ["CC6.6"]) == "longer_term"
    found = date(2026, 3, 1)
    assert suggested_due("immediate", found, None) == date(2026, 3, 31)
    assert suggested_due("immediate", found, date(2026, 3, 15)) == date(2026, 3, 15)  # before the period ends
    assert suggested_due("immediate", found, date(2026, 2, 1)) == date(2026, 3, 31)  # period already over
    assert suggested_due("longer_term", found, date(2026, 3, 15)) == date(2026, 5, 30)


def _today() -> date:
    return datetime.now(UTC).date()


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[f"workpapers/{name}.csv"].decode("utf-8-sig"))))


def test_findings_get_a_priority_and_due_date_the_tester_can_change_with_an_audit_trail(
        demo: Any, capsys: Any) -> None:  # noqa: F811
    eid = make_engagement(demo.base_url)
    run(eid)
    [created] = events(eid, "finding.created")
    assert (created.payload["priority"], created.payload["due_date"]) == (
        "immediate", (_today() + timedelta(days=30)).isoformat())
    assert main(["findings", "acme", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert (record["priority"], record["due_date"], record["priority_source"], record["overdue"]) == (
        "immediate", (_today() + timedelta(days=30)).isoformat(), "set", False)

    assert main(["findings", "acme", "priority", "1", "--priority", "longer-term", "--reason",
                 "compensating control in place", "--by", "ana"]) == 0
    assert f"→ longer_term, due {_today() + timedelta(days=90)}" in capsys.readouterr().out
    assert main(["findings", "acme", "priority", "1", "--due", str(_today() + timedelta(days=10)), "--reason",
                 "client committed to a date"]) == 0
    capsys.readouterr()
    first, second = events(eid, "finding.edited")
    assert (first.actor, first.payload["reason"]) == ("ana", "compensating control in place")
    assert first.payload["changes"]["priority"] == {"from": "immediate", "to": "longer_term"}
    assert second.payload["changes"] == {"due_date": {"from": str(_today() + timedelta(days=90)),
                                                      "to": str(_today() + timedelta(days=10))}}
    for bad, message in ((["--due", "2001-01-01"], "is before finding 1 was found"),
                         (["--due", str(_today() + timedelta(days=10))], "nothing to change"),
                         ([], "give a priority, a due date or both")):
        assert main(["findings", "acme", "priority", "1", *bad, "--reason", "x"]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["findings", "acme", "priority", "1", "--priority", "someday", "--reason", "x"])
    assert len(events(eid, "finding.edited")) == 2


def test_overdue_findings_are_flagged_in_the_register_on_home_and_in_the_exception_log(
        demo: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    import app.runner.plan as plan
    from app.store import session
    from app.waiting import waiting_work
    from screens.home import home_rows

    eid = make_engagement(demo.base_url)
    run(eid)
    later = _today() + timedelta(days=45)
    monkeypatch.setattr(plan, "today_utc", lambda: later)
    assert main(["findings", "acme", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["overdue"] is False  # a draft is not confirmed: not overdue
    confirm_all(eid)
    assert main(["findings", "acme", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert (record["overdue"], record["days_overdue"]) == (True, 15)
    assert main(["findings", "acme"]) == 0
    assert "OVERDUE by 15 day(s)" in capsys.readouterr().out
    assert main(["findings", "acme", "exceptions", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["exceptions"]
    assert (row["priority"], row["overdue"], row["due"]) == (
        "immediate", "yes", f"OVERDUE by 15 day(s) (due {_today() + timedelta(days=30)})")
    with session() as db:
        assert waiting_work(db, eid, later).overdue == 1
        assert waiting_work(db, eid, _today()).overdue == 0
        [home] = home_rows(db, later)
    assert home.open_findings.endswith("!1") and "1 finding OVERDUE" in home.waiting.parts()


def test_the_bundle_and_the_poam_carry_due_dates_as_milestones(demo: Any, tmp_path: Path,  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import app.store.audit as audit

    eid = make_engagement(demo.base_url)
    run(eid)
    confirm_all(eid)
    due = _today() + timedelta(days=5)
    assert main(["findings", "acme", "priority", "1", "--due", str(due), "--reason", "agreed with the client"]) == 0
    # The evidence's own date moves on: a response recorded 12 days later dates the bundle's overdue flags.
    monkeypatch.setattr(audit, "utcnow", lambda: datetime.now(UTC) + timedelta(days=12))
    assert main(["findings", "acme", "respond", "1", "--response", "fix scheduled", "--owner", "Dana"]) == 0
    out = tmp_path / "b.zip"
    assert main(["export", "acme", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    [log] = _csv(files, "exception_log")
    assert (log["Priority"], log["Due date"], log["Overdue"]) == ("immediate", str(due), "yes")
    [finding] = _csv(files, "findings")
    assert (finding["Priority"], finding["Due date"], finding["Overdue"]) == ("immediate", str(due), "yes")
    report = files["report.md"].decode()
    assert f"- Remediation: immediate priority, OVERDUE by 7 day(s) (due {due})" in report
    assert f"| immediate | OVERDUE by 7 day(s) (due {due}) |" in report.split("## 7. Exception log")[1]
    poam = json.loads(files["oscal/poam.json"])["plan-of-action-and-milestones"]
    [item] = poam["poam-items"]
    item_props = {p["name"]: p["value"] for p in item["props"]}
    assert (item_props["priority"], item_props["due-date"], item_props["overdue"]) == ("immediate", str(due), "yes")
    [risk] = poam["risks"]
    milestones = [t for r in risk["remediations"] for t in r.get("tasks", []) if t["type"] == "milestone"]
    assert f"{due}T00:00:00+00:00" in [t["timing"]["on-date"]["date"] for t in milestones]
    data = json.loads(files["data/findings.json"])
    assert (data[0]["priority"], data[0]["due_date"], data[0]["overdue"]) == ("immediate", str(due), True)
