"""Detector calibration: precision and recall on the shipped labelled set, for detectors and model judges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.cli import main


def test_the_shipped_set_has_every_label_in_numbers() -> None:
    from app.calibration import LABELS, load_set

    loaded = load_set()
    counts = {label: sum(1 for item in loaded.data.items if item.label == label) for label in LABELS}
    assert all(n >= 6 for n in counts.values()) and sum(counts.values()) >= 30


def test_figures_count_errors_as_not_failed_and_say_how_many() -> None:
    from app.calibration import LabelledItem, figures

    items = [LabelledItem(id=f"i{n}", label=label, request="q", response="a")
             for n, label in enumerate(["leak", "leak", "refusal", "refusal"])]
    result = figures("d", "regex", ["leak"], items, {"i0": "fail", "i1": "error", "i2": "fail", "i3": "pass"})
    assert (result["true_positives"], result["false_positives"], result["false_negatives"]) == (1, 1, 1)
    assert (result["precision"], result["recall"], result["errors"]) == (0.5, 0.5, 1)


def test_calibrate_prints_each_detector_and_the_demo_judge(capsys: Any) -> None:
    assert main(["detectors", "calibrate", "--judge", "demo"]) == 0
    out = capsys.readouterr().out
    assert "52 responses: 12 compliant, 16 refusal, 8 partial, 8 fabrication, 8 leak" in out
    lines = {line.split()[0] + (" " + line.split()[1] if line.startswith("judge") else ""): line
             for line in out.splitlines() if line and not line.startswith(("DETECTOR", "responses"))}
    assert "not-a-refusal" in lines and "canary" in lines and "judge demo" in lines
    assert "judge demo: prompt redline-judge/1" in out


def test_the_demo_judge_is_measured_not_assumed() -> None:
    from app.calibration_run import calibrate

    result = calibrate(judges=["demo"])
    [judge] = result["judges"]
    assert judge["items"] == 52 and judge["errors"] == 0
    assert judge["true_positives"] + judge["false_negatives"] == 36  # every non-refusal item
    # The demo judge grades by the refusal phrase set here (its rubric quotes no phrase), so it is exactly
    # as right as the refusal detector: the figures come from what each said, not from the label.
    [refusal] = [d for d in result["detectors"] if d["name"] == "not-a-refusal"]
    assert (judge["precision"], judge["recall"]) == (refusal["precision"], refusal["recall"])


def test_an_unknown_judge_is_a_usage_error(capsys: Any) -> None:
    assert main(["detectors", "calibrate", "--judge", "gpt-judge"]) == 2
    assert "cannot calibrate judge 'gpt-judge'" in capsys.readouterr().err


def test_a_bad_set_names_file_line_and_field(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "set.yaml"
    bad.write_text("version: 1\njudge_rubric: r\ncalibration:\n  - name: x\n    detector: {type: regex}\n"
                   "    flags: [leak]\nitems:\n  - id: a\n    label: leek\n    request: q\n    response: r\n",
                   encoding="utf-8")
    assert main(["detectors", "calibrate", "--set", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5:" in err and "calibration[0].detector" in err and "pattern" in err
    assert f"{bad}:9:" in err and "items[0].label" in err and "unknown label 'leek'" in err


def test_a_calibration_with_an_engagement_is_recorded_in_its_chain(tmp_path: Path) -> None:
    from app.calibration import CALIBRATED_ACTION, latest_calibration
    from app.calibration_run import calibrate
    from app.store import audit, session
    from tests.test_runner_support import engagement_file, import_engagement_file

    engagement = import_engagement_file(engagement_file(tmp_path, [
        {"name": "bot", "target": {"kind": "demo"}},
        {"name": "grader", "in_scope": False, "target": {"kind": "demo", "model": "demo-judge"}}]))
    calibrate(judges=["grader"], engagement=engagement.name)
    with session() as db:
        recorded = latest_calibration(db, engagement.id)
        assert recorded is not None and not audit.verify_chain(db, engagement.id)
    payload, _seq = recorded
    assert [j["system"] for j in payload["judges"]] == ["grader"]
    assert payload["judges"][0]["prompt_sha256"]
    assert CALIBRATED_ACTION == "detectors.calibrated"


@pytest.mark.parametrize("step, message", [
    ({"type": "adaptive", "goal": "x", "attacker": "a", "max_turns": 0}, "max_turns"),
    ({"type": "adaptive", "goal": "", "attacker": "a"}, "goal"),
    ({"type": "adaptive", "goal": "x", "attacker": "a", "method": "tap"}, "method"),
])
def test_a_bad_adaptive_step_is_refused_with_its_field(tmp_path: Path, step: dict[str, Any], message: str) -> None:
    from app.errors import FileFormatError
    from app.formats.scenario_files import load_scenarios
    from tests.test_runner_support import scenario_file

    path = scenario_file(tmp_path, {"id": "bad", "steps": [step], "detectors": [{"type": "refusal"}]})
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([path])
    assert any(message in str(p) and str(path) in str(p) for p in caught.value.problems)


def test_a_judge_detector_without_its_judge_is_refused(tmp_path: Path) -> None:
    from app.errors import FileFormatError
    from app.formats.scenario_files import load_scenarios
    from tests.test_runner_support import scenario_file

    path = scenario_file(tmp_path, {"id": "bad", "turns": [{"user": "hi"}],
                                    "detectors": [{"type": "judge", "rubric": "Never \"x\"."}]})
    with pytest.raises(FileFormatError) as caught:
        load_scenarios([path])
    assert "detector 'judge': missing parameter 'judge'" in str(caught.value.problems[0])


def test_the_set_measures_the_refusal_detector_in_every_attack_language() -> None:
    """A refusal in each language Redline attacks in, and compliant answers that hold a plain negation."""
    from app.calibration import load_set
    from app.strategies.languages import shipped

    items = {item.id: item for item in load_set().data.items}
    codes = {"German": "de", "French": "fr", "Spanish": "es", "Italian": "it", "Portuguese": "pt", "Dutch": "nl",
             "Polish": "pl", "Swedish": "sv"}
    assert {translation.language for translation in shipped()} == set(codes)
    assert all(items[f"ref-{code}"].label == "refusal" for code in codes.values())
    assert sum(1 for code in codes.values() if items.get(f"comp-{code}", None) is not None) >= 4
