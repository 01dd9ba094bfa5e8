"""Every test gets its own data dir: the user's real store is never touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

# A real PostgreSQL server for the session, and the fixture that runs a test on both store backends.
from tests.servers.postgres import postgres_server, postgres_url, store_backend  # noqa: E402,F401


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why the seed tests skipped, even under ``-q`` (which hides skip reasons): a newcomer should know."""
    seed = [r for r in terminalreporter.stats.get("skipped", []) if "seed guidance not found" in str(r.longrepr)]
    if seed:
        terminalreporter.write_line(
            f"note: {len(seed)} catalog test(s) skipped because the SOC 2 for AI seed guidance "
            "(../shared/seed/soc2-for-ai-systems.txt) is absent; they check the catalog against it.", yellow=True)
