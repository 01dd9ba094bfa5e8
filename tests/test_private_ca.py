"""A client's system behind its own CA, with and without mutual TLS (``target.tls``).

Real parts: the demo AI system on 127.0.0.1, reached as a client's gateway is
(``kind: openai``) through a real TLS server in front of it whose certificate a
private CA made inside the test signs (tests/servers/tls.py); for mutual TLS
that server demands a client certificate the same CA signed. The loader, the
runner, the transport checks, the store and the bundle are the product's own.
"""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.demo import DEMO_API_KEY, DemoServer, start_demo_server
from tests.servers.tls import Certificates, Served, make_certificates, serve_tls_front
from tests.test_runner_support import engagement_file, import_engagement_file, openai_system, plan

PASSPHRASE = "tls-key-passphrase-5e1c0b7a"
SCENARIOS = ["pi-direct-override", "gov-model-inventory"]  # a streamed chat turn, and the model listing


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture(scope="module")
def gateways(certs: Certificates) -> Iterator[dict[str, Served]]:
    """The demo behind TLS signed by the private CA: one front open to all, one demanding a client certificate."""
    demo: DemoServer = start_demo_server(chunk_delay=0, service_time=0)
    made = {"tls": serve_tls_front(certs.valid, demo.base_url),
            "mtls": serve_tls_front(certs.valid, demo.base_url, client_ca=certs.ca)}
    yield made
    for server in made.values():
        server.stop()
    demo.stop()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RL_TEST_GATEWAY_KEY", DEMO_API_KEY)
    monkeypatch.setenv("RL_TEST_TLS_PASSPHRASE", PASSPHRASE)


def _system(name: str, url: str, tls: dict[str, Any] | None) -> dict[str, Any]:
    system = openai_system(name, url, api_key={"env": "RL_TEST_GATEWAY_KEY"})
    if tls is not None:
        system["target"]["tls"] = tls
    return system


def _run(tmp_path: Path, name: str, systems: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    from app.runner import run_scenarios

    engagement = import_engagement_file(engagement_file(tmp_path, systems, name=name))
    outcomes = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=SCENARIOS)))
    return engagement, outcomes


def _turn_errors(run_ids: list[int]) -> list[tuple[str | None, str]]:
    """(error type, detail) of every turn of the runs; (None, "") for a turn answered with HTTP 2xx."""
    from sqlmodel import col, select

    from app.store import session
    from app.store.models import Turn

    with session() as db:
        turns = db.exec(select(Turn).where(col(Turn.run_id).in_(run_ids))).all()
        assert turns
        return [(None, "") if not t.error_type and 200 <= (t.http_status or 0) < 300
                else (t.error_type or f"HTTP {t.http_status}", t.error_detail) for t in turns]


def _copy_ca(certs: Certificates, folder: Path) -> None:
    """The client's CA next to the engagement file, so the file names it by a relative path."""
    (folder / "client-ca.pem").write_bytes(certs.ca.read_bytes())


def test_without_the_engagement_ca_every_turn_is_a_typed_tls_error_and_never_a_pass(
        tmp_path: Path, gateways: dict[str, Served], keys: None) -> None:
    _, outcomes = _run(tmp_path, "no-ca", [_system("gateway", gateways["tls"].url, None)])
    assert outcomes and all(o.verdict != "pass" for o in outcomes), [(o.scenario_id, o.verdict) for o in outcomes]
    errors = _turn_errors([o.run_id for o in outcomes])
    assert errors and {e for e, _ in errors} == {"tls"}, errors
    assert all("certificate not trusted: unable to get local issuer certificate" in d for _, d in errors), errors


