"""The wizard's systems step sets a system's client operations, and its connection test tries the safe ones."""

from __future__ import annotations

from cockpit_pilot import TODAY, screen_name, wait_for
from test_wizard import _fill, _new_engagement, _open_wizard
from textual.widgets import Input, Select

from screens.app import RedlineApp

LINE = ("security_alerts=GET https://siem.acme.test/alerts?user={identity} env:ACME_SIEM_KEY; "
        "delete_user_data=DELETE /users/{identity}/data")


async def test_operations_typed_in_the_system_form_are_stored_and_shown_again() -> None:
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
        await _fill(pilot, {"sys-name": "support-bot", "sys-url": "https://ai.acme.test/v1",
                            "sys-operations": "security_alerts=GET https://siem.acme.test/alerts"})
        await pilot.press("ctrl+s")
        await pilot.pause()
        # Another host with the system's own key is refused, in the form, saying why.
        assert screen_name(pilot) == "SystemForm"
        await _fill(pilot, {"sys-operations": LINE})
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_name(pilot) == "WizardScreen", "the form to close")
    with session() as db:
        [system] = alignment.systems_of(db, eid)
        operations = dict(system.target["operations"])
    dispose_all()
    assert operations["security_alerts"]["auth"] == {"env": "ACME_SIEM_KEY"}
    assert operations["delete_user_data"] == {"method": "DELETE", "url": "/users/{identity}/data",
                                              "auth": "target", "auth_header": "Authorization", "description": ""}
    app = RedlineApp(today=TODAY)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_wizard(pilot, eid)
        await pilot.press("e")
        await wait_for(pilot, lambda: screen_name(pilot) == "SystemForm", "the edit form")
        assert app.screen.query_one("#sys-operations", Input).value == LINE


def test_the_one_line_form_reads_back_what_it_writes_and_names_a_bad_entry() -> None:
    import pytest

    from app.alignment import AlignmentError
    from app.alignment.systems import operations_text, parse_operations

    parsed = parse_operations(LINE)
    assert operations_text(parsed) == LINE
    kept = parse_operations("outage=POST /drill", {"outage": {"body": {"s": "{seconds}"}, "url": "/old"}})
    assert kept == {"outage": {"body": {"s": "{seconds}"}, "method": "POST", "url": "/drill"}}
    with pytest.raises(AlignmentError, match=r"operation 2 \('oops'\)"):
        parse_operations("a=GET /x; oops")
    with pytest.raises(AlignmentError, match="looks like an API key"):
        parse_operations("a=GET https://x.test/ env:sk-live-abcdefghijklmnopqrstuvwxyz0123456789")


