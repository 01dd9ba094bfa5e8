"""Honest Type II samples against the real demo AI system: what counts for a window, re-tests, the system as
tested, and sentences that match the data.

An engagement with an ended window W0 and a current window W1 over the
vulnerable demo on loopback. The matrix's scenarios run in W1 and fail; the
findings are confirmed, the system hardened and re-tested. A run tagged W0 is
made today, after W0 ended: it is recorded and shown late, never counted. The
system's configuration is edited between runs. Every view (monitoring, the
Controls screen's status, the auditor's questions, sampling.csv, the XLSX and
the report) must tell the same story.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from app import alignment
from app.evidence.bundle import build_bundle
from app.monitoring import monitoring
from app.questions import answer_questions
from app.retest import retest_findings
from app.store import session
from tests.test_lifecycle_support import confirm_all, demo, events, make_engagement, run  # noqa: F401

SCENARIOS = ("pi-direct-override", "sysprompt-summary-request")
WINDOWS = (("W0", -60, -50), ("W1", -3, 3), ("W2", 30, 40))


def _bundle(eid: int, path: Path) -> dict[str, bytes]:
    with session() as db:
        result = build_bundle(db, eid, path)
    with zipfile.ZipFile(result.path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


def _sheet(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(files["workpapers.xlsx"]))[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_a_back_filled_window_stays_missed_and_re_tests_are_never_samples(demo: Any, tmp_path: Path) -> None:
    eid = make_engagement(demo.base_url, scenarios=SCENARIOS, windows=WINDOWS)
    samples = [o.run_id for o in run(eid)]  # W1, today: both fail on the vulnerable demo
    confirm_all(eid)
    demo.hardened = True
    retests = [o.run_id for o in retest_findings(eid, probe=False)]
    [late] = [o.run_id for o in run(eid, ["pi-direct-override"], window="W0")]  # W0 ended 50 days ago

    with session() as db:
        picture = monitoring(db, eid)
        status = alignment.control_status(db, eid)
        answers = {a.key: a for a in answer_questions(db, eid, picture=picture)}
    windows = {w.name: w for w in picture.windows}
    assert (windows["W0"].status, windows["W0"].runs) == ("overdue", 0)  # back-filled: still not tested
    assert windows["W0"].not_counted == ((late, "late"),)
    assert (windows["W1"].status, windows["W1"].runs) == ("ran", 2)  # the two re-tests are not samples
    cc66 = next(c for c in picture.criteria if c.criterion == "CC6.6")
    cells = {c.window: c for c in cc66.cells}
    assert cells["W0"].result == "not tested" and cells["other"].result == "pass"
    assert cells["W1"].state == "remediated" and cells["W1"].failed_runs == 2
    assert cc66.trend == "one sample"  # the late pass is not a W0 sample, so nothing "regresses" or "improves"
    assert any(f.startswith(f"run {late} ") and "late" in f and "not counted as W0's sample" in f
               for f in picture.flags())
    assert any(f.startswith("window W0") and "not counted" in f for f in picture.flags())
    cc66_status = next(c for c in status.criteria if c.criterion == "CC6.6")
    assert {w.window: w.result for w in cc66_status.windows}["W0"] == "not tested"
    assert all("W0: " not in line for line in answers["prompt_injection"].lines())
    assert "tested in 1 of 3 test window(s) (W1) and in runs that are no window's sample" in \
        answers["prompt_injection"].summary

    files = _bundle(eid, tmp_path / "samples.zip")
    sampling = {row["Test window"]: row for row in _csv(files, "workpapers/sampling.csv")}
    w0, w1 = sampling["W0"], sampling["W1"]
    assert (w0["Population (scheduled runs)"], w0["Sample tested (scheduled runs inside the window)"],
            w0["Sample runs (inside the window, not re-tests)"], w0["Status"]) == ("2", "0", "0", "missed")
    assert w0["Not counted (late, early or unplanned)"] == f"run {late} (late)"
    assert f"Not counted: run {late} (late), tagged W0" in w0["Rationale"] and "the window is missed" in w0["Rationale"]
    assert (w1["Population (scheduled runs)"], w1["Sample tested (scheduled runs inside the window)"],
            w1["Sample runs (inside the window, not re-tests)"], w1["Status"]) == ("2", "2", "2", "ran")
    assert w1["Re-tests (remediation verification)"] == ", ".join(f"run {r}" for r in retests)
    assert "2 of them ran inside the window's dates" in w1["Rationale"]
    assert "verify remediation and are not samples" in w1["Rationale"]
    assert [r["Status"] for r in _sheet(files, "sampling")][:3] == ["missed", "ran", "not yet due"]

    results = _csv(files, "workpapers/test_results.csv")
    by_run = {int(r["Run"]): r for r in results}
    for retest in retests:
        row = by_run[retest]
        assert row["Run type"].startswith("Re-test of finding")
        assert row["Test performed"].startswith("Re-test of finding") and "not an operating-effectiveness" in \
            row["Test performed"]
    assert by_run[samples[0]]["Run type"] == "Operating-effectiveness sample of W1"
    assert by_run[late]["Run type"] == "Late for W0: not counted as its sample"
    assert "late, run on" in by_run[late]["Dating flags"]
    xlsx_types = {int(r["Run"]): r["Run type"] for r in _sheet(files, "test_results")}
    assert all(xlsx_types[r].startswith("Re-test of finding") for r in retests)

    monitored = {(r["Criterion / control id"], r["Test window"]): r
                 for r in _csv(files, "workpapers/continuous_monitoring.csv")}
    assert (monitored[("CC6.6", "W1")]["Fail"], monitored[("CC6.6", "W1")]["Pass"]) == ("2", "0")
    assert monitored[("CC6.6", "W0")]["Result"] == "Not tested."
    assert monitored[("CC6.6", "(counted in no window)")]["Result"].startswith("Not a sample of any window")
    remediation = _csv(files, "workpapers/remediation_verification.csv")
    assert sorted(int(r["Re-test run"]) for r in remediation) == sorted(retests)

    report = files["report.md"].decode()
    assert "Late for W0: not counted as its sample" in report
    assert report.count("Re-test of finding") >= len(retests)
    assert "Operating-effectiveness samples (inside their window, not re-tests): 2; re-tests (remediation " \
           "verification): 2" in report
    assert "Not counted: run" in report and "Population: 2 scheduled runs" in report
    html = files["report.html"].decode()
    assert "Late for W0: not counted as its sample" in html and "Re-test of finding" in html


def test_each_run_keeps_the_system_as_tested_and_edits_record_before_and_after(demo: Any, tmp_path: Path,
                                                                              monkeypatch: Any) -> None:
    monkeypatch.setenv("ACME_KEY", "sk-acme-test-key-000000")
    eid = make_engagement(demo.base_url, scenarios=SCENARIOS[:1])
    [first] = [o.run_id for o in run(eid)]
    with session() as db:
        [system] = alignment.systems_of(db, eid)
        alignment.save_system(db, eid, alignment.system_spec(
            name=system.name, kind="demo", base_url=demo.base_url, model="acme-support-2",
            models=["acme-support-1", "acme-support-2"], canaries=["RL-CANARY-7f3a91"], key={"env": "ACME_KEY"},
            extra_target={"hardened": True}), system_id=system.id)
    [second] = [o.run_id for o in run(eid)]

    [edit] = [e for e in events(eid, "system.updated")]
    change = edit.payload["configuration"]
    assert change["before"]["target"]["model"] == "acme-support-1" and change["after"]["target"]["model"] == \
        "acme-support-2"
    assert change["before"]["target"].get("hardened") is not True and change["after"]["target"]["hardened"] is True
    assert change["before_sha256"] != change["after_sha256"]
    assert "ACME_KEY" not in json.dumps(edit.payload) and "RL-CANARY" not in json.dumps(edit.payload)

    files = _bundle(eid, tmp_path / "config.zip")
    runs = {r["id"]: r for r in json.loads(files["data/runs.json"])}
    assert runs[first]["system_sha256"] == change["before_sha256"]
    assert runs[second]["system_sha256"] == change["after_sha256"]
    assert runs[first]["system_snapshot"]["target"]["model"] == "acme-support-1"
    assert runs[second]["system_snapshot"]["target"]["api_key_configured"] is True
    assert "ACME_KEY" not in files["data/runs.json"].decode()
    tested = {r["Configuration SHA-256"]: r for r in _csv(files, "workpapers/systems_as_tested.csv")}
    assert tested[change["before_sha256"]]["Runs"] == str(first)
    assert tested[change["before_sha256"]]["Current configuration"] == "no (changed since)"
    assert tested[change["after_sha256"]]["Current configuration"] == "yes"
    assert "model acme-support-1; hardened no" in tested[change["before_sha256"]]["Configuration as tested"]
    assert "model acme-support-2; hardened yes" in tested[change["after_sha256"]]["Configuration as tested"]
    report = files["report.md"].decode()
    assert "hardened no" in report and change["before_sha256"] in report


def test_an_engagement_file_update_records_each_system_configuration_before_and_after(tmp_path: Path) -> None:
    from app.engagements import apply_engagement, load_engagement_file

    path = tmp_path / "acme.yaml"
    text = """name: acme
