"""The alignment wizard, driven like a tester would: four steps, saved as they go, resumable."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from cockpit_pilot import TODAY, record_notifications, screen_name, store_ready, wait_for
from textual.widgets import Checkbox, DataTable, Input, RadioButton, Select, SelectionList, Static

from screens.app import RedlineApp

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_MATRIX = REPO / "assets" / "examples" / "control-matrix.csv"
SNAPSHOT_SCENARIOS = Path(__file__).resolve().parent / "data" / "scenarios"


def _new_engagement(name: str = "acme-2026", scenario_paths: list[str] | None = None) -> int:
    from app import alignment
    from app.store.engine import dispose_all, session

    with session() as db:
        engagement = alignment.create_engagement(db, name, "Acme Corp")
        engagement.scenario_paths = list(scenario_paths or [])
        db.add(engagement)
        eid = engagement.id or 0
    dispose_all()
    return eid


async def _open_wizard(pilot: Any, engagement_id: int) -> Any:
    await store_ready(pilot)
    pilot.app.open_engagement(engagement_id)
    await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard")
    return pilot.app.screen


def _table(app: Any, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def _fill(pilot: Any, values: dict[str, str]) -> None:
    for field, value in values.items():
        pilot.app.screen.query_one(f"#{field}", Input).value = value
    await pilot.pause()


async def _add_system(pilot: Any) -> None:
    await pilot.press("a")
    await wait_for(pilot, lambda: screen_name(pilot) == "SystemForm", "the system form")
    form = pilot.app.screen
    form.query_one("#sys-kind", Select).value = "openai"
    form.query_one("#sys-keysrc", Select).value = "env"
    await _fill(pilot, {"sys-name": "support-bot", "sys-url": "http://127.0.0.1:8700/v1",
                        "sys-model": "acme-support-1", "sys-keyname": "ACME_KEY",
                        "sys-models": "acme-support-1, acme-support-2", "sys-owner": "Dana"})
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the form to close")


async def test_the_four_steps_are_completed_and_persist() -> None:
    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await _open_wizard(pilot, eid)
        assert wizard.current == "systems"
        # (a) systems: a key *reference* only; then the step is done.
        await _add_system(pilot)
        (row,) = _table(app, "#systems-table")
        assert row[:2] == ["support-bot", "openai env ACME_KEY"] and row[2].startswith("acme-support-1")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: wizard.current == "controls", "the controls step")
        # (b) controls: one row by hand, then the client's CSV.
        step = wizard.pane("controls")
        await wait_for(pilot, lambda: step.library is not None, "the library to load")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "RowForm", "the row form")
        form = app.screen
        form.query_one("#row-criterion", Select).value = "CC6.6"
        await pilot.pause()
        form.query_one("#row-scenarios", SelectionList).select("pi-direct-override")
        await _fill(pilot, {"row-ref": "SEC-12", "row-activity": "Prompts are screened"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the form to close")
        assert _table(app, "#matrix-table") == [["CC6.6", "SEC-12", "pi-direct-override"]]
        crosswalk = str(app.screen.query_one("#matrix-crosswalk", Static).content)
        assert "SEC-12: Prompts are screened" in crosswalk  # at 80 columns the activity shows below
        assert "ISO 42001 A.6.2.5" in crosswalk and "EU AI Act Art. 15" in crosswalk
        await pilot.press("i")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the path prompt")
        app.screen.query_one(Input).value = str(EXAMPLE_MATRIX)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(_table(app, "#matrix-table")) > 1, "the imported rows")
        rows = _table(app, "#matrix-table")
        assert ["AI-GOV-01", "ACME-GOV-01"] in [r[:2] for r in rows]
        assert any(r[-1] == "none: gap" for r in rows)  # a row with no scenario is flagged
        assert "without a scenario" in str(app.screen.query_one("#matrix-coverage", Static).content)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: wizard.current == "timing", "the timing step")
        # (c) timing: accept the suggested quarterly windows.
        await pilot.press("g")
        await wait_for(pilot, lambda: len(_table(app, "#windows-table")) == 3, "the suggested windows")
        # TODAY is 2026-04-20: Q1 has ended and is not offered; Q2 keeps its mid-quarter place.
        assert _table(app, "#windows-table")[0] == ["Q2", "2026-05-09", "2026-05-22", "14"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: wizard.current == "evidence", "the evidence step")
        # (d) evidence: tick the formats, name the firm.
        for box in ("#fmt-workpapers", "#fmt-oscal"):
            app.screen.query_one(box, Checkbox).value = True
        await _fill(pilot, {"cpa-firm": "Example CPA LLP"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "the engagement to open")
    await _assert_persisted(eid)


async def _assert_persisted(eid: int) -> None:
    from app import alignment
    from app.store.audit import verify_chain
    from app.store.engine import session

    with session() as db:
        engagement = alignment.get_engagement(db, eid)
        systems = alignment.systems_of(db, eid)
        rows = alignment.rows_of(db, eid)
        windows = alignment.windows_of(db, eid)
        assert verify_chain(db, eid) == []
    assert alignment.is_aligned(engagement)
    assert engagement.evidence_format == ["report", "workpapers", "oscal"] and engagement.cpa_firm == "Example CPA LLP"
    assert systems[0].target["api_key"] == {"env": "ACME_KEY"} and systems[0].models == ["acme-support-1", "acme-support-2"]
    assert rows[0].criterion == "CC6.6" and rows[0].scenarios == ["pi-direct-override"] and len(rows) > 5
    assert [w.name for w in windows] == ["Q2", "Q3", "Q4"]
    assert (engagement.period_start, engagement.period_end) == (date(2026, 1, 1), date(2026, 12, 31))
    # The store answers the same after a restart: reopen in a new app and find every tick.
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await store_ready(pilot)
        app.push_screen_for("wizard", eid)
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard")
        assert app.screen.done == ["systems", "controls", "timing", "evidence"]


async def test_leave_and_come_back_resumes_at_the_next_step() -> None:
    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await _add_system(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.current == "controls", "the controls step")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(pilot) == "HomeScreen", "Home")
        await wait_for(pilot, lambda: app.screen.query_one("#engagements", DataTable).row_count == 1, "the row")
        assert str(app.screen.query_one("#engagements", DataTable).get_row_at(0)[-1]) == "1/4"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the wizard again")
        assert app.screen.current == "controls" and app.screen.done == ["systems"]
        assert _table(app, "#systems-table")[0][0] == "support-bot"


async def test_a_step_cannot_be_done_while_it_is_incomplete() -> None:
    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await _open_wizard(pilot, eid)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: shown, "the refusal")
        assert wizard.current == "systems" and wizard.done == []
        assert "add at least one in-scope AI system" in shown[-1]["message"]


async def test_a_pasted_key_is_refused_inside_the_form() -> None:
    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "SystemForm", "the system form")
        app.screen.query_one("#sys-keysrc", Select).value = "env"
        await _fill(pilot, {"sys-name": "bot", "sys-url": "http://127.0.0.1:9/v1",
                            "sys-keyname": "sk-live-0123456789abcdefghijklmnopqrstuvwxyz"})
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen_name(pilot) == "SystemForm"
        assert "looks like an API key itself" in str(app.screen.query_one(".form-error", Static).content)
    from app.store.engine import session

    with session() as db:
        from app import alignment

        assert alignment.systems_of(db, eid) == []


async def test_test_connection_shows_models_ttft_and_undocumented_ones() -> None:
    from app import alignment
    from app.store.engine import dispose_all, session

    eid = _new_engagement()
    with session() as db:
        alignment.save_system(db, eid, alignment.system_spec(name="support-bot", kind="demo",
                                                             models=["acme-support-1"]))
    dispose_all()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await pilot.press("t")
        result = app.screen.query_one("#systems-result", Static)
        await wait_for(pilot, lambda: "TTFT" in str(result.content) or "failed" in str(result.content),
                       "the connection check")
        text = str(result.content)
        assert "Undocumented (AI-GOV-01): acme-support-staging" in text and "TTFT" in text


async def test_type1_timing_and_the_engagement_file_export(tmp_path: Path) -> None:
    from app import alignment
    from app.engagements import load_engagement_file
    from app.store.engine import session

    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await _open_wizard(pilot, eid)
        await pilot.press("3")
        await wait_for(pilot, lambda: wizard.current == "timing", "the timing step")
        app.screen.query_one("#type1", RadioButton).value = True
        await wait_for(pilot, lambda: app.screen.query_one("#type1-fields").display, "the Type I fields")
        assert not app.screen.query_one("#type2-windows").display
        await _fill(pilot, {"as-of": "2026-06-30", "tolerance": "5"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "timing" in wizard.done, "the timing step to be done")
        await pilot.press("4")
        await wait_for(pilot, lambda: wizard.current == "evidence", "the evidence step")
        await pilot.press("x")
        await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the export prompt")
        app.screen.query_one(Input).value = str(tmp_path / "out.yaml")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "out.yaml").exists(), "the engagement file")
    with session() as db:
        engagement = alignment.get_engagement(db, eid)
    assert (engagement.audit_type, engagement.as_of, engagement.type1_tolerance_days) == ("type1", date(2026, 6, 30), 5)
    spec = load_engagement_file(tmp_path / "out.yaml")
    assert spec.audit.type == "type1" and spec.audit.as_of == date(2026, 6, 30) and spec.client == "Acme Corp"


def test_wizard_controls_step_snapshot(snap_compare: Any) -> None:
    from app import alignment
    from app.catalog import load_catalog
    from app.store.engine import dispose_all, session

    eid = _new_engagement(scenario_paths=[str(SNAPSHOT_SCENARIOS)])
    catalog = load_catalog()
    with session() as db:
        alignment.save_system(db, eid, alignment.system_spec(name="support-bot", kind="demo"))
        alignment.complete_step(db, eid, "systems")
        alignment.save_row(db, eid, criterion="CC6.6", client_ref="ACME-SEC-12", catalog=catalog,
                           activity="Customer prompts are screened for injected instructions.",
                           scenarios=["snap-boundary-check"])
        alignment.save_row(db, eid, criterion="AI-GOV-01", client_ref="ACME-GOV-01", catalog=catalog,
                           activity="Every production model is in the inventory.")
        alignment.save_row(db, eid, criterion="C1.1", client_ref="ACME-DATA-07", catalog=catalog,
                           activity="[bold]Never[/bold] disclose other customers' records.",
                           scenarios=["snap-boundary-check"])
    dispose_all()

    async def on_controls(pilot: Any) -> None:
        await _open_wizard(pilot, eid)
        await wait_for(pilot, lambda: pilot.app.screen.current == "controls", "the controls step")
        step = pilot.app.screen.pane("controls")
        await wait_for(pilot, lambda: step.library is not None and step.rows, "the matrix")
        await pilot.pause()

    assert snap_compare(RedlineApp(today=TODAY), terminal_size=(80, 24), run_before=on_controls)


async def test_suggested_windows_start_today_or_later() -> None:
    """On 2026-12-05 (when a tester met this), `g` on a calendar-2026 period offers only Q4, after today."""
    from app import alignment
    from app.store.engine import dispose_all, session

    eid = _new_engagement()
    with session() as db:
        alignment.save_system(db, eid, alignment.system_spec(name="support-bot", kind="demo"))
        alignment.set_type2(db, eid, date(2026, 1, 1), date(2026, 12, 31), [])
    dispose_all()
    app = RedlineApp(today=date(2026, 12, 5))
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await _open_wizard(pilot, eid)
        await pilot.press("3")
        await wait_for(pilot, lambda: wizard.current == "timing", "the timing step")
        await pilot.press("g")
        await wait_for(pilot, lambda: len(_table(app, "#windows-table")) >= 1, "the suggested windows")
        await pilot.pause()
        assert _table(app, "#windows-table") == [["Q4", "2026-12-11", "2026-12-24", "14"]]
    with session() as db:
        stored = alignment.windows_of(db, eid)
    assert [(w.name, w.start, w.end) for w in stored] == [("Q4", date(2026, 12, 11), date(2026, 12, 24))]


async def test_the_system_form_takes_the_revoked_key_canaries_and_documented_models() -> None:
    """What the README's example file expresses, a system built in the wizard can express too."""
    from app import alignment
    from app.store.engine import dispose_all, session

    eid = _new_engagement()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "SystemForm", "the system form")
        form = app.screen
        form.query_one("#sys-kind", Select).value = "openai"
        form.query_one("#sys-keysrc", Select).value = "env"
        form.query_one("#sys-revokedsrc", Select).value = "env"
        await _fill(pilot, {"sys-name": "support-bot", "sys-url": "http://127.0.0.1:8750/v1",
                            "sys-model": "acme-support-1", "sys-keyname": "ACME_KEY",
                            "sys-revokedname": "sk-live-abcdefghijklmnopqrstuvwxyz0123456789",
                            "sys-models": "acme-support-1", "sys-canaries": "ACME-CANARY-2c91d4, RL-CANARY-7f3a91"})
        await pilot.press("ctrl+s")
        await pilot.pause()
        # A pasted key is refused for the revoked key as for the live one.
        assert screen_name(pilot) == "SystemForm"
        assert "looks like an API key" in str(form.query_one(".form-error", Static).render())
        await _fill(pilot, {"sys-revokedname": "ACME_REVOKED_KEY"})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the form to close")
    with session() as db:
        [system] = alignment.systems_of(db, eid)
        target = dict(system.target)
    dispose_all()
    assert target["revoked_key"] == {"env": "ACME_REVOKED_KEY"} and target["api_key"] == {"env": "ACME_KEY"}
    assert target["canaries"] == ["ACME-CANARY-2c91d4", "RL-CANARY-7f3a91"] and system.models == ["acme-support-1"]

    # Editing it again shows what was stored, and clearing the revoked key removes it.
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await pilot.press("e")
        await wait_for(pilot, lambda: screen_name(pilot) == "SystemForm", "the edit form")
        form = app.screen
        assert form.query_one("#sys-revokedname", Input).value == "ACME_REVOKED_KEY"
        assert form.query_one("#sys-canaries", Input).value == "ACME-CANARY-2c91d4, RL-CANARY-7f3a91"
        form.query_one("#sys-revokedsrc", Select).value = "none"
        await _fill(pilot, {"sys-revokedname": ""})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the form to close")
    with session() as db:
        [system] = alignment.systems_of(db, eid)
    assert "revoked_key" not in system.target and system.target["canaries"]


