"""Every malformed fixture in tests/data/bad/ gives exactly the located, plain message a tester needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engagements import load_engagement_file
from app.errors import FileFormatError
from app.formats.matrix import load_control_matrix
from app.formats.scenario_files import load_scenarios

BAD = Path(__file__).parent / "data" / "bad"

ENGAGEMENT_CASES = {
    "eng-invalid-yaml.yaml": [
        "{f}:5:8: invalid YAML: while parsing a flow mapping, expected ',' or '}}', but got ':'",
    ],
    "eng-wrong-type.yaml": [
        "{f}:5:10: field 'systems': expected a list, got 'support-bot'",
    ],
    "eng-unknown-key.yaml": [
        "{f}:2:1: field 'cliant': unknown key 'cliant' (did you mean 'client'?)",
    ],
    "eng-missing-key.yaml": [
        "{f}:6:5: field 'systems[0].target': missing required key 'target'",
    ],
    "eng-literal-key.yaml": [
        "{f}:10:16: field 'systems[0].target.api_key': a literal API key is not allowed here; "
        "use {{env: VAR_NAME}} or {{keyring: NAME}}",
    ],
    "eng-duplicate-key.yaml": [
        "{f}:11:7: field 'systems[0].target.api_key': duplicate key 'api_key' (first at line 10)",
    ],
    "eng-bad-date.yaml": [
        "{f}:6:23: field 'windows[0].start': expected a date (YYYY-MM-DD), got '2026-02-30'",
    ],
    "eng-window-outside.yaml": [
        "{f}:9:10: field 'windows[1].end': window 'Q4' falls outside the audit period (2026-01-01 to 2026-12-31)",
    ],
    "eng-unknown-kind.yaml": [
        "{f}:7:20: field 'systems[0].target.kind': expected one of 'openai', 'anthropic', 'ollama', 'http', "
        "'demo', got 'bedrock'",
    ],
    "eng-unknown-criterion.yaml": [
        "{f}:7:17: field 'controls[0].scenarios[0]': unknown scenario 'pi-direct-overide' "
        "(did you mean 'pi-direct-override'?)",
        "{f}:8:16: field 'controls[1].criterion': unknown criterion 'CC9.9'",
    ],
}

SCENARIO_CASES = {
    "scn-unknown-control.yaml": [
        "{f}:4:19: field 'controls[1]': unknown control 'AI-SEC-99' (did you mean 'AI-SEC-04'?)",
    ],
    "scn-unknown-detector.yaml": [
        "{f}:9:11: field 'detectors[0].type': unknown detector type 'sentiment' (known: canary, contains, "
        "inventory, judge, latency, pii, recall, refusal, regex, secret, status)",
    ],
    "scn-bad-detector-param.yaml": [
        "{f}:11:12: field 'detectors[0].flags': detector 'regex': parameter 'flags' has unknown flag 'q' "
        "(known: i, m, s, x)",
    ],
    "scn-unknown-strategy.yaml": [
        "{f}:6:14: field 'methodology': unknown methodology 'prompt_injektion' (did you mean 'prompt_injection'?)",
        "{f}:10:15: field 'turns[0].strategy': unknown strategy 'base65' (did you mean 'base64'?)",
    ],
    "scn-list-items.yaml": [
        "{f}:15:13: field '[1].severity': expected one of 'high', 'medium', 'low', got 'critical'",
        "{f}:18:17: field '[1].turns[0].strategy': unknown strategy 'base65' (did you mean 'base64'?)",
    ],
}


def _messages(exc: FileFormatError) -> list[str]:
    return [str(p) for p in exc.problems]


@pytest.mark.parametrize("name", sorted(ENGAGEMENT_CASES))
def test_bad_engagement_file(name: str) -> None:
    path = BAD / "engagement" / name
    with pytest.raises(FileFormatError) as caught:
        load_engagement_file(path)
    assert _messages(caught.value) == [m.format(f=path) for m in ENGAGEMENT_CASES[name]]


def test_literal_api_key_is_never_echoed() -> None:
    path = BAD / "engagement" / "eng-literal-key.yaml"
    with pytest.raises(FileFormatError) as caught:
        load_engagement_file(path)
    assert "sk-live" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(SCENARIO_CASES))
def test_bad_scenario_file(name: str) -> None:
    path = BAD / "scenarios" / name
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([path])
    assert _messages(caught.value) == [m.format(f=path) for m in SCENARIO_CASES[name]]


def test_duplicate_scenario_id_across_two_files_names_both_places() -> None:
    folder = BAD / "scenarios" / "dup-ids"
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([folder])
    assert _messages(caught.value) == [
        f"{folder / 'second.yaml'}:2:5: field 'id': duplicate scenario id 'dup-scenario' "
        f"(also defined at {folder / 'first.yaml'}:1:5)"
    ]


def test_every_scenario_problem_in_a_folder_is_reported_at_once() -> None:
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([BAD / "scenarios"])
    expected = sum(len(v) for v in SCENARIO_CASES.values()) + 1  # + the duplicate id
    assert len(caught.value.problems) == expected


def test_bad_matrix_row_names_file_row_and_column() -> None:
    path = BAD / "matrix" / "matrix-bad-row.csv"
    with pytest.raises(FileFormatError) as caught:
        load_control_matrix(path)
    assert _messages(caught.value) == [f"{path}:7: column 'Criteria': unknown criterion 'CC9.9'"]


def test_matrix_without_a_criterion_column() -> None:
    path = BAD / "matrix" / "matrix-no-criterion.csv"
    with pytest.raises(FileFormatError) as caught:
        load_control_matrix(path)
    assert _messages(caught.value) == [
        f"{path}:1: no criterion column found (a header named 'criterion', 'criteria', 'tsc')"
    ]


def test_there_are_at_least_twelve_distinct_bad_files() -> None:
    files = [p for p in BAD.rglob("*") if p.is_file()]
    assert len(files) >= 12
    assert len({p.read_bytes() for p in files}) == len(files)
