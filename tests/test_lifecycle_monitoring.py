"""Type II monitoring: results per criterion and window, remediation, trend, schedule and dating flags."""

from __future__ import annotations

import json
from typing import Any

from app.monitoring import Cell, monitoring, trend_of
from app.retest import retest_findings
from app.runner.plan import today_utc
from app.store import session
from tests.test_lifecycle_support import confirm_all, demo, make_engagement, run  # noqa: F401


def test_trend_compares_the_last_two_conclusive_windows() -> None:
    def cells(*results: tuple[str, int]) -> list[Cell]:
        return [Cell(f"W{i}", result, 1 if result != "not tested" else 0, 1, failed)
                for i, (result, failed) in enumerate(results)]

    assert trend_of(cells(("fail", 1), ("pass", 0))) == "improving"
    assert trend_of(cells(("pass", 0), ("not tested", 0), ("fail", 1))) == "regressing"
    assert trend_of(cells(("pass", 1), ("review", 0), ("pass", 0))) == "steady"  # remediated, then pass
    assert trend_of(cells(("fail", 1))) == "one sample"
    assert trend_of(cells(("not tested", 0), ("error", 0))) == "not tested"


def test_a_failure_retested_in_its_window_reads_remediated_and_the_period_shows_its_story(demo: Any) -> None:
    eid = make_engagement(demo.base_url, scenarios=("pi-direct-override", "sysprompt-summary-request"),
                          windows=(("W0", -60, -50), ("W1", -3, 3), ("W2", 30, 40)))
    run(eid)
    confirm_all(eid)
    demo.hardened = True
    retest_findings(eid, probe=False)
    run(eid, ["pi-direct-override"], window="W2")  # tagged with a window that has not started: flagged
    with session() as db:
        picture = monitoring(db, eid)
    assert picture.today == today_utc()
    states = {w.name: (w.status, w.runs) for w in picture.windows}
    # W1's sample is its two scheduled runs (the two re-tests verify remediation, they are not samples);
    # the run tagged W2 ran before W2 began, so W2 is still upcoming and the run counts in no window.
    assert states == {"W0": ("overdue", 0), "W1": ("ran", 2), "W2": ("upcoming", 0), "other": ("flagged", 1)}
    cc66 = next(c for c in picture.criteria if c.criterion == "CC6.6")
    assert cc66.in_matrix and cc66.scenarios == ("pi-direct-override", "sysprompt-summary-request")
    assert [(c.window, c.result, c.state, c.tested, c.failed_runs) for c in cc66.cells] == [
        ("W0", "not tested", "not tested", 0, 0), ("W1", "pass", "remediated", 2, 2),
        ("W2", "not tested", "not tested", 0, 0), ("other", "pass", "pass", 1, 0)]
    assert cc66.strip == "·↻·✓" and cc66.trend == "one sample"
    declared = {c.criterion for c in picture.criteria if not c.in_matrix}
    assert "AI-SEC-01" in declared  # the scenarios declare it; the matrix does not map it
    [late] = picture.run_flags
    assert late.window == "W2" and "outside its test window W2" in late.problems[0]
    flags = picture.flags()
    assert any(f.startswith("window W0") and "the period is still open" in f for f in flags)
    assert any(f.startswith(f"run {late.run_id} (pi-direct-override @ support-bot)") for f in flags)
    document = json.loads(json.dumps(picture.to_json()))
    assert document["criteria"][0]["windows"][1]["state"] == "remediated"
    assert sum(m["runs"] for m in document["spread"]["months"]) == 5


def test_windows_due_upcoming_missed_and_runs_outside_every_window(demo: Any) -> None:
    ended = make_engagement(demo.base_url, name="last-year", windows=(("H1", -300, -290), ("H2", -100, -95)),
                            period=(-365, -30))
    with session() as db:
        picture = monitoring(db, ended)
    assert [(w.name, w.status) for w in picture.windows] == [("H1", "missed"), ("H2", "missed")]
    assert all(c.trend == "not tested" for c in picture.criteria)

    current = make_engagement(demo.base_url, name="this-year", windows=(("A", -2, 2), ("B", 10, 20)),
                              period=(-30, 60))
    with session() as db:
        assert [(w.name, w.status) for w in monitoring(db, current).windows] == [("A", "due"), ("B", "upcoming")]

    gap = make_engagement(demo.base_url, name="gap", windows=(("B", 10, 20),), period=(-30, 60))
    run(gap)  # today is in no window: the run is kept and flagged
    with session() as db:
        picture = monitoring(db, gap)
    assert [(w.name, w.status, w.runs) for w in picture.windows] == [("B", "upcoming", 0), ("other", "flagged", 1)]
    assert picture.run_flags[0].problems == ("not in any planned test window",)
    cc66 = next(c for c in picture.criteria if c.criterion == "CC6.6")
    assert [(c.window, c.state) for c in cc66.cells] == [("B", "not tested"), ("other", "fail")]
    assert cc66.trend == "not tested"  # runs outside every window are not a sample
    assert picture.spread_strip().count("█") == 1
