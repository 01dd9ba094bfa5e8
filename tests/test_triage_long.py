"""Reading a run for triage with ``longest``: a long response comes back as its start, and says so."""

from __future__ import annotations

from datetime import date


async def test_a_long_response_is_read_as_its_start_and_marked_incomplete() -> None:
    from sqlalchemy import update

    from app.alignment import get_engagement
    from app.demo_engagement import ensure_demo_engagement
    from app.runner import plan_runs, run_scenarios
    from app.store.engine import dispose_all, session
    from app.store.models import Turn
    from app.triage import load_transcript

    with session() as db:
        eid = ensure_demo_engagement(db, today=date(2026, 4, 20)).id or 0
        plan = plan_runs(db, get_engagement(db, eid), scenario_ids=["pi-direct-override"])
    [outcome] = await run_scenarios(eid, plan)
    long_text = "née 漢字 " * 50_000
    with session() as db:
        first = load_transcript(db, outcome.run_id or 0).turns[0].id
        db.exec(update(Turn).where(Turn.id == first).values(response_text=long_text))  # type: ignore[call-overload]
        db.commit()
        cut = load_transcript(db, outcome.run_id or 0, longest=1000)
        whole = load_transcript(db, outcome.run_id or 0)
    dispose_all()
    assert not cut.complete and not cut.turns[0].complete
    assert cut.turns[0].response == long_text[:1000]  # characters, not bytes: a multi-byte text is cut cleanly
    assert whole.complete and whole.turns[0].response == long_text
    assert all(t.complete for t in cut.turns[1:])
