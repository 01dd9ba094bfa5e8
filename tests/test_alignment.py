"""The pre-engagement alignment core: windows, systems, control matrix, coverage, timing, status, the demo."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from app import alignment
from app.alignment import AlignmentError, WindowPlan
from app.errors import FileFormatError
from app.store.audit import verify_chain
from app.store.engine import session
from app.store.models import AuditEvent, ControlMapping, Run, Scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_MATRIX = REPO / "assets" / "examples" / "control-matrix.csv"


# --- windows ------------------------------------------------------------------------------------

def test_quarterly_suggestion_puts_a_two_week_window_mid_quarter() -> None:
    plans = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31))
    assert [p.name for p in plans] == ["Q1", "Q2", "Q3", "Q4"]
    assert all(p.days == 14 for p in plans)
    quarters = [(date(2026, m, 1), date(2026 + (m == 10), (m + 3) % 12 or 12, 1)) for m in (1, 4, 7, 10)]
    for plan, (first, after) in zip(plans, quarters, strict=True):
        assert first < plan.start and plan.end < after
        # centred: the gap before and after differs by at most a day
        before, behind = (plan.start - first).days, (after - plan.end).days - 1
        assert abs(before - behind) <= 1


def test_suggestion_from_today_never_offers_a_window_that_has_already_ended() -> None:
    """On 2026-12-05 a 2026 period has one quarter left: Q4, moved after today; Q1-Q3 are not offered."""
    late = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 12, 5))
    assert late == [WindowPlan("Q4", date(2026, 12, 11), date(2026, 12, 24))]
    # A window still ahead keeps its mid-quarter place; only the ones behind today change or go.
    april = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 4, 20))
    assert [p.name for p in april] == ["Q2", "Q3", "Q4"]
    assert april == alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31))[1:]
    # A quarter with fewer days left than a window gets a window as long as what is left.
    end = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), today=date(2026, 12, 28))
    assert end == [WindowPlan("Q4", date(2026, 12, 28), date(2026, 12, 31))]
    # Before the period, nothing changes; after it, there is nothing left to suggest, and it says so.
    assert alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), today=date(2025, 6, 1)) == \
        alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(ValueError, match="ended on 2026-12-31"):
        alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), today=date(2027, 1, 2))


def test_suggestion_follows_a_period_that_is_not_a_calendar_year() -> None:
    plans = alignment.suggest_windows(date(2025, 7, 1), date(2026, 6, 30))
    assert [(p.start, p.end) for p in plans][0] == (date(2025, 8, 9), date(2025, 8, 22))
    assert plans[-1].end <= date(2026, 6, 30)
    months = alignment.suggest_windows(date(2026, 1, 31), date(2026, 4, 15), "month")
    assert [p.name for p in months] == ["M1", "M2", "M3"]
    assert all(date(2026, 1, 31) <= p.start and p.end <= date(2026, 4, 15) for p in months)
    short = alignment.suggest_windows(date(2026, 3, 1), date(2026, 3, 10))
    assert short == [WindowPlan("Q1", date(2026, 3, 1), date(2026, 3, 10))]
    with pytest.raises(ValueError, match="every must be one of"):
        alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31), "week")  # type: ignore[arg-type]


def test_window_labels_for_home() -> None:
    plans = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31))
    assert alignment.next_window_label(plans, date(2026, 4, 20)) == "Q2 in 19d"
    assert alignment.next_window_label(plans, date(2026, 5, 10)) == "Q2 now"
    assert alignment.next_window_label(plans, date(2026, 12, 1)) == "done"
    assert alignment.next_window_label([], date(2026, 12, 1)) == "–"
    assert alignment.period_label(date(2026, 1, 1), date(2026, 12, 31)) == "2026"
    assert alignment.period_label(date(2026, 1, 1), date(2026, 6, 30)) == "2026-01..06"
    assert alignment.period_label(date(2026, 3, 5), date(2027, 3, 4)) == "2026-03-05..2027-03-04"


def test_window_problems_are_named() -> None:
    plans = [WindowPlan("Q1", date(2026, 2, 1), date(2026, 1, 1)), WindowPlan("Q1", date(2027, 1, 1), date(2027, 1, 2))]
    problems = alignment.window_problems(plans, date(2026, 1, 1), date(2026, 12, 31))
    assert "window 'Q1' ends before it starts" in problems
    assert "window name 'Q1' is used twice" in problems
    assert any("falls outside the audit period 2026-01-01..2026-12-31" in p for p in problems)


# --- engagement, systems ------------------------------------------------------------------------

def _new(name: str = "acme-2026") -> int:
    with session() as db:
        return alignment.create_engagement(db, name, "Acme Corp").id or 0


def _actions(engagement_id: int) -> list[str]:
    from sqlmodel import select

    with session() as db:
        rows = db.exec(select(AuditEvent).where(AuditEvent.chain == f"engagement:{engagement_id}")
                       .order_by(AuditEvent.seq)).all()
        return [r.action for r in rows]


def test_create_engagement_validates_the_name_and_records_it() -> None:
    eid = _new()
    with session() as db:
        with pytest.raises(AlignmentError, match="already exists"):
            alignment.create_engagement(db, "acme-2026")
    with session() as db:
        with pytest.raises(AlignmentError, match="is not allowed"):
            alignment.create_engagement(db, "acme 2026!")
    assert _actions(eid) == ["engagement.created"]


def test_a_key_is_only_ever_a_reference() -> None:
    assert alignment.key_reference("env", "ACME_KEY") == {"env": "ACME_KEY"}
    assert alignment.key_reference("keyring", "acme-prod") == {"keyring": "acme-prod"}
    assert alignment.key_reference("none", "") is None
    with pytest.raises(AlignmentError, match="looks like an API key itself"):
        alignment.key_reference("env", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789")
    with pytest.raises(AlignmentError, match="not an environment variable name"):
        alignment.key_reference("env", "my key")
    with pytest.raises(AlignmentError, match="base_url"):
        alignment.system_spec(name="bot", kind="openai")


def test_systems_are_saved_edited_and_removed_keeping_history() -> None:
    eid = _new()
    spec = alignment.system_spec(name="support-bot", kind="openai", base_url="http://127.0.0.1:9/v1",
                                 model="acme-support-1", key={"env": "ACME_KEY"}, models=["acme-support-1"],
                                 canaries=["CANARY-1"])
    with session() as db:
        first = alignment.save_system(db, eid, spec)
    assert first.target["api_key"] == {"env": "ACME_KEY"} and first.target["canaries"] == ["CANARY-1"]
    edited = alignment.system_spec(name="support-bot", kind="openai", base_url="http://127.0.0.1:9/v1",
                                   owner="Dana", key={"env": "ACME_KEY"})
    with session() as db:
        again = alignment.save_system(db, eid, edited, system_id=first.id)
        with pytest.raises(AlignmentError, match="already has a system named"):
            alignment.save_system(db, eid, spec)
    assert again.id == first.id and again.owner == "Dana"
    # A tested system is only taken out of scope; an untested one is deleted.
    with session() as db:
        scenario = Scenario(scenario_id="s1", sha256="0" * 64)
        db.add(scenario)
        db.flush()
        db.add(Run(engagement_id=eid, system_id=first.id, scenario_pk=scenario.id))
        other = alignment.save_system(db, eid, alignment.system_spec(name="bot-2", kind="demo"))
    with session() as db:
        kept = alignment.remove_system(db, eid, first.id or 0)
        gone = alignment.remove_system(db, eid, other.id or 0)
    assert kept is not None and kept.in_scope is False and gone is None
    with session() as db:
        assert [s.name for s in alignment.systems_of(db, eid)] == ["support-bot"]
    assert _actions(eid).count("system.added") == 2
    assert "system.descoped" in _actions(eid) and "system.removed" in _actions(eid)


# --- control matrix and coverage ----------------------------------------------------------------

def test_rows_by_hand_are_checked_against_catalog_and_library() -> None:
    from app.catalog import load_catalog

    eid = _new()
    catalog = load_catalog()
    with session() as db:
        with pytest.raises(AlignmentError, match="unknown criterion or control 'CC9.9'"):
            alignment.save_row(db, eid, criterion="CC9.9", catalog=catalog)
        with pytest.raises(AlignmentError, match="unknown scenario 'nope'"):
            alignment.save_row(db, eid, criterion="CC6.6", scenarios=["nope"], catalog=catalog,
                               known_scenarios={"pi-direct-override"})
        row = alignment.save_row(db, eid, criterion="CC6.6", client_ref="SEC-12", activity="Prompts are screened",
                                 scenarios=["pi-direct-override", "pi-direct-override"], catalog=catalog,
                                 known_scenarios={"pi-direct-override"})
    assert row.scenarios == ["pi-direct-override"]
    assert _actions(eid)[-1] == "controls.row_added"


def test_matrix_import_and_coverage_gaps() -> None:
    from app.catalog import load_catalog

    eid = _new()
    with session() as db:
        added = alignment.import_matrix(db, eid, EXAMPLE_MATRIX)
    assert added and "controls.matrix_imported" in _actions(eid)
    catalog = load_catalog()
    known = {"pi-direct-override"}
    with session() as db:
        cov = alignment.coverage(db, eid, catalog=catalog, known_scenarios=known)
    assert len(cov.rows) == len(added)
    for row in cov.rows:
        assert row.gap == (not (set(row.scenarios) & known))
        assert set(row.scenarios) <= known
    mapped = {r.criterion for r in cov.rows}
    assert set(cov.unmapped_ai_controls) == {c.id for c in catalog.controls} - mapped
    assert cov.gaps and not cov.complete and "without a scenario" in cov.summary()
    assert cov.by_criterion.get("CC6.6") == ("pi-direct-override",)


def test_a_bad_matrix_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "matrix.csv"
    bad.write_text("criterion,client_ref,activity\nCC6.6,SEC-1,ok\nCC9.9,SEC-2,bad\n", encoding="utf-8")
    eid = _new()
    with pytest.raises(FileFormatError, match="CC9.9"):
        with session() as db:
            alignment.import_matrix(db, eid, bad)
    with session() as db:
        assert alignment.rows_of(db, eid) == []
    assert _actions(eid) == ["engagement.created"]


# --- timing, evidence, steps --------------------------------------------------------------------

def test_timing_windows_and_steps_resume() -> None:
    eid = _new()
    with session() as db:
        assert alignment.step_problems(db, eid, "timing") == [
            "set the audit period", "plan at least one test window (press g for the suggested schedule)"]
        with pytest.raises(AlignmentError, match="Systems is not complete"):
            alignment.complete_step(db, eid, "systems")
    plans = alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31))
    with session() as db:
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31), plans)
        with pytest.raises(AlignmentError, match="falls outside the audit period"):
            alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 6, 30), plans)
        engagement = alignment.complete_step(db, eid, "timing")
    assert alignment.next_step(engagement) == "systems" and alignment.steps_done(engagement) == ["timing"]
    # A window holding runs cannot be dropped; moving it is fine.
    with session() as db:
        q1 = alignment.windows_of(db, eid)[0]
        system = alignment.save_system(db, eid, alignment.system_spec(name="bot", kind="demo"))
        scenario = Scenario(scenario_id="s1", sha256="1" * 64)
        db.add(scenario)
        db.flush()
        db.add(Run(engagement_id=eid, system_id=system.id, scenario_pk=scenario.id, window_id=q1.id))
    with session() as db:
        with pytest.raises(AlignmentError, match="window 'Q1' already has runs"):
            alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31), plans[1:])
        moved = [WindowPlan("Q1", date(2026, 3, 1), date(2026, 3, 14)), *plans[1:]]
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31), moved)
    with session() as db:
        assert alignment.windows_of(db, eid)[0].id == q1.id
        alignment.set_evidence(db, eid, ["oscal", "report"], " Example CPA ")
        with pytest.raises(AlignmentError, match="unknown evidence format pdf"):
            alignment.set_evidence(db, eid, ["pdf"], "")
        engagement = alignment.set_type1(db, eid, date(2026, 6, 30), 5)
    assert engagement.evidence_format == ["report", "oscal"] and engagement.cpa_firm == "Example CPA"
    assert engagement.audit_type == "type1"
    with session() as db:
        assert verify_chain(db, eid) == []


# --- control status -----------------------------------------------------------------------------

def _run(db, eid: int, system_id: int, scenario_pk: int, window: Any, verdict: str, minute: int) -> None:
    """A finished run dated on its window's first day (a run counts for a window only inside its dates)."""
    day = window.start if window is not None else date(2026, 5, 10)
    at = datetime(day.year, day.month, day.day, 12, minute, tzinfo=UTC)
    db.add(Run(engagement_id=eid, system_id=system_id, scenario_pk=scenario_pk,
               window_id=window.id if window is not None else None, status="finished", verdict=verdict,
               created_at=at, started_at=at, finished_at=at))


