"""Home shows the engagements before the store layer is ready, then completes them once it is."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cockpit_pilot import TODAY, store_ready, wait_for
from test_home import _rows, seed_home
from textual.widgets import DataTable, Static

import screens.app
from screens.app import RedlineApp


async def test_rows_show_at_a_glance_while_the_store_still_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    seed_home()
    release = threading.Event()
    prepare = screens.app._prepare_store

    def held() -> list[str]:
        release.wait(30)  # the store layer stays "loading" until the rows at a glance were checked
        return prepare()

    monkeypatch.setattr(screens.app, "_prepare_store", held)
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        try:
            table: Any = app.screen.query_one("#engagements", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2, "two rows at a glance")
            assert not app.store_ready
            assert _rows(app) == [
                ["acme-2026", "Acme Corp", "II", "2026-01..06", "Q2 in 19d", "1 H", "…"],
                ["demo", "(built-in)", "II", "2026", "Q2 now", "–", "…"],
            ]
            assert "nothing waits" not in str(app.screen.query_one("#home-panel", Static).content)
            # sized from the rows themselves: a real terminal has nothing to measure against this early
            assert [c.width for c in table.columns.values()][:2] == [len("acme-2026"), len("(built-in)")]
        finally:
            release.set()
        await store_ready(pilot)
        await wait_for(pilot, lambda: _rows(app)[0][-1] == "0/4", "the alignment column")
        assert [r[-1] for r in _rows(app)] == ["0/4", "4/4"]