def test_with_the_engagement_ca_the_run_works_and_the_store_keeps_the_anchor(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates, keys: None) -> None:
    from sqlmodel import select

    from app.store import session
    from app.store.models import AISystem, Run

    _copy_ca(certs, tmp_path)
    _, outcomes = _run(tmp_path, "with-ca", [_system("gateway", gateways["tls"].url, {"ca_file": "client-ca.pem"})])
    verdicts = {o.scenario_id: o.verdict for o in outcomes}
    # The vulnerable demo obeys the override and lists an undocumented model: real answers, judged.
    assert verdicts == {"pi-direct-override": "fail", "gov-model-inventory": "fail"}, verdicts
    assert all(e is None for e, _ in _turn_errors([o.run_id for o in outcomes]))
    fingerprint = _fingerprint(certs.ca)
    with session() as db:
        system = db.exec(select(AISystem).where(AISystem.name == "gateway")).one()
        tls = system.target["tls"]
        assert tls["ca_file"] == str(tmp_path / "client-ca.pem")  # resolved against the engagement file's folder
        assert tls["ca_sha256"] == [fingerprint]  # pinned at import
        assert system.target["trust_anchor"]["ca"] == [
            {"sha256": fingerprint, "subject": "CN=Redline test CA", "not_after": _not_after(certs.ca)}]
        run = db.exec(select(Run).where(Run.id == outcomes[0].run_id)).one()
        assert run.system_snapshot["target"]["trust_anchor"]["ca"][0]["sha256"] == fingerprint


def test_a_ca_file_swapped_after_import_is_refused_before_any_turn(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates, keys: None) -> None:
    from app.runner import run_scenarios
    from app.targets.tls import TlsSetupError

    _copy_ca(certs, tmp_path)
    engagement = import_engagement_file(engagement_file(
        tmp_path, [_system("gateway", gateways["tls"].url, {"ca_file": "client-ca.pem"})], name="swapped"))
    (tmp_path / "other").mkdir()
    other = make_certificates(tmp_path / "other")
    (tmp_path / "client-ca.pem").write_bytes(other.ca.read_bytes())
    with pytest.raises(TlsSetupError, match="no longer holds the pinned CA"):
        asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=SCENARIOS)))


def test_mutual_tls_fails_without_the_client_certificate_and_works_with_it(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates, keys: None) -> None:
    from cryptography.hazmat.primitives import serialization

    _copy_ca(certs, tmp_path)
    key = serialization.load_pem_private_key(certs.client.key.read_bytes(), password=None)
    locked = tmp_path / "client-locked.key"
    locked.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    url = gateways["mtls"].url
    systems = [
        _system("no-client-cert", url, {"ca_file": "client-ca.pem"}),
        _system("client-cert", url, {"ca_file": "client-ca.pem", "client_cert": str(certs.client.cert),
                                     "client_key": str(certs.client.key)}),
        _system("locked-key", url, {"ca_file": "client-ca.pem", "client_cert": str(certs.client.cert),
                                    "client_key": "client-locked.key",
                                    "key_passphrase": {"env": "RL_TEST_TLS_PASSPHRASE"}}),
    ]
    engagement, outcomes = _run(tmp_path, "mtls", systems)
    by = {(o.system, o.scenario_id): o for o in outcomes}
    refused = [o for o in outcomes if o.system == "no-client-cert"]
    assert refused and all(o.verdict != "pass" for o in refused)
    errors = _turn_errors([o.run_id for o in refused])
    assert errors and {e for e, _ in errors} == {"tls"}, errors
    assert all("certificate required" in d or "handshake failure" in d for _, d in errors), errors
    for name in ("client-cert", "locked-key"):
        assert by[(name, "pi-direct-override")].verdict == "fail"
        assert by[(name, "gov-model-inventory")].verdict == "fail"
        assert all(e is None for e, _ in _turn_errors([o.run_id for o in outcomes if o.system == name]))

    # The bundle names the trust anchor and the client certificate, and holds neither key nor passphrase.
    from app.evidence.bundle import build_bundle
    from app.store import session

    with session() as db:
        build_bundle(db, engagement.id, tmp_path / "bundle.zip", sign=False)
    with zipfile.ZipFile(tmp_path / "bundle.zip") as bundle:
        names = bundle.namelist()
        manifest = json.loads(bundle.read(next(n for n in names if n.endswith("manifest.json"))))
        texts = {n: bundle.read(n) for n in names}
    anchors = manifest["trust_anchors"]
    assert set(anchors) == {"no-client-cert", "client-cert", "locked-key"}
    assert anchors["locked-key"]["ca"][0] == {"sha256": _fingerprint(certs.ca), "subject": "CN=Redline test CA",
                                              "not_after": _not_after(certs.ca)}
    assert anchors["locked-key"]["client_certificate"]["subject"] == "CN=redline-tester"
    assert anchors["locked-key"]["key_passphrase_configured"] is True
    report = next(v for n, v in texts.items() if n.endswith("report.md")).decode()
    assert f"client-cert: engagement CA CN=Redline test CA (SHA-256 {_fingerprint(certs.ca)})" in report
    assert f"TLS trust engagement CA CN=Redline test CA (SHA-256 {_fingerprint(certs.ca)})" in report  # each run
    html = next(v for n, v in texts.items() if n.endswith("report.html")).decode()
    assert "TLS trust anchors" in html and f"SHA-256 {_fingerprint(certs.ca)}" in html
    systems_json = json.loads(next(v for n, v in texts.items() if n.endswith("data/systems.json")))
    assert {s["name"]: s["trust_anchor_summary"] for s in systems_json}["client-cert"].startswith("engagement CA")
    key_body = certs.client.key.read_text().splitlines()[1]  # a line of the key's base64
    for name, data in texts.items():
        assert PASSPHRASE.encode() not in data, name
        assert b"PRIVATE KEY" not in data and key_body.encode() not in data, name
    _assert_store_free_of(PASSPHRASE, key_body)