def test_control_status_takes_the_latest_run_per_window_and_the_worst_across_systems() -> None:
    from app.catalog import load_catalog

    eid = _new()
    with session() as db:
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31),
                            alignment.suggest_windows(date(2026, 1, 1), date(2026, 12, 31)))
        q1, q2 = alignment.windows_of(db, eid)[:2]
        a = alignment.save_system(db, eid, alignment.system_spec(name="a", kind="demo"))
        b = alignment.save_system(db, eid, alignment.system_spec(name="b", kind="demo"))
        pi = Scenario(scenario_id="pi", sha256="2" * 64)
        leak = Scenario(scenario_id="leak", sha256="3" * 64)
        db.add_all([pi, leak])
        db.flush()
        db.add(ControlMapping(engagement_id=eid, criterion="CC6.6", client_ref="SEC-12", activity="screened",
                              scenarios=["pi", "leak"]))
        db.add(ControlMapping(engagement_id=eid, criterion="AI-GOV-01", client_ref="GOV-1", scenarios=[]))
        _run(db, eid, a.id, pi.id, q1, "fail", 1)   # failed, then fixed and run again in Q1
        _run(db, eid, a.id, pi.id, q1, "pass", 2)
        _run(db, eid, a.id, leak.id, q2, "pass", 3)
        _run(db, eid, b.id, leak.id, q2, "fail", 4)  # the other system fails: the worst speaks
        _run(db, eid, a.id, pi.id, None, "review", 5)   # outside any window
    with session() as db:
        status = alignment.control_status(db, eid, catalog=load_catalog())
    assert status.windows == ("Q1", "Q2", "Q3", "Q4", "other")
    cc66, gov = status.criteria
    assert cc66.criterion == "CC6.6" and cc66.client_controls == (("SEC-12", "screened"),)
    by_window = {w.window: w for w in cc66.windows}
    assert (by_window["Q1"].result, by_window["Q1"].tested, by_window["Q1"].total) == ("pass", 1, 2)
    assert by_window["Q2"].result == "fail" and by_window["Q2"].scenarios == {"leak": "fail"}
    assert by_window["Q3"].result == alignment.NOT_TESTED
    assert by_window["other"].result == "review"
    assert cc66.latest == "fail"
    assert gov.name and gov.scenarios == () and all(w.result == alignment.NOT_TESTED for w in gov.windows)