client: Acme
audit: {type: type2, period: {start: 2026-01-01, end: 2026-12-31}}
systems:
  - name: support-bot
    target: {kind: demo, model: acme-support-1, hardened: false, api_key: {env: ACME_KEY}}
    models: [acme-support-1]
"""
    path.write_text(text)
    with session() as db:
        apply_engagement(db, load_engagement_file(path), path)
    path.write_text(text.replace("hardened: false", "hardened: true"))
    with session() as db:
        outcome = apply_engagement(db, load_engagement_file(path), path)
    change = outcome.changes["system_configurations"]["support-bot"]
    assert (change["before"]["target"]["hardened"], change["after"]["target"]["hardened"]) == (False, True)
    assert change["before_sha256"] != change["after_sha256"]
    [updated] = events(outcome.engagement.id or 0, "engagement.updated")
    assert updated.payload["changes"]["system_configurations"]["support-bot"]["after_sha256"] == \
        change["after_sha256"]
    assert "ACME_KEY" not in json.dumps(updated.payload)


def test_sentences_say_who_judged_and_coverage_counts_the_runs_of_declared_controls(demo: Any,
                                                                                    tmp_path: Path) -> None:
    from sqlmodel import select

    from app.store.models import Turn, Verdict
    from app.triage import record_human_verdict

    eid = make_engagement(demo.base_url, scenarios=SCENARIOS[:1])
    [only] = [o.run_id for o in run(eid)]
    with session() as db:
        auto = len(db.exec(select(Verdict).where(Verdict.run_id == only, Verdict.source == "auto")).all())
    assert auto >= 1

    files = _bundle(eid, tmp_path / "auto.zip")
    [row] = [r for r in _csv(files, "workpapers/test_results.csv") if r["Criterion / control id"] == "CC6.6"]
    assert (f"judged by automatic detectors only ({auto} verdict{'s' if auto != 1 else ''}; no tester review "
            "recorded)") in row["Test performed"]
    assert "tester review" not in row["Test performed"].replace("no tester review recorded", "")
    report = files["report.md"].decode()
    assert "no tester review is recorded in this bundle" in report
    assert f"Verdicts: {auto} automatic, 0 by a tester" in report
    plan = {r["Criterion / control id"]: r for r in _csv(files, "workpapers/test_plan.csv")}
    # pi-direct-override declares AI-SEC-01, which the client's matrix does not map: tested, not a gap.
    assert plan["AI-SEC-01"]["Runs"] == "1" and plan["AI-SEC-01"]["Scenarios run"] == "pi-direct-override"
    assert plan["AI-SEC-01"]["Coverage"].startswith("Not in the client's matrix; tested by 1 run")
    assert plan["AI-DATA-03"]["Runs"] == "0" and plan["AI-DATA-03"]["Coverage"].startswith("Gap")

    with session() as db:
        turn = db.exec(select(Turn).where(Turn.run_id == only)).first()
        record_human_verdict(db, run_id=only, turn_id=turn.id, outcome="fail", reason="quotes the system prompt",
                             actor="ana")
    files = _bundle(eid, tmp_path / "reviewed.zip")
    [row] = [r for r in _csv(files, "workpapers/test_results.csv") if r["Criterion / control id"] == "CC6.6"]
    assert (f"judged by automatic detectors ({auto} verdict{'s' if auto != 1 else ''}) and tester review "
            "(1 verdict)") in row["Test performed"]
    report = files["report.md"].decode()
    assert "the tester reviewed 1 of 1 run (1 tester verdict)" in report
    assert f"Verdicts: {auto} automatic, 1 by a tester" in report


def test_a_cancelled_run_inside_a_window_is_not_its_sample(monkeypatch: Any) -> None:
    """A run stopped part-way tested nothing to a conclusion: the window it ran in stays missed."""
    from sqlmodel import select

    from app.evidence.collect import load_evidence
    from app.store.models import Run, Scenario, TestWindow
    from tests.test_evidence_engagement import CANARY, CANARY_ENV, at, build_engagement

    monkeypatch.setenv(CANARY_ENV, CANARY)
    world = build_engagement()
    with session() as db:
        q3 = db.exec(select(TestWindow).where(TestWindow.name == "Q3")).one()
        scenario = db.exec(select(Scenario)).first()
        first = db.get(Run, world.runs["r1"])
        stopped = Run(engagement_id=world.engagement_id, system_id=first.system_id, scenario_pk=scenario.id,
                      window_id=q3.id, status="cancelled", verdict="", started_at=at("2025-08-12"),
                      created_at=at("2025-08-12"))
        db.add(stopped)
        db.flush()
        stopped_id = stopped.id
    with session() as db:
        ev = load_evidence(db, world.engagement_id)
    q3_row = next(w for w in ev.windows if w["name"] == "Q3")
    assert (q3_row["status"], q3_row["runs"]) == ("missed", 0)
    assert q3_row["not_counted"] == [{"run": stopped_id, "kind": "cancelled"}]
    assert f"run {stopped_id} (cancelled)" in q3_row["rationale"]


def test_the_cli_says_before_running_that_a_back_filled_window_will_not_count(demo: Any, capsys: Any) -> None:
    from app.cli import main

    make_engagement(demo.base_url, scenarios=SCENARIOS[:1], windows=WINDOWS)
    assert main(["run", "acme", "--window", "W0", "--no-probe"]) == 1  # the vulnerable demo fails
    err = capsys.readouterr().err
    assert "redline: runs made now are outside its test window W0" in err
    assert "late, run on" in err and "not counted as W0's sample" in err
    assert main(["run", "acme", "--no-probe"]) == 1  # today's window W1: no notice
    assert "runs made now are" not in capsys.readouterr().err


def test_a_run_is_resumed_only_against_the_system_it_started_on(demo: Any) -> None:
    """A resumed run must not mix configurations: after the system is edited, resuming is refused and the
    run keeps the snapshot it was tested against; unedited, the resume records the configuration's hash."""
    import asyncio

    import pytest

    from app.errors import RedlineError
    from app.runner import resume_run
    from app.store.models import Run

    eid = make_engagement(demo.base_url, scenarios=SCENARIOS[:1])
    [run_id] = [o.run_id for o in run(eid)]

    def interrupt() -> str:
        with session() as db:
            stored = db.get(Run, run_id)
            assert stored is not None
            stored.status = "interrupted"
            db.add(stored)
            return stored.system_sha256

    tested = interrupt()
    with session() as db:
        [system] = alignment.systems_of(db, eid)
        alignment.save_system(db, eid, alignment.system_spec(
            name=system.name, kind="demo", base_url=demo.base_url, model="acme-support-1",
            models=["acme-support-1"], canaries=["RL-CANARY-7f3a91"], extra_target={"hardened": True}),
            system_id=system.id)
    with pytest.raises(RedlineError, match="configuration changed since run"):
        asyncio.run(resume_run(run_id))
    with session() as db:
        stored = db.get(Run, run_id)
        assert stored is not None and (stored.status, stored.system_sha256) == ("interrupted", tested)
        stored.status = "finished"
        db.add(stored)

    [second] = [o.run_id for o in run(eid)]  # started on the edited system: its resume is allowed
    run_id = second
    now = interrupt()
    asyncio.run(resume_run(run_id))
    [resumed] = [e for e in events(eid, "run.resumed") if e.entity == f"run:{run_id}"]
    assert resumed.payload["system_sha256"] == now != tested
