"""Every test gets its own data dir: the user's real store is never touched."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def redline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from app.store.engine import dispose_all

    home = tmp_path / "redline-home"
    monkeypatch.setenv("REDLINE_HOME", str(home))
    monkeypatch.setenv("REDLINE_TESTER", "test-tester")
    dispose_all()
    yield home
    dispose_all()


# Real loopback servers (tests/servers/), available to every test module by fixture name.
from tests.servers.fixtures import fault_server, stream_server  # noqa: E402,F401