# --- the demo engagement and the file ----------------------------------------------------------

def test_demo_engagement_is_complete_and_idempotent() -> None:
    from app.demo.server import DEMO_CANARY
    from app.demo_engagement import ensure_demo_engagement

    with session() as db:
        demo = ensure_demo_engagement(db, today=date(2026, 4, 20))
    with session() as db:
        again = ensure_demo_engagement(db, today=date(2027, 1, 5))
        windows = alignment.windows_of(db, demo.id or 0)
        systems = alignment.systems_of(db, demo.id or 0)
        rows = alignment.rows_of(db, demo.id or 0)
        assert verify_chain(db, demo.id) == []
    assert again.id == demo.id and demo.is_demo and demo.client == "(built-in)"
    assert (demo.period_start, demo.period_end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert [w.name for w in windows] == ["Q1", "Q2", "Q3", "Q4"]
    assert alignment.is_aligned(demo)
    assert [(s.name, s.target["kind"], s.models, s.target["canaries"]) for s in systems] == [
        ("support-bot", "demo", ["acme-support-1"], [DEMO_CANARY])]
    assert {"CC6.6", "AI-GOV-01"} <= {r.criterion for r in rows}
    assert any(r.scenarios for r in rows)


def test_engagement_file_round_trip(tmp_path: Path) -> None:
    from app.demo_engagement import ensure_demo_engagement
    from app.engagements import export_engagement, load_engagement_file

    with session() as db:
        demo = ensure_demo_engagement(db, today=date(2026, 4, 20))
        written = alignment.write_engagement_file(db, demo.id or 0, tmp_path)
    assert written == tmp_path / "demo.yaml"
    loaded = load_engagement_file(written)
    with session() as db:
        assert loaded == export_engagement(db, "demo")
    assert "engagement.exported" in _actions(demo.id or 0)


# --- test connection (real loopback servers) --------------------------------------------------

async def test_connection_check_flags_undocumented_models_on_the_demo_system() -> None:
    spec = alignment.system_spec(name="bot", kind="demo").target
    report = await alignment.check_connection(spec, ["acme-support-1"])
    assert "acme-support-1" in report.models
    assert "acme-support-staging" in report.undocumented and "acme-support-1" not in report.undocumented
    assert report.ok and report.ttft_ms is not None and report.reply


async def test_connection_check_reports_a_dead_endpoint_without_raising() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = alignment.system_spec(name="bot", kind="openai", base_url=f"http://127.0.0.1:{port}/v1").target
    spec = spec.model_copy(update={"max_retries": 0})
    report = await alignment.check_connection(spec, [])
    assert report.models == () and report.list_error.startswith("connect")
    assert not report.ok and report.chat_error.startswith("connect")


async def test_a_404_names_the_url_it_tried_and_suggests_the_missing_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.demo import start_demo_server

    monkeypatch.setenv("RL_TEST_KEY", "demo-key")
    server = start_demo_server(chunk_delay=0, service_time=0)
    try:
        root = server.base_url.removesuffix("/v1")
        spec = alignment.system_spec(name="bot", kind="openai", base_url=root, model="acme-support-1",
                                     key={"env": "RL_TEST_KEY"}).target.model_copy(update={"max_retries": 0})
        report = await alignment.check_connection(spec, [])
        assert not report.ok and "404" in report.chat_error
        assert f"tried POST {root}/chat/completions" in report.chat_error
        assert f"did you mean {root}/v1?" in report.chat_error
        assert f"tried GET {root}/models" in report.list_error and f"{root}/v1?" in report.list_error
        right = spec.model_copy(update={"base_url": server.base_url})
        good = await alignment.check_connection(right, [])
        assert good.ok and good.list_error == "" and "did you mean" not in good.chat_error
        # A 404 under a base URL that already ends in /v1 names the URL but suggests nothing.
        wrong_model = await alignment.check_connection(right.model_copy(update={"base_url": server.base_url + "/x"}), [])
        assert "tried POST" in wrong_model.chat_error and "did you mean" not in wrong_model.chat_error
    finally:
        server.stop()


def test_connection_check_is_recorded() -> None:
    eid = _new()
    report = alignment.ConnectionReport(models=("m1", "m2"), undocumented=("m2",), ttft_ms=12.345)
    with session() as db:
        system = alignment.save_system(db, eid, alignment.system_spec(name="bot", kind="demo"))
        alignment.record_connection_check(db, eid, system.id or 0, report)
    with session() as db:
        from sqlmodel import select

        event = db.exec(select(AuditEvent).where(AuditEvent.action == "system.connection_checked")).one()
    assert event.payload["undocumented"] == ["m2"] and event.payload["ttft_ms"] == 12.3
    assert event.entity == f"system:{system.id}"



def test_scenarios_say_which_system_fields_they_need_and_which_no_system_has() -> None:
    from app.alignment.needs import needs_note, scenario_needs, unmet_needs
    from app.library import load_library

    library = load_library([])
    needs = {s.spec.id: scenario_needs(s.spec) for s in library.all()}
    assert needs["api-revoked-key"] == ("revoked_key",)
    assert needs["gov-model-inventory"] == ("models",)
    assert "canaries" in needs["pi-direct-override"]
    assert needs["api-unauthenticated-chat"] == ()
    eid = _new()
    with session() as db:
        bare = alignment.save_system(db, eid, alignment.system_spec(
            name="bare", kind="openai", base_url="http://127.0.0.1:9/v1"))
        revoked = library.get("api-revoked-key").spec
        assert unmet_needs(revoked, [bare]) == ("revoked_key",)
        full = alignment.save_system(db, eid, alignment.system_spec(
            name="full", kind="openai", base_url="http://127.0.0.1:9/v1", models=["m1"], canaries=["C-1"],
            extra_target={"revoked_key": {"env": "ACME_REVOKED_KEY"}}))
        assert unmet_needs(revoked, [bare, full]) == ()
        full.in_scope = False  # a system outside the scope never runs, so it cannot meet a need
        assert unmet_needs(revoked, [bare, full]) == ("revoked_key",)
        assert unmet_needs(library.get("pi-direct-override").spec, [bare]) == ("canaries",)
    note = needs_note("api-revoked-key", ("revoked_key",))
    assert note.startswith("api-revoked-key not mapped: it needs a revoked key") and "Revoked key in" in note
