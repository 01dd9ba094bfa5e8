"""The cockpit on a shared store: it says which store it is on, and a refresh shows what other testers did."""

from __future__ import annotations

from typing import Any

import pytest
from cockpit_pilot import TODAY, store_ready, wait_for
from textual.widgets import DataTable

from screens.app import RedlineApp

pytestmark = pytest.mark.usefixtures("store_backend")


async def test_the_header_names_a_shared_store_and_reload_shows_another_testers_engagement(
        store_backend: str) -> None:
    from app import alignment
    from app.store.engine import session

    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(100, 24)) as pilot:
        await store_ready(pilot)
        if store_backend == "postgresql":
            assert app.title.startswith("Redline · postgresql postgresql") and "redline:***@127.0.0.1" in app.title
        else:
            assert app.title == "Redline"  # the embedded store in the data dir, as always
        with session() as other:  # another tester's client, on its own connection
            alignment.create_engagement(other, "acme-2026", "Acme Corp")
        await pilot.press("r")
        table: Any = app.screen.query_one("#engagements", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1, "the other tester's engagement")