def _assert_store_free_of(*needles: str) -> None:
    """No table of the store holds any of ``needles`` (the whole SQLite file, read as bytes)."""
    from app.store import session

    with session() as db:
        path = db.connection().engine.url.database
    data = Path(str(path)).read_bytes()
    for needle in needles:
        assert needle.encode() not in data


def test_the_transport_check_verdict_follows_the_engagement_ca(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates) -> None:
    from app.targets.transport_checks import check_system

    url = gateways["tls"].url
    plain = {c.check: c for c in asyncio.run(check_system({"kind": "openai", "base_url": url}, timeout=10))}
    assert plain["certificate"].outcome == "fail"
    assert plain["certificate"].reason == "invalid certificate: unable to get local issuer certificate"
    fingerprint = _fingerprint(certs.ca)
    tls = {"ca_file": str(certs.ca), "ca_sha256": [fingerprint]}
    trusted = {c.check: c for c in asyncio.run(check_system({"kind": "openai", "base_url": url, "tls": tls},
                                                            timeout=10))}
    assert trusted["certificate"].outcome == "pass"
    assert trusted["certificate"].reason == (f"the certificate verifies for 127.0.0.1 under the engagement's CA "
                                             f"(ca.pem, SHA-256 {fingerprint[:16]}…)")
    assert trusted["redirect"].outcome == "pass"
    # Behind mutual TLS, the checks present the client certificate the system's adapter presents.
    mutual = {"ca_file": str(certs.ca), "client_cert": str(certs.client.cert), "client_key": str(certs.client.key)}
    found = asyncio.run(check_system({"kind": "openai", "base_url": gateways["mtls"].url, "tls": mutual},
                                     timeout=10))
    assert {c.check: c.outcome for c in found}["certificate"] == "pass", found


def _fingerprint(pem: Path) -> str:
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return hashlib.sha256(x509.load_pem_x509_certificate(pem.read_bytes())
                          .public_bytes(serialization.Encoding.DER)).hexdigest()


def _not_after(pem: Path) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.read_bytes()).not_valid_after_utc.date().isoformat()


