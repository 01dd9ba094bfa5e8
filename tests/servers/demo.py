"""The built-in demo AI system as pytest fixtures: a fresh server per test and a client that holds the key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.demo import DEMO_API_KEY, DemoServer, start_demo_server

AUTH = {"Authorization": f"Bearer {DEMO_API_KEY}"}


@pytest.fixture
def demo() -> Iterator[DemoServer]:
    """A fresh demo server with no artificial delays, so tests judge behaviour, not time."""
    server = start_demo_server(chunk_delay=0, service_time=0)
    yield server
    server.stop()


@pytest.fixture
def client(demo: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.base_url, headers=AUTH, timeout=30) as c:
        yield c
