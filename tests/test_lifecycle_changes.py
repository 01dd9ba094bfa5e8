"""Model inventory (AI-GOV-01) and change detection (AI-GOV-03, CC8.1) against real loopback endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import select

from app.changes import (
    CANARY_PROBES,
    behaviour_fingerprint,
    change_flags,
    check_inventory,
    probe_engagement,
    probe_systems,
)
from app.findings import find
from app.store import audit, session
from app.store.models import AISystem, Finding
from tests.servers.loopback import closed_port
from tests.servers.stream_server import OLLAMA_PATH, OPENAI_PATH, ollama_stream, openai_stream
from tests.test_lifecycle_support import demo, events, make_engagement, run  # noqa: F401


def test_the_behaviour_fingerprint_ignores_line_breaks_but_not_words() -> None:
    answers = [("Which model version are you running?", "I am build 1.")]
    assert behaviour_fingerprint(answers) == behaviour_fingerprint([(answers[0][0], "I am\n build 1. ")])
    assert behaviour_fingerprint(answers) != behaviour_fingerprint([(answers[0][0], "I am build 2.")])


def test_probes_see_a_model_change_but_not_a_remediation(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    [before] = probe_engagement(eid)
    demo.hardened = True  # a remediation changes how attacks are answered, not the canary answers
    [hardened] = probe_engagement(eid)
    demo.model_version = "2"
    [changed] = probe_engagement(eid)
    assert before.error == "" and len(before.answers) == len(CANARY_PROBES)
    assert before.behaviour_fingerprint == hardened.behaviour_fingerprint != changed.behaviour_fingerprint
    assert before.system_fingerprint == hardened.system_fingerprint != changed.system_fingerprint
    assert "build 2" in changed.answers[0][1]
    [probe] = events(eid, "system.probed")[:1]
    assert probe.payload["window"] == "W1" and probe.payload["probes"][0]["prompt"] == CANARY_PROBES[0]
    with session() as db:
        flags = change_flags(db, eid)
    assert {(f.kind, f.before, f.after) for f in flags} == {
        ("system_fingerprint", before.system_fingerprint, changed.system_fingerprint),
        ("behaviour_fingerprint", before.behaviour_fingerprint, changed.behaviour_fingerprint)}
    assert all("possible unapproved model change" in f.message and "support-bot" in f.message for f in flags)


def test_runs_flag_a_fingerprint_change_between_windows_once_per_change(demo: Any) -> None:
    scenarios = ("pi-direct-override", "gov-retired-staging-models", "gov-model-identity")
    eid = make_engagement(demo.base_url, scenarios=scenarios)
    run(eid)
    run(eid)  # the same model again: nothing changed
    with session() as db:
        assert change_flags(db, eid) == []
    demo.model_version = "2"
    run(eid, window="W2")
    with session() as db:
        flags = change_flags(db, eid)
    # One flag per model whose fingerprint changed, however many scenarios saw it; the scenario that asks
    # for other models on purpose compares each step only with the same step, so asking for another
    # model is no "change" (and each model it reached shows its own new fingerprint).
    assert [(f.kind, f.model, f.before_window, f.after_window, f.seen) for f in flags] == [
        ("system_fingerprint", "acme-support-1", "W1", "W2", 2),
        ("system_fingerprint", "acme-support-staging", "W1", "W2", 1),
        ("system_fingerprint", "acme-support-0.9", "W1", "W2", 1)]
    assert flags[0].evidence.startswith("run ") and "between W1 and W2" in flags[0].message
    assert "(model acme-support-1)" in flags[0].message


def test_probes_ask_for_temperature_zero_where_the_api_takes_it(stream_server: Any) -> None:
    from app import alignment

    stream_server.route(OPENAI_PATH, openai_stream(["ready"]))
    stream_server.route(OLLAMA_PATH, ollama_stream(["ready"]))
    with session() as db:
        eid = alignment.create_engagement(db, "kinds").id or 0
        for name, kind, base in (("gpt", "openai", "/v1"), ("llama", "ollama", "")):
            alignment.save_system(db, eid, alignment.system_spec(name=name, kind=kind, model="m",
                                                                 base_url=stream_server.url + base))
        systems = list(db.exec(select(AISystem).order_by(AISystem.id)).all())
    results = asyncio.run(probe_systems(systems))
    assert [r.error for r in results] == ["", ""] and results[0].model_id == "gpt-test-1"
    openai_bodies = [r.json() for r in stream_server.requests_to(OPENAI_PATH)]
    ollama_bodies = [r.json() for r in stream_server.requests_to(OLLAMA_PATH)]
    assert len(openai_bodies) == len(ollama_bodies) == len(CANARY_PROBES)
    assert all(b["temperature"] == 0 for b in openai_bodies)
    assert all(b["options"]["temperature"] == 0 for b in ollama_bodies)
    assert [b["messages"][-1]["content"] for b in openai_bodies] == list(CANARY_PROBES)


def test_an_unreachable_system_gives_an_incomplete_probe_that_flags_nothing() -> None:
    from app import alignment

    with session() as db:
        eid = alignment.create_engagement(db, "down").id or 0
        alignment.save_system(db, eid, alignment.system_spec(
            name="down", kind="openai", model="m", base_url=f"http://127.0.0.1:{closed_port()}/v1",
            extra_target={"max_retries": 0}))
    [result] = probe_engagement(eid)
    assert result.behaviour_fingerprint == "" and "connect" in result.error
    with session() as db:
        assert change_flags(db, eid) == []


def test_inventory_proposes_one_draft_finding_per_undocumented_model_once(demo: Any) -> None:
    eid = make_engagement(demo.base_url)
    [check] = check_inventory(eid, actor="ana")
    assert check.undocumented == ("acme-support-staging", "acme-support-0.9")
    assert len(check.created) == 2 and check.finding_ids == check.created
    [again] = check_inventory(eid)
    assert again.created == () and again.finding_ids == check.finding_ids  # idempotent
    with session() as db:
        findings = find(db, eid)
        assert [f.evidence["model"] for f in findings] == ["acme-support-staging", "acme-support-0.9"]
        for f in findings:
            assert (f.status, f.controls[0], f.exception_kind, f.scenario_id) == (
                "draft", "AI-GOV-01", "system_description", "gov-model-inventory")
            assert f.severity in ("low", "medium") and f.created_by == "ana"
        assert audit.verify_chain(db, eid) == []
    assert len(events(eid, "inventory.checked")) == 2
    demo.hardened = True  # the staging and deprecated models are withdrawn
    [clean] = check_inventory(eid)
    assert clean.undocumented == () and clean.created == ()
    with session() as db:
        assert len(db.exec(select(Finding)).all()) == 2


def test_an_inventory_listing_that_fails_proposes_nothing() -> None:
    from app import alignment

    with session() as db:
        eid = alignment.create_engagement(db, "down").id or 0
        alignment.save_system(db, eid, alignment.system_spec(
            name="down", kind="openai", model="m", base_url=f"http://127.0.0.1:{closed_port()}/v1",
            extra_target={"max_retries": 0}))
    [check] = check_inventory(eid)
    assert check.error and check.finding_ids == ()
    with session() as db:
        assert find(db, eid) == []