async def test_suggest_offers_a_scenario_a_system_cannot_serve_with_a_note_instead_of_mapping_it() -> None:
    from app import alignment
    from app.store.engine import dispose_all, session

    eid = _new_engagement()
    with session() as db:
        alignment.save_system(db, eid, alignment.system_spec(
            name="support-bot", kind="openai", base_url="http://127.0.0.1:8750/v1", model="acme-support-1",
            key={"env": "ACME_KEY"}))
        alignment.save_row(db, eid, criterion="CC6.3", client_ref="ACME-AC-02", activity="Keys are revoked.",
                           scenarios=[])
    dispose_all()
    app = RedlineApp(today=TODAY)
    shown = record_notifications(app)
    async with app.run_test(size=(80, 24)) as pilot:
        wizard = await _open_wizard(pilot, eid)
        await pilot.press("2")
        await wait_for(pilot, lambda: wizard.current == "controls", "the controls step")
        await wait_for(pilot, lambda: getattr(app.screen.query_one("#step-controls"), "library", None) is not None
                       if app.screen.query("#step-controls") else True, "the library")
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: any("not mapped" in n["message"] for n in shown), "the note")
    note = next(n for n in shown if "not mapped" in n["message"])
    assert "api-revoked-key not mapped: it needs a revoked key" in note["message"] and note["markup"] is False
    with session() as db:
        [row] = alignment.rows_of(db, eid)
    assert "api-revoked-key" not in row.scenarios


