"""Hostile engagement and scenario files: nesting, control characters, size, and names printed to a terminal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.engagements import load_engagement_file
from app.errors import FileFormatError
from app.formats.scenario_files import load_scenarios
from app.formats.yamlsource import MAX_EXPANDED_NODES, MAX_YAML_BYTES, MAX_YAML_DEPTH
from tests.test_runner_support import PYTHON, REPO, engagement_file, openai_system


def problems_of(loader: object, path: Path) -> list[str]:
    with pytest.raises(FileFormatError) as caught:
        loader([path]) if loader is load_scenarios else loader(path)  # type: ignore[operator]
    return [str(p) for p in caught.value.problems]


LOADERS = [load_scenarios, load_engagement_file]


@pytest.mark.parametrize("loader", LOADERS, ids=["scenario", "engagement"])
@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_a_located_problem_not_a_recursion_error(tmp_path: Path, loader: object,
                                                                 style: str) -> None:
    if style == "flow":
        text = "id: deep\nturns: " + "[" * 20_000 + "]" * 20_000 + "\n"
        where = f"2:{8 + MAX_YAML_DEPTH - 1}:"  # the bracket that opens the level past the limit
    else:
        text = "id: deep\nturns:\n" + "".join(f"{'  ' * (i + 1)}k{i}:\n" for i in range(500)) + "  " * 501 + "v\n"
        where = f"{2 + MAX_YAML_DEPTH - 1}:{2 * (MAX_YAML_DEPTH - 1) + 1}:"
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = problems_of(loader, path)
    assert problem.startswith(f"{path}:{where} ")
    assert f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep" in problem


@pytest.mark.parametrize("loader", LOADERS, ids=["scenario", "engagement"])
@pytest.mark.parametrize("char, shown", [("\x1b", "ESC (U+001B)"), ("\x00", "NUL (U+0000)")])
def test_a_raw_control_character_is_a_located_problem(tmp_path: Path, loader: object, char: str,
                                                      shown: str) -> None:
    path = tmp_path / "control.yaml"
    path.write_text(f'id: ctl\nname: "abc{char}def"\n', encoding="utf-8")
    [problem] = problems_of(loader, path)
    assert problem == (f"{path}:2:11: invalid YAML: the control character {shown} cannot appear in a YAML "
                       "file; write it as an escape in a double-quoted string (e.g. \\x1b)")


@pytest.mark.parametrize("loader", LOADERS, ids=["scenario", "engagement"])
def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path, loader: object) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("id: big\nnotes: |\n" + ("  " + "x" * 1000 + "\n") * (MAX_YAML_BYTES // 1000), encoding="utf-8")
    size = path.stat().st_size
    assert problems_of(loader, path) == [f"{path}: is {size:,} bytes, more than the {MAX_YAML_BYTES:,}-byte "
                                         "limit for a YAML file"]


def test_too_many_values_without_aliases_does_not_blame_aliases(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("id: many\nturns: [" + "1," * (MAX_EXPANDED_NODES + 1) + "]\n", encoding="utf-8")
    assert problems_of(load_scenarios, path) == [
        f"{path}:1:1: has more than {MAX_EXPANDED_NODES:,} values; split it into several files"]
    laughs = tmp_path / "laughs.yaml"
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    laughs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert problems_of(load_scenarios, laughs) == [
        f"{laughs}:1:1: too large once its aliases (*name) are expanded"]


def test_an_engagement_name_with_bidi_controls_is_printed_inert(tmp_path: Path) -> None:
    from tests.test_runner_support import import_engagement_file

    import_engagement_file(engagement_file(tmp_path, [openai_system("bot", "http://127.0.0.1:9/v1")]))
    hostile = "acme\u202etxt.exe\x1b[2J"
    result = subprocess.run([PYTHON, "-m", "app.cli", "findings", hostile], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env=os.environ.copy())
    assert result.returncode == 2
    assert "\u202e" not in result.stderr and "\x1b" not in result.stderr
    assert "acme⟨RLO⟩txt.exe" in result.stderr
