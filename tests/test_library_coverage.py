"""The bundled scenario library covers the whole methodology and every criterion and AI control.

Everything is read through the real loader and the real catalog, so a scenario
that is renamed, re-mapped or dropped shows up here as the gap it leaves.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.catalog import load_catalog
from app.cli import main
from app.formats.scenario import CATEGORIES, MAX_BURST_REQUESTS, ScenarioSpec
from app.library import ScenarioLibrary, load_library
from app.resources import scenarios_dir

# The variants the catalog's prompt-injection bullet names; each needs its own scenario.
INJECTION_VARIANTS = ("direct", "indirect", "multi_turn", "encoding")
# Scenarios that load or disrupt the system, or read state other callers change, say so.
EXCLUSIVE_TAG = "exclusive"


@pytest.fixture(scope="module")
def library() -> ScenarioLibrary:
    return load_library()


def _specs(library: ScenarioLibrary) -> list[ScenarioSpec]:
    return [loaded.spec for loaded in library.all()]


def _with(library: ScenarioLibrary, methodology: str) -> list[ScenarioSpec]:
    return [s for s in _specs(library) if s.methodology == methodology]


def test_every_methodology_key_has_a_scenario(library: ScenarioLibrary) -> None:
    catalog = load_catalog()
    covered = {s.methodology for s in _specs(library)}
    missing = sorted(catalog.methodology_keys() - covered)
    assert not missing, f"methodology keys without a scenario: {missing}"
    for item in catalog.methodology:  # and in the category the catalog files it under
        assert any(s.category == item.category for s in _with(library, item.key)), item.key


def test_every_prompt_injection_variant_has_a_scenario(library: ScenarioLibrary) -> None:
    tags = Counter(tag for s in _with(library, "prompt_injection") for tag in s.tags)
    missing = [variant for variant in INJECTION_VARIANTS if not tags[variant]]
    assert not missing, f"prompt-injection variants without a scenario: {missing}"


def test_every_criterion_and_ai_control_is_evidenced(library: ScenarioLibrary) -> None:
    catalog = load_catalog()
    cited = {control for s in _specs(library) for control in s.controls}
    criteria = {c.id for c in catalog.criteria}
    controls = {c.id for c in catalog.controls}
    assert not sorted(criteria - cited), f"criteria without a scenario: {sorted(criteria - cited)}"
    assert not sorted(controls - cited), f"AI controls without a scenario: {sorted(controls - cited)}"
    # The families the brief spells out, so a catalog that shrank could not hide a gap.
    for family in ("AI-GOV-0", "AI-SEC-0", "AI-DATA-0"):
        assert {f"{family}{n}" for n in range(1, 5)} <= cited
    assert {"CC6.1", "CC6.3", "CC6.6", "CC6.7", "CC6.8", "CC7.2", "CC7.3", "CC8.1", "A1.1", "A1.2",
            "C1.1", "C1.2", *(f"PI1.{n}" for n in range(1, 6)), *(f"P{n}" for n in range(1, 9))} <= cited


def test_every_scenario_is_written_for_the_report(library: ScenarioLibrary) -> None:
    for s in _specs(library):
        for field in ("title", "description", "rationale", "expected", "remediation", "impact"):
            assert getattr(s, field).strip(), f"{s.id}: empty {field}"
        assert s.severity in ("high", "medium", "low")
        # The impact line names the control it is about, as the report's impact column does.
        assert any(control in s.impact for control in s.controls), f"{s.id}: impact names none of its controls"
        names = [d.name for d in s.detectors]
        assert all(names), f"{s.id}: every detector is named, so a verdict says what it checked"
        assert len(set(names)) == len(names), f"{s.id}: detector names repeat"


def test_one_scenario_per_file_named_by_id_in_its_category_folder(library: ScenarioLibrary) -> None:
    root = scenarios_dir().resolve()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert len(files) == len(library) == len({s.id for s in _specs(library)})
    for loaded in library.all():
        path = Path(loaded.path).resolve()
        assert path.stem == loaded.spec.id
        assert path.parent.relative_to(root).as_posix() == loaded.spec.category
        assert loaded.text == path.read_text(encoding="utf-8"), f"{path} holds more than one scenario"
    assert {p.parent.name for p in files} == set(CATEGORIES)


def test_typed_steps_for_the_tests_that_are_not_chat(library: ScenarioLibrary) -> None:
    def steps(s: ScenarioSpec) -> list[Any]:
        return list(s.all_steps)

    authn = _with(library, "api_authn_authz")
    assert any(st.auth == "none" for s in authn for st in steps(s) if st.type in ("chat", "list_models"))
    assert any(st.auth == "revoked" for s in authn for st in steps(s) if st.type in ("chat", "list_models"))
    assert any("privilege_escalation" in s.tags for s in authn)

    inventory = [s for s in _specs(library) if "AI-GOV-01" in s.controls]
    assert any(any(st.type == "list_models" for st in steps(s)) and any(d.type == "inventory" for d in s.detectors)
               for s in inventory)
    lifecycle = [s for s in _specs(library) if "AI-GOV-02" in s.controls]
    assert any(sum(1 for st in steps(s) if st.type == "chat" and st.model) >= 2
               and any(d.type in ("status", "refusal") for d in s.detectors) for s in lifecycle)

    deletion = _with(library, "retention_deletion")
    assert any(_delete_then_recall(s) for s in deletion)

    for key in ("cross_tenant_leakage", "history_isolation", "multitenant_isolation"):
        assert any(len({st.identity for st in steps(s)}) >= 2 for s in _with(library, key)), key

    (ramp,) = _with(library, "pipeline_stress")
    levels = [st.concurrency for st in steps(ramp) if st.type == "burst"]
    assert len(levels) >= 3 and levels == sorted(set(levels)), "a ramp of rising concurrency"
    assert any(st.type == "burst" for s in _with(library, "resource_exhaustion") for st in steps(s))

    monitoring = [s for s in _specs(library) if {"CC7.2", "CC7.3"} & set(s.controls)]
    assert any(any(st.type == "http" and st.method == "GET" and "/security/alerts" in st.path for st in steps(s))
               for s in monitoring)
    assert all(any(d.type == "canary" for d in s.detectors) for s in _with(library, "system_prompt_extraction"))
    strategies = {st.strategy for s in _with(library, "adversarial_inputs") for st in steps(s) if st.type == "chat"}
    assert {"zero_width", "homoglyph"} <= strategies
    assert any(d.type == "inventory" for s in _specs(library) for d in s.detectors)


def _delete_then_recall(s: ScenarioSpec) -> bool:
    """An http DELETE, a chat after it, and a recall detector that judges that chat."""
    steps = s.all_steps
    deletes = [i for i, st in enumerate(steps) if st.type == "http" and st.method == "DELETE"]
    if not deletes:
        return False
    later_chats = [i for i, st in enumerate(steps) if st.type == "chat" and i > deletes[0]]
    return any(d.type == "recall" and (d.steps is None or set(d.steps) & set(later_chats)) for d in s.detectors)


def test_sampled_and_availability_scenarios_stay_small_and_bounded(library: ScenarioLibrary) -> None:
    sampled = [s for s in _with(library, "hallucination_rate") if s.samples > 1]
    assert sampled, "the hallucination rate is measured over repeated samples"
    rate = sampled[0]
    assert rate.samples * len(rate.all_steps) >= 10, "a rate needs a sample worth the name"
    assert rate.pass_criteria.max_fail_rate > 0, "a sampled rate states its tolerance"
    for s in _specs(library):
        bursts = [st for st in s.all_steps if st.type == "burst"]
        total = sum(st.requests for st in bursts) * s.samples
        assert total <= MAX_BURST_REQUESTS, f"{s.id}: {total} burst requests; keep load tests small"
        assert all(st.max_seconds <= 30 for st in bursts), f"{s.id}: every burst has a short time cap"
    for key in ("resource_exhaustion", "pipeline_stress", "failover_fallback", "rto_validation"):
        for s in _with(library, key):
            assert s.category == "availability"


def test_scenarios_that_disturb_other_traffic_are_tagged_exclusive(library: ScenarioLibrary) -> None:
    for s in _specs(library):
        steps = s.all_steps
        disturbs = (any(st.type == "burst" for st in steps)
                    or any(st.type == "http" and "/admin/" in st.path for st in steps)
                    or len({st.identity for st in steps}) > 1)
        assert disturbs == (EXCLUSIVE_TAG in s.tags), s.id


def test_cli_lists_every_category_and_validates_the_library(capsys: pytest.CaptureFixture[str],
                                                            library: ScenarioLibrary) -> None:
    assert main(["scenarios", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {item["category"] for item in listed} == set(CATEGORIES)
    assert sorted(item["id"] for item in listed) == sorted(library.ids())
    assert all(item["rationale"] and item["expected"] and item["remediation"] for item in listed)

    assert main(["scenarios", "validate"]) == 0
    count = len(library)
    assert capsys.readouterr().out == f"OK: {count} scenarios in {count} files\n"


def _messages(specs: list[ScenarioSpec]) -> set[str]:
    return {" ".join(step.user.split()) for s in specs for step in s.all_steps if getattr(step, "user", None)}


def test_the_library_ships_at_least_150_distinct_attack_messages(library: ScenarioLibrary) -> None:
    # Counted before any strategy rewrites them; planting and set-up turns are in the count but few (under 10).
    assert len(_messages(_specs(library))) >= 150


def test_each_injection_variant_and_chat_methodology_line_is_attacked_in_many_wordings(
        library: ScenarioLibrary) -> None:
    specs = _specs(library)
    for variant in (*INJECTION_VARIANTS, "extraction"):
        tagged = [s for s in specs if variant in s.tags]
        assert len(_messages(tagged)) >= 5, variant
    thin = {}
    for key in ("system_prompt_extraction", "pii_extraction", "output_manipulation", "human_oversight",
                "cross_tenant_leakage", "weight_config_extraction", "hallucination_rate", "training_data_extraction"):
        count = len(_messages(_with(library, key)))
        if count < 5:
            thin[key] = count
    assert not thin, f"methodology lines with fewer than five distinct prompts: {thin}"
