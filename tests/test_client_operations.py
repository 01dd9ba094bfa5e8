"""Client operations: the demo-only scenarios run against a client's own endpoints, or wait for them.

Real parts: two standalone demo AI systems (vulnerable and hardened) reached
as a client's systems are (``kind: openai``), each with its operations on a
second loopback server, the client's operations gateway
(:mod:`tests.servers.client_ops`), with its own paths, its own key and its own
header. The runner, the store and the plan are the product's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.demo.server import DemoServer, start_demo_server
from tests.servers.client_ops import OPS_HEADER, ClientOpsGateway, start_client_ops
from tests.test_runner_support import engagement_file, import_engagement_file, plan

SIX = ("avail-rto-outage", "avail-failover-fallback", "monitor-injection-alert", "monitor-extraction-alert",
       "retention-deletion-recall", "training-data-provenance")
CALLS_OPERATIONS = SIX[:5]  # training-data-provenance asks the model only: it needs no operation
OPS_KEY = "client-ops-token-9d2c41e7"


@pytest.fixture(scope="module")
def estates() -> Iterator[dict[str, tuple[DemoServer, ClientOpsGateway]]]:
    """Per mode, a demo AI system and the client's operations gateway in front of its admin endpoints."""
    made: dict[str, tuple[DemoServer, ClientOpsGateway]] = {}
    for mode in ("vulnerable", "hardened"):
        demo = start_demo_server(hardened=mode == "hardened", chunk_delay=0, service_time=0)
        made[mode] = (demo, start_client_ops(demo.base_url, "demo-key", OPS_KEY))
    yield made
    for demo, gateway in made.values():
        gateway.stop()
        demo.stop()


def _system(name: str, demo: DemoServer, operations: dict[str, Any]) -> dict[str, Any]:
    system: dict[str, Any] = {"name": name, "target": {"kind": "openai", "base_url": demo.base_url,
                                                       "model": "acme-support-1", "max_retries": 0,
                                                       "api_key": {"env": "RL_TEST_CLIENT_KEY"}},
                              "models": ["acme-support-1"], "canaries": ["RL-CANARY-7f3a91"]}
    if operations:
        system["operations"] = operations
    return system


def _run(tmp_path: Path, estates: dict[str, tuple[DemoServer, ClientOpsGateway]], *, mapped: bool,
         name: str) -> list[Any]:
    from app.runner import run_scenarios

    systems = [_system(mode, demo, gateway.operations("RL_TEST_OPS_KEY") if mapped else {})
               for mode, (demo, gateway) in estates.items()]
    engagement = import_engagement_file(engagement_file(tmp_path, systems, name=name))
    return asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=list(SIX))))


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RL_TEST_CLIENT_KEY", "demo-key")
    monkeypatch.setenv("RL_TEST_OPS_KEY", OPS_KEY)


def test_the_six_fail_on_the_vulnerable_and_pass_on_the_hardened_through_the_clients_operations(
        tmp_path: Path, estates: dict[str, tuple[DemoServer, ClientOpsGateway]], keys: None) -> None:
    from sqlmodel import select

    from app.store import session
    from app.store.models import Turn

    outcomes = _run(tmp_path, estates, mapped=True, name="client-ops")
    verdicts = {(o.system, o.scenario_id): o.verdict for o in outcomes}
    assert verdicts == {**{("vulnerable", s): "fail" for s in SIX}, **{("hardened", s): "pass" for s in SIX}}, \
        [(o.system, o.scenario_id, o.verdict, o.reason) for o in outcomes]
    assert all(o.errors == 0 for o in outcomes if o.system == "hardened")

    # Every operation reached the gateway's own paths with the gateway's own key, never the system's.
    for _demo, gateway in estates.values():
        calls = {(r.method, r.path.split("?")[0].split("/redline-run")[0]) for r in gateway.received}
        assert calls == {("POST", "/ops/drills/primary-outage"), ("GET", "/siem/events"),
                         ("DELETE", "/privacy/subjects")}, calls
        assert all(r.headers.get(OPS_HEADER) == OPS_KEY for r in gateway.received)
        assert not any("demo-key" in v for r in gateway.received for v in r.headers.values())
    # The body template carried the step's argument with its type, and the identity in text.
    drill = next(r for r in estates["hardened"][1].received if r.path.startswith("/ops/drills"))
    assert b'"duration_s": 20' in drill.body and b"red-team drill for redline-run" in drill.body

    # The evidence keeps the request as sent, with the operations key redacted.
    with session() as db:
        turns = db.exec(select(Turn).where(Turn.kind == "operation")).all()
        assert turns and all(t.request["prompt"].split(":")[0] in ("outage", "security_alerts", "delete_user_data")
                             for t in turns)
        assert not any(OPS_KEY in str(t.request) or OPS_KEY in t.response_text for t in turns)