def test_editing_the_system_in_the_wizard_keeps_its_tls_block_and_anchor(tmp_path: Path, certs: Certificates) -> None:
    """The wizard rebuilds a system from its stored target: the tls block survives, the anchor is described again."""
    from sqlmodel import select

    from app.alignment.systems import save_system, system_spec
    from app.store import session
    from app.store.models import AISystem

    _copy_ca(certs, tmp_path)
    engagement = import_engagement_file(engagement_file(
        tmp_path, [_system("gateway", "https://127.0.0.1:9/v1", {"ca_file": "client-ca.pem"})], name="wizard-tls"))
    with session() as db:
        row = db.exec(select(AISystem).where(AISystem.name == "gateway")).one()
        stored = dict(row.target)
        spec = system_spec(name="gateway", kind="openai", base_url=stored["base_url"], model="other-model",
                           key=stored["api_key"], extra_target=stored)
        save_system(db, engagement.id, spec, row.id)
        db.commit()
    with session() as db:
        target = db.exec(select(AISystem).where(AISystem.name == "gateway")).one().target
    assert target["model"] == "other-model"
    assert target["tls"] == stored["tls"] and target["trust_anchor"] == stored["trust_anchor"]


def test_the_connection_test_trusts_the_engagement_ca_and_presents_the_client_certificate(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates, keys: None) -> None:
    """The cockpit's "test the connection" lists models and chats through the same TLS as a run."""
    from sqlmodel import select

    from app.alignment import check_connection, target_spec_of
    from app.store import session
    from app.store.models import AISystem

    _copy_ca(certs, tmp_path)
    mutual = {"ca_file": "client-ca.pem", "client_cert": str(certs.client.cert), "client_key": str(certs.client.key)}
    import_engagement_file(engagement_file(tmp_path, [_system("trusted", gateways["mtls"].url, mutual),
                                                      _system("public-roots", gateways["tls"].url, None)],
                                           name="connection-tls"))
    with session() as db:
        systems = {s.name: s for s in db.exec(select(AISystem)).all()}
    reports = {name: asyncio.run(check_connection(target_spec_of(s), s.models, stored_target=dict(s.target)))
               for name, s in systems.items()}
    assert reports["trusted"].models and not reports["trusted"].list_error and not reports["trusted"].chat_error
    assert reports["public-roots"].list_error.startswith("tls: TLS failed: certificate not trusted")
    assert reports["public-roots"].chat_error.startswith("tls")


def test_client_operations_on_another_host_go_through_the_same_private_ca_and_client_certificate(
        tmp_path: Path, gateways: dict[str, Served], certs: Certificates, keys: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's alert feed, on its own host behind mutual TLS under the same CA, is called and answers."""
    from app.demo.server import start_demo_server
    from tests.servers.client_ops import start_client_ops

    monkeypatch.setenv("RL_TEST_OPS_KEY", "ops-token-3a9e")
    demo = start_demo_server(chunk_delay=0, service_time=0)
    feed = start_client_ops(demo.base_url, DEMO_API_KEY, "ops-token-3a9e")
    front = serve_tls_front(certs.valid, feed.base_url, client_ca=certs.ca)
    try:
        plain_origin = feed.base_url
        operations = {name: {**op, "url": op["url"].replace(plain_origin, front.url.removesuffix("/v1"))}
                      for name, op in feed.operations("RL_TEST_OPS_KEY").items()}
        _copy_ca(certs, tmp_path)
        mutual = {"ca_file": "client-ca.pem", "client_cert": str(certs.client.cert),
                  "client_key": str(certs.client.key)}
        system = _system("gateway", gateways["tls"].url, mutual)
        system["operations"] = operations
        engagement = import_engagement_file(engagement_file(tmp_path, [system], name="ops-tls"))
        from app.runner import run_scenarios

        [outcome] = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["monitor-injection-alert"])))
        assert outcome.errors == 0 and outcome.verdict in ("pass", "fail"), (outcome.verdict, outcome.reason)
        assert all(e is None for e, _ in _turn_errors([outcome.run_id]))
        assert any(r.path.startswith("/siem/events") for r in feed.received)  # reached through TLS, with the cert
    finally:
        front.stop()
        feed.stop()
        demo.stop()
