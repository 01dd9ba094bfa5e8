"""Pytest fixtures that hand a test a started :class:`LoopbackServer` and stop it afterwards.

``tests/conftest.py`` imports them, so every test module can ask for
``stream_server`` or ``fault_server`` by name. They are two independent
servers so a test can run a healthy and a faulty endpoint side by side.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.loopback import LoopbackServer


@pytest.fixture
def stream_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server