def test_without_the_operations_they_are_planned_as_needing_the_client_and_never_error(
        tmp_path: Path, estates: dict[str, tuple[DemoServer, ClientOpsGateway]], keys: None) -> None:
    from sqlmodel import select

    from app.runner.execute import PLANNED
    from app.store import session
    from app.store.models import Run

    before = {mode: len(gateway.received) for mode, (_d, gateway) in estates.items()}
    outcomes = _run(tmp_path, estates, mapped=False, name="client-no-ops")
    by = {(o.system, o.scenario_id): o for o in outcomes}
    for system in ("vulnerable", "hardened"):
        for scenario in CALLS_OPERATIONS:
            outcome = by[(system, scenario)]
            assert outcome.status == PLANNED and outcome.verdict == "" and outcome.run_id is None
            assert outcome.reason.startswith("needs the client's ")
        assert by[(system, "training-data-provenance")].status == "finished"
    assert "security alert feed (operation 'security_alerts')" in by[("hardened", "monitor-injection-alert")].reason
    assert "data-deletion API" in by[("hardened", "retention-deletion-recall")].reason
    assert {mode: len(g.received) for mode, (_d, g) in estates.items()} == before  # nothing was called
    with session() as db:
        stored = db.exec(select(Run.verdict)).all()
    assert "error" not in stored


def test_an_operation_on_another_host_never_gets_the_systems_key(tmp_path: Path) -> None:
    from app.engagements import load_engagement_file
    from app.errors import FileFormatError

    path = engagement_file(tmp_path, [{"name": "bot", "target": {
        "kind": "openai", "base_url": "https://ai.example.com/v1", "api_key": {"env": "X"}},
        "operations": {"security_alerts": {"url": "https://siem.example.com/alerts"}}}])
    with pytest.raises(FileFormatError) as caught:
        load_engagement_file(path)
    message = str(caught.value)
    assert "operations" in message and "security_alerts" in message and "its own key" in message
    assert ":" in message.split("\n")[0]  # file:line


def test_operation_urls_and_bodies_are_filled_from_the_step() -> None:
    from app.formats.engagement import OperationSpec
    from app.operations import prepare_call

    alerts = OperationSpec(url="https://siem.example.com/q?who={identity}", auth="none")
    assert prepare_call("security_alerts", alerts, {}, "run 7/a").url == "https://siem.example.com/q?who=run%207%2Fa"
    drill = OperationSpec(method="POST", url="/drill", body={"for": "{seconds}", "note": "{seconds}s by {identity}"})
    call = prepare_call("outage", drill, {"seconds": 20}, "me")
    assert call.body == {"for": 20, "note": "20s by me"}
    default = OperationSpec(method="POST", url="/admin/outage")
    assert prepare_call("outage", default, {"seconds": 0}, "me").body == {"seconds": 0}
    listing = OperationSpec(url="/alerts")
    assert prepare_call("security_alerts", listing, {"since": "1h"}, "me").url == "/alerts?since=1h"


