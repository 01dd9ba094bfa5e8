"""The run screen shows a manual step as a checklist item, and m records its outcome as the CLI would."""

from __future__ import annotations

from pathlib import Path

import yaml
from cockpit_pilot import TODAY, screen_name, wait_for
from test_run import open_run_screen
from textual.widgets import Input, Select

from screens.app import RedlineApp
from tests.test_manual_steps import SCENARIO


async def test_m_records_the_highlighted_runs_manual_step_and_the_checklist_ticks(tmp_path: Path) -> None:
    from sqlmodel import select

    from app import alignment
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import Run, Verdict
    from screens.widgets.transcript import Transcript

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "drill.yaml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False), encoding="utf-8")
    with session() as db:
        engagement = alignment.create_engagement(db, "acme-2026", "Acme Corp")
        engagement.scenario_paths = [str(folder)]
        db.add(engagement)
        eid = engagement.id or 0
        alignment.save_system(db, eid, alignment.system_spec(name="support-bot", kind="demo",
                                                             extra_target={"hardened": True}))
        plan = plan_runs(db, alignment.get_engagement(db, eid), scenario_ids=[SCENARIO["id"]])
    [outcome] = await run_scenarios(eid, plan)
    dispose_all()
    assert outcome.verdict == "review"
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_run_screen(pilot, eid)
        transcript = screen.query_one(Transcript)
        await wait_for(pilot, lambda: "☐ manual step, not recorded: press m" in transcript.text, "the checklist item")
        await pilot.press("m")
        await wait_for(pilot, lambda: screen_name(pilot) == "ManualForm", "the manual step form")
        form = app.screen
        form.query_one("#manual-outcome", Select).value = "fail"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen_name(pilot) == "ManualForm"  # no note: refused inside the form
        form.query_one("#manual-note", Input).value = "no failover alert in the SIEM"
        form.query_one("#manual-attachment", Input).value = ""  # an attachment id is checked (tests/test_manual_steps.py)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "back to the run screen")
        transcript = app.screen.query_one(Transcript)
        await wait_for(pilot, lambda: "☑ fail recorded by" in transcript.text, "the ticked checklist item")
        # a attaches the SIEM export to the highlighted run, through the same dialog as the register's.
        siem = tmp_path / "siem-export.csv"
        siem.write_text("time,alert\n10:00,none\n", encoding="utf-8")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(pilot) == "AttachScreen", "the attach dialog")
        await pilot.press(*str(siem), "enter", *"SIEM export, 10:00 to 10:15", "enter")
        await wait_for(pilot, lambda: screen_name(pilot) == "RunScreen", "back to the run screen")
    with session() as db:
        from app.attachments import list_attachments

        run = db.get(Run, outcome.run_id)
        assert run is not None and run.verdict == "fail"
        human = db.exec(select(Verdict).where(Verdict.source == "human")).one()
        assert (human.reason, human.evidence["attachment"]) == ("no failover alert in the SIEM", None)
        [attached] = list_attachments(db, eid)
        assert (attached.run_id, attached.note) == (outcome.run_id, "SIEM export, 10:00 to 10:15")
    dispose_all()


async def test_a_scenario_whose_operation_the_system_lacks_shows_as_planned_not_as_an_error() -> None:
    from sqlmodel import select

    from app import alignment
    from app.store.engine import dispose_all, session
    from app.store.models import Run

    with session() as db:
        engagement = alignment.create_engagement(db, "acme-2026", "Acme Corp")
        eid = engagement.id or 0
        # Nothing listens there: a planned run sends nothing, so nothing can fail to connect.
        alignment.save_system(db, eid, alignment.system_spec(name="client-bot", kind="openai",
                                                             base_url="http://127.0.0.1:9/v1"))
    dispose_all()
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_run_screen(pilot, eid)
        screen.queue_scenarios(["monitor-injection-alert"])
        await wait_for(pilot, lambda: any(e.status == "planned" for e in screen.entries.values()), "the planned run")
        entry = next(e for e in screen.entries.values() if e.status == "planned")
        assert entry.error == ("planned, not run: needs the client's security alert feed "
                               "(operation 'security_alerts')")
        assert entry.run_id is None
    with session() as db:
        assert db.exec(select(Run)).all() == []
    dispose_all()
