"""Helpers for the cockpit's pilot and snapshot tests: a fixed date, and waiting for workers to land."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from textual.pilot import Pilot

# Every cockpit test plans against this day, so labels like "Q2 in 19d" and the snapshots are stable.
TODAY = date(2026, 4, 20)
# How long a worker (store opening, file import, the demo server) may take on a loaded CI machine.
PATIENCE_S = 30.0


async def wait_for(pilot: Pilot[Any], condition: Callable[[], Any], what: str) -> Any:
    """Let the app run until ``condition()`` is truthy; fail naming ``what`` if it never is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE_S
    while True:
        value = condition()
        if value:
            await pilot.pause()
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await pilot.pause(0.02)


async def store_ready(pilot: Pilot[Any]) -> None:
    await wait_for(pilot, lambda: pilot.app.store_ready, "the store to open")


def screen_name(pilot: Pilot[Any]) -> str:
    return type(pilot.app.screen).__name__


def record_notifications(app: Any) -> list[dict[str, Any]]:
    """Keep every notification the app shows (toasts expire; this list does not), with its arguments."""
    shown: list[dict[str, Any]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        shown.append({"message": message, **kwargs})
        original(message, **kwargs)

    app.notify = notify
    return shown