async def test_a_missing_key_is_supplied_inside_the_app_and_the_connection_retested(monkeypatch: Any) -> None:
    """No quitting to export a variable: the cockpit asks for the key, says how to keep it, and tests again."""
    import os

    from app import alignment
    from app.demo import start_demo_server
    from app.store.engine import dispose_all, session

    monkeypatch.setenv("RL_TEST_MISSING_KEY", "x")
    monkeypatch.delenv("RL_TEST_MISSING_KEY")  # unset now, and unset again after the test
    server = start_demo_server(chunk_delay=0, service_time=0)
    try:
        eid = _new_engagement()
        with session() as db:
            alignment.save_system(db, eid, alignment.system_spec(
                name="support-bot", kind="openai", base_url=server.base_url, model="acme-support-1",
                key={"env": "RL_TEST_MISSING_KEY"}, models=["acme-support-1"]))
        dispose_all()
        app = RedlineApp(today=TODAY)
        async with app.run_test(size=(80, 24)) as pilot:
            await _open_wizard(pilot, eid)
            await pilot.press("t")
            await wait_for(pilot, lambda: screen_name(pilot) == "PromptScreen", "the key prompt")
            prompt = app.screen
            assert "RL_TEST_MISSING_KEY" in prompt.prompt_title
            assert "export RL_TEST_MISSING_KEY=" in prompt.hint
            field = prompt.query_one(Input)
            assert field.password  # a key is never drawn on screen
            await pilot.press(*"demo-key", "enter")
            result = app.screen.query_one("#systems-result", Static)
            await wait_for(pilot, lambda: "TTFT" in str(result.content), "the connection re-tested")
            assert os.environ["RL_TEST_MISSING_KEY"] == "demo-key"  # this process only; nothing was written
    finally:
        server.stop()
    import sqlite3

    data = sqlite3.connect(os.path.join(os.environ["REDLINE_HOME"], "redline.db"))
    dumped = "\n".join(data.iterdump())
    data.close()
    assert "demo-key" not in dumped
