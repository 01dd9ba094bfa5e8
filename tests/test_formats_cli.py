"""The engagement and scenarios commands, run as a user runs them: exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.resources import assets_dir

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).parent / "data" / "bad"
EXAMPLE = assets_dir() / "examples" / "acme-2026.yaml"


def _redline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_subprocess_bad_engagement_exits_2_with_the_message_on_stderr() -> None:
    path = BAD / "engagement" / "eng-literal-key.yaml"
    result = _redline("engagement", "import", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"redline: {path}:10:16: field 'systems[0].target.api_key': a literal API key is not allowed here; "
        "use {env: VAR_NAME} or {keyring: NAME}\n"
    )
    assert "sk-live" not in result.stderr


def test_subprocess_scenarios_validate_reports_every_problem() -> None:
    folder = BAD / "scenarios" / "dup-ids"
    result = _redline("scenarios", "validate", str(folder))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{folder / 'second.yaml'}:2:5: field 'id': duplicate scenario id 'dup-scenario' "
        f"(also defined at {folder / 'first.yaml'}:1:5)",
        "1 problem in 2 files",
    ]


def test_subprocess_unknown_engagement_name() -> None:
    result = _redline("engagement", "export", "nope")
    assert (result.returncode, result.stderr) == (
        2, "redline: no engagement named 'nope' (there are none yet; import one first)\n")


def test_validate_good_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "validate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ") and out.rstrip().endswith("files")
    assert main(["scenarios", "validate", str(EXAMPLE.parent / "acme-scenarios")]) == 0
    assert capsys.readouterr().out == "OK: 1 scenario in 1 file\n"


def test_list_filters_and_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per scenario, so ids can be found whole
    extra = str(EXAMPLE.parent / "acme-scenarios")
    assert main(["scenarios", "list", "--json", "--path", extra, "--control", "PI1.4"]) == 0
    listed = {entry["id"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert all("PI1.4" in entry["controls"] for entry in listed.values())
    item = listed["acme-refund-approval-bypass"]  # the --path scenario joins the bundled ones
    assert item["rationale"] and item["expected"] and item["remediation"]
    assert item["step_types"] == ["chat"]
    assert main(["scenarios", "list", "--category", "security"]) == 0
    table = capsys.readouterr().out
    assert "pi-direct-override" in table and "acme-refund" not in table


def test_list_prints_hostile_titles_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "hostile.yaml"
    path.write_text(
        'id: hostile-title\ntitle: "[bold red]boom[/] \\e[2J done"\ncategory: security\ncontrols: [CC6.6]\n'
        "severity: low\nturns: [{user: hi}]\ndetectors: [{type: refusal}]\n",
        encoding="utf-8",
    )
    assert main(["scenarios", "list", "--path", str(path), "--control", "CC6.6", "--category", "security"]) == 0
    out = capsys.readouterr().out
    assert "[bold red]boom[/]" in out
    assert "\x1b[2J" not in out


def test_import_export_list_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engagement", "import", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == (
        "Imported engagement 'acme-2026': 2 system(s), 4 window(s), 8 control row(s)\n")
    assert main(["engagement", "import", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out == "Updated engagement 'acme-2026': no changes\n"
    out = tmp_path / "exported.yaml"
    assert main(["engagement", "export", "acme-2026", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"Wrote {out}\n"
    assert main(["engagement", "export", "acme-2026"]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")
    assert main(["engagement", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["systems_in_scope"], row["windows"], row["open_findings"]) == ("acme-2026", 2, 4, 0)
    assert main(["engagement", "list"]) == 0
    assert "acme-2026" in capsys.readouterr().out
