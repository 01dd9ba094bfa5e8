"""The YAML loader: safe semantics, exact positions, duplicate keys, and plain-words validation errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from app.errors import FileFormatError
from app.formats.engagement import EngagementSpec, TargetSpec
from app.formats.scenario import ScenarioSpec
from app.formats.yamlsource import dump_yaml, field_name, load_yaml, parse_yaml, validate


def _write(tmp_path: Path, text: str, name: str = "doc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(model: type, text: str, path: str = "f.yaml") -> list[str]:
    data, locations = parse_yaml(text, path)
    with pytest.raises(FileFormatError) as caught:
        validate(model, data, locations, path)
    return [str(p) for p in caught.value.problems]


def test_positions_of_keys_values_and_list_items(tmp_path: Path) -> None:
    path = _write(tmp_path, "# comment\nname: acme\nsystems:\n  - name: bot\n    target: {kind: demo}\n")
    data, where = load_yaml(path)
    assert data == {"name": "acme", "systems": [{"name": "bot", "target": {"kind": "demo"}}]}
    assert where.key(("name",)) == (2, 1)
    assert where.value(("name",)) == (2, 7)
    assert where.get(("systems", 0)) == (4, 5)  # a list item has only a value position
    assert where.key(("systems", 0, "target", "kind")) == (5, 14)
    assert ("systems", 0, "name") in where
    assert where.nearest(("systems", 0, "target", "base_url")) == (5, 5)  # closest existing ancestor
    assert where.nearest(()) == (2, 1)


def test_same_values_as_safe_load(tmp_path: Path) -> None:
    text = (
        "base: &b {x: 1, when: 2026-01-02}\nother:\n  <<: *b\n  y: [yes, no, ~, 1.5, '007']\n"
        "text: |\n  two\n  lines\n"
    )
    data, _ = load_yaml(_write(tmp_path, text))
    assert data == yaml.safe_load(text)
    assert data["other"]["when"] == date(2026, 1, 2)


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(FileFormatError) as caught:
        load_yaml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1:4: invalid YAML: ")
    assert "could not determine a constructor" in message


def test_invalid_yaml_reports_the_parser_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(FileFormatError) as caught:
        load_yaml(path)
    assert str(caught.value) == (
        f"{path}:3:2: invalid YAML: while parsing a flow sequence, expected ',' or ']', but got ':'"
    )


def test_duplicate_keys_are_errors_even_in_nested_and_flow_mappings(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\nb: {x: 1, x: 2}\na: 3\n")
    with pytest.raises(FileFormatError) as caught:
        load_yaml(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2:11: field 'b.x': duplicate key 'x' (first at line 2)",
        f"{path}:3:1: field 'a': duplicate key 'a' (first at line 1)",
    ]


def test_unreadable_files_are_located_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(FileFormatError, match="nope.yaml: no such file"):
        load_yaml(missing)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(FileFormatError, match=r"latin.yaml: is not UTF-8 text \(byte 9\)"):
        load_yaml(latin)


def test_empty_document_is_none(tmp_path: Path) -> None:
    data, where = load_yaml(_write(tmp_path, "# nothing here\n"))
    assert data is None
    assert where.nearest(("x",)) == (1, 1)


def test_messages_are_plain_words() -> None:
    text = (
        "id: Bad Id\ntitle: 2026\ncategory: security\ncontrols: []\nseverity: high\nsamples: 0\n"
        "steps:\n  - type: bogus\n  - user: hi\n  - type: burst\n    user: x\n    requests: 500\n"
        "detectors: [{type: regex}]\nextra: 1\n"
    )
    assert _problems(ScenarioSpec, text) == [
        "f.yaml:1:5: field 'id': 'Bad Id' is not allowed here (use lowercase letters, digits, '.', '_' and '-', "
        "starting with a letter or digit)",
        "f.yaml:2:8: field 'title': expected text, got 2026 (put it in quotes: '2026')",
        "f.yaml:4:11: field 'controls': needs at least 1 item",
        "f.yaml:6:10: field 'samples': must be at least 1, got 0",
        "f.yaml:8:11: field 'steps[0].type': expected one of 'chat', 'list_models', 'http', 'burst', 'adaptive', got 'bogus'",
        "f.yaml:9:5: field 'steps[1].type': missing required key 'type'",
        "f.yaml:12:15: field 'steps[2].requests': must be at most 50, got 500",
        "f.yaml:14:1: field 'extra': unknown key 'extra'",
    ]


def test_model_validator_errors_point_at_the_entry_they_are_about() -> None:
    text = (
        "id: x\ntitle: t\ncategory: security\ncontrols: [CC6.6]\nseverity: low\n"
        "turns:\n  - user: a\ndetectors:\n  - type: refusal\n    steps: [0, 3]\n"
    )
    assert _problems(ScenarioSpec, text) == [
        "f.yaml:10:16: field 'detectors[0].steps[1]': detector step index 3 is out of range",
    ]
    both = "id: x\ntitle: t\ncategory: security\ncontrols: [CC6.6]\nseverity: low\nturns: []\nsteps: []\n" \
           "detectors: [{type: refusal}]\n"
    assert _problems(ScenarioSpec, both) == ["f.yaml:1:1: give exactly one of 'turns' or 'steps'"]


def test_engagement_period_and_names() -> None:
    text = (
        "name: acme\naudit:\n  type: type2\n  period: {start: 2026-12-31, end: 2026-01-01}\n"
        "systems:\n  - {name: bot, target: {kind: demo}}\n  - {name: bot, target: {kind: demo}}\n"
    )
    assert _problems(EngagementSpec, text) == [
        "f.yaml:4:36: field 'audit.period.end': the period ends before it starts",
    ]
    text = text.replace("start: 2026-12-31, end: 2026-01-01", "start: 2026-01-01, end: 2026-12-31")
    assert _problems(EngagementSpec, text) == [
        "f.yaml:7:12: field 'systems[1].name': system names must be unique: 'bot' is used twice",
    ]


def test_secret_fields_never_echo_their_input() -> None:
    text = "kind: openai\nbase_url: http://127.0.0.1:1\nheaders: {Authorization: 12345}\n"
    problems = _problems(TargetSpec, text)
    assert problems == ["f.yaml:3:26: field 'headers.Authorization': expected text"]


def test_a_type_error_on_a_missing_kind_of_mapping() -> None:
    assert _problems(EngagementSpec, "- just\n- a list\n") == ["f.yaml:1:1: expected a mapping, got a list"]


def test_field_name_formats_paths() -> None:
    assert field_name(("systems", 0, "target", "api_key")) == "systems[0].target.api_key"
    assert field_name((2, "title")) == "[2].title"
    assert field_name(()) == ""


def test_dump_yaml_reads_back_identically() -> None:
    data = {"name": "x", "when": date(2026, 3, 1), "list": ["a", "b"], "text": "one\ntwo\n",
            "nested": [{"k": "yes"}, {"k": "2026-01-01"}], "long": ["item-" + str(i) for i in range(30)]}
    text = dump_yaml(data)
    assert "when: 2026-03-01\n" in text
    assert "list: [a, b]\n" in text
    assert "text: |\n" in text
    back, _ = parse_yaml(text, "out.yaml")
    assert back == data


def test_alias_bombs_are_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(FileFormatError) as caught:
        load_yaml(path)
    assert str(caught.value) == f"{path}:1:1: too large once its aliases (*name) are expanded"


def test_recursive_alias_does_not_hang(tmp_path: Path) -> None:
    data, where = load_yaml(_write(tmp_path, "a: &me [1, *me]\n"))
    assert data["a"][1] is data["a"]
    assert where.nearest(("a", 1, 1, 0)) == (1, 4)
