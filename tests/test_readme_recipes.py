"""The README's recipes, walked as written in a temp dir: what a newcomer copies must work.

The shell blocks of "The first ten minutes" are read from the README itself and
run line by line; only the command prefix changes (``.venv/bin/redline`` becomes
this interpreter's ``-m app.cli``, run from the temp dir) and paths into the
checkout are made absolute. The one line a reader must change by hand
(``# edit it``) is done by the test: it points the example's OpenAI system at a
real demo AI system on a free loopback port instead of the default 8750.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.test_runner_support import PYTHON, REPO

README = REPO / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def shell_blocks(text: str) -> list[list[str]]:
    """Each ```sh block's command lines, comments stripped."""
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        lines = [line.split("  #")[0].strip() for line in body.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def run_line(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line)
    if argv[0] == ".venv/bin/redline":
        argv = [PYTHON, "-m", "app.cli", *argv[1:]]
    argv = [str(REPO / a) if a.startswith("assets/") else a for a in argv]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**env, "PYTHONPATH": str(REPO)})


def test_the_first_ten_minutes_and_the_client_engagement_work_as_written(tmp_path: Path) -> None:
    from app.demo import start_demo_server

    demo, client = shell_blocks(section("The first ten minutes"))[:2]
    env = os.environ.copy()
    for line in demo:
        if line == ".venv/bin/redline --demo":
            continue  # the cockpit itself: the Pilot tests drive it
        result = run_line(line, tmp_path, env)
        # `run demo` exits 1 because the demo system fails controls, as the README says it will.
        expected = 1 if " run demo" in line else 0
        assert result.returncode == expected, (line, result.stdout, result.stderr)
    assert (tmp_path / "demo-evidence.zip").is_file()

    # The client recipe: the README says what the key variables hold for the demo target.
    text = section("The first ten minutes")
    assert "ACME_KEY=demo-key" in text and "ACME_REVOKED_KEY=demo-revoked-key" in text
    server = start_demo_server(chunk_delay=0, service_time=0)
    try:
        env.update(ACME_KEY="demo-key", ACME_REVOKED_KEY="demo-revoked-key")
        for line in client:
            if line.startswith("export ") or line.startswith(".venv/bin/redline demo-target"):
                continue  # set above; the test serves the demo target itself, on a free port
            if line.startswith("$EDITOR"):
                path = tmp_path / shlex.split(line)[1]
                shipped = path.read_text(encoding="utf-8")
                assert "http://127.0.0.1:8750/v1" in shipped  # the demo target's default port, as shipped
                path.write_text(shipped.replace("http://127.0.0.1:8750/v1", f"{server.base_url}"), encoding="utf-8")
                continue
            result = run_line(line, tmp_path, env)
            expected = 1 if " run " in line else 0  # the vulnerable demo fails controls
            assert result.returncode == expected, (line, result.stdout, result.stderr)
    finally:
        server.stop()
    assert "acme-refund-approval-bypass" in (tmp_path / "results.xml").read_text(encoding="utf-8")


def test_the_example_imports_as_shipped_from_a_copy(tmp_path: Path) -> None:
    """Copied as the README says, with no edit at all, the example file imports (exit 0)."""
    client = shell_blocks(section("The first ten minutes"))[1]
    copy = next(line for line in client if line.startswith("cp "))
    assert run_line(copy, tmp_path, os.environ.copy()).returncode == 0
    target = next(line for line in client if " engagement import " in line)
    result = run_line(target, tmp_path, os.environ.copy())
    assert result.returncode == 0, result.stderr


def test_the_first_screenful_says_where_the_data_lives_and_how_to_install_apart() -> None:
    first = "\n".join(README.read_text(encoding="utf-8").splitlines()[:40])
    assert "--home" in first and "~/.local/share/redline" in first
    assert "pipx install ." in first or "uv tool install ." in first


@pytest.mark.parametrize("example", ["acme-2026.yaml"])
def test_the_docs_show_the_example_file_as_shipped(example: str) -> None:
    shipped = (REPO / "assets" / "examples" / example).read_text(encoding="utf-8")
    assert shipped.strip() in (REPO / "docs" / "engagement-files.md").read_text(encoding="utf-8")