def test_the_coverage_table_and_the_test_plan_say_what_each_waits_for(tmp_path: Path) -> None:
    from app.alignment import coverage
    from app.engagements import find_engagement
    from app.evidence.collect import load_evidence
    from app.evidence.tables import test_plan
    from app.store import session

    controls = [{"criterion": "CC7.2", "client_ref": "MON-1", "activity": "Alerts are reviewed",
                 "scenarios": ["monitor-injection-alert"]},
                {"criterion": "P4", "client_ref": "PRIV-2", "activity": "Deletion purges conversations",
                 "scenarios": ["retention-deletion-recall", "consent-training-use"]}]
    system = {"name": "bot", "target": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}}
    import_engagement_file(engagement_file(tmp_path, [system], name="cov-ops", controls=controls))
    with session() as db:
        engagement = find_engagement(db, "cov-ops")
        cov = coverage(db, engagement.id)
        first, second = cov.rows
        assert first.only_planned and not first.gap
        assert first.waiting == (("monitor-injection-alert",
                                  "needs the client's security alert feed (operation 'security_alerts')"),)
        assert not second.only_planned and [s for s, _ in second.waiting] == ["retention-deletion-recall"]
        assert "2 scenario(s) planned, waiting on the client's operations" in cov.summary()
        ev = load_evidence(db, engagement.id)
    states = {row["criterion"]: row["coverage"] for row in test_plan(ev)}
    assert states["CC7.2"] == ("Planned; monitor-injection-alert needs the client's security alert feed "
                               "(operation 'security_alerts')")
    assert states["P4"].startswith("Covered; retention-deletion-recall needs the client's data-deletion API")


def test_the_connection_test_tries_each_get_operation_and_only_lists_the_others(
        estates: dict[str, tuple[DemoServer, ClientOpsGateway]], keys: None) -> None:
    from app.alignment import check_connection, record_connection_check  # noqa: F401  (the wizard's pair)
    from app.formats.engagement import TargetSpec

    demo, gateway = estates["hardened"]
    before = len(gateway.received)
    spec = TargetSpec(kind="openai", base_url=demo.base_url, model="acme-support-1",
                      api_key={"env": "RL_TEST_CLIENT_KEY"})
    report = asyncio.run(check_connection(spec, ["acme-support-1"],
                                          stored_target={"operations": gateway.operations("RL_TEST_OPS_KEY")}))
    found = dict(report.operations)
    assert found["security_alerts"].startswith("HTTP 200 in ")
    assert found["delete_user_data"] == "not tried: DELETE may change something"
    assert found["outage"] == "not tried: POST may change something"
    assert [r.method for r in gateway.received[before:]] == ["GET"]


def test_a_planned_run_is_a_skipped_case_in_junit_and_never_changes_the_exit_code(tmp_path: Path) -> None:
    from app.junit import write_junit
    from app.runner.console import EXIT_PASS, exit_code
    from app.runner.execute import PLANNED, RunOutcome

    reason = "needs the client's security alert feed (operation 'security_alerts')"
    planned = RunOutcome(None, "monitor-injection-alert", "bot", None, PLANNED, "", title="t", reason=reason)
    assert exit_code([planned]) == EXIT_PASS
    path = tmp_path / "junit.xml"
    write_junit(path, [planned], suite="acme")
    text = path.read_text(encoding="utf-8")
    assert f'<skipped message="run planned: {reason}' in text.replace("&#x27;", "'").replace("&apos;", "'")
    assert "<error" not in text and "<failure" not in text


def test_operations_round_trip_through_the_store_and_keep_no_key_in_the_run_snapshot(tmp_path: Path) -> None:
    from app.engagements import export_engagement, find_engagement
    from app.store import session
    from app.store.models import AISystem
    from app.system_config import system_snapshot

    operations = {"security_alerts": {"method": "GET", "url": "https://siem.acme.test/q?u={identity}",
                                      "auth": {"env": "ACME_SIEM_KEY"}, "auth_header": "X-Api-Key"},
                  "outage": {"method": "POST", "url": "/drill", "body": {"s": "{seconds}"}}}
    system = {"name": "bot", "target": {"kind": "openai", "base_url": "https://ai.acme.test/v1"},
              "operations": operations}
    import_engagement_file(engagement_file(tmp_path, [system], name="ops-trip"))
    with session() as db:
        exported = export_engagement(db, "ops-trip")
        stored = db.get(AISystem, 1)
        assert stored is not None and find_engagement(db, "ops-trip").id == stored.engagement_id
        snapshot = system_snapshot(stored)
    ops = exported.systems[0].operations
    assert ops["security_alerts"].auth.env == "ACME_SIEM_KEY" and ops["security_alerts"].auth_header == "X-Api-Key"
    assert ops["outage"].body == {"s": "{seconds}"} and ops["outage"].auth == "target"
    assert snapshot["target"]["operations"]["security_alerts"]["auth"] == "own key"
    assert "ACME_SIEM_KEY" not in str(snapshot)
