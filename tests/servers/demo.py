"""The built-in demo AI system as pytest fixtures: a fresh server per test and a client that holds the key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def converse(client: httpx.Client, turns: list[Any], user: str) -> list[str]:
    """One conversation as a client sends it: a request after each user turn and after the last turn
    (a tool's result is passed back to the model); the answers in order."""
    history: list[dict[str, str]] = []
    answers = []
    for index, turn in enumerate(turns):
        message = {"role": "user", "content": turn} if isinstance(turn, str) else dict(turn)
        history.append(message)
        if message["role"] == "user" or index == len(turns) - 1:
            response = client.post("/chat/completions", json={"model": "acme-support-1", "messages": history,
                                                              "user": user})
            assert response.status_code == 200, response.text
            answer = str(response.json()["choices"][0]["message"]["content"])
            history.append({"role": "assistant", "content": answer})
            answers.append(answer)
    return answers
