"""Transport and endpoint checks (CC6.7) against real loopback servers: TLS, certificates, redirects.

Real parts: HTTPS servers on 127.0.0.1 with certificates made by
``cryptography`` (tests/servers/tls.py), a plain HTTP server that redirects,
the runner and a temp store. Plain HTTP to a host other than this machine is
decided from the URL alone, before any connection: the test uses a reserved
``.test`` name that resolves nowhere, and says so where a check then has no
answer.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.formats.engagement import TlsSpec
from app.targets.transport_checks import EXEMPT_REASON, EndpointCheck, check_endpoint
from tests.servers.tls import Certificates, Served, make_certificates, serve_http, serve_tls
from tests.test_runner_support import engagement_file, import_engagement_file, plan


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def servers(certs: Certificates) -> Iterator[dict[str, Served]]:
    made = {"valid": serve_tls(certs.valid), "expired": serve_tls(certs.expired),
            "self_signed": serve_tls(certs.self_signed),
            "redirect_away": serve_http(location="https://login.elsewhere.test/start"),
            "redirect_home": serve_tls(certs.valid, location="/v1/login")}
    yield made
    for server in made.values():
        server.stop()


def _by_check(checks: list[EndpointCheck]) -> dict[str, EndpointCheck]:
    return {c.check: c for c in checks}


def _check(url: str, **options: Any) -> dict[str, EndpointCheck]:
    return _by_check(asyncio.run(check_endpoint(url, timeout=10, **options)))


def test_a_valid_certificate_and_modern_tls_pass(servers: dict[str, Served], certs: Certificates) -> None:
    found = _check(servers["valid"].url, tls=TlsSpec(ca_file=str(certs.ca)))
    assert found["plain_http"].outcome == "pass"
    assert found["certificate"].outcome == "pass"
    assert found["tls_version"].outcome in ("pass", "error"), found["tls_version"]
    assert found["tls_version"].reason.startswith("negotiates TLSv1.")
    assert found["redirect"].outcome == "pass"


def test_an_expired_certificate_fails_with_its_reason(servers: dict[str, Served], certs: Certificates) -> None:
    found = _check(servers["expired"].url, tls=TlsSpec(ca_file=str(certs.ca)))
    assert found["certificate"].outcome == "fail"
    assert found["certificate"].reason == "invalid certificate under the engagement's CA (ca.pem): certificate has expired"


def test_a_self_signed_certificate_fails_with_its_reason(servers: dict[str, Served]) -> None:
    found = _check(servers["self_signed"].url)
    assert found["certificate"].outcome == "fail"
    assert found["certificate"].reason == "invalid certificate: self-signed certificate"
    assert found["redirect"].outcome == "pass"  # judged on an unverified connection: the certificate says why


def test_tls_1_0_only_fails(certs: Certificates) -> None:
    try:
        server = serve_tls(certs.valid, tls10_only=True)
    except (ssl.SSLError, ValueError) as exc:
        pytest.skip(f"this machine's OpenSSL cannot serve TLS 1.0: {exc}")
    try:
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        probe.check_hostname, probe.verify_mode = False, ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            probe.minimum_version = probe.maximum_version = ssl.TLSVersion.TLSv1
        probe.set_ciphers("DEFAULT:@SECLEVEL=0")
        import socket

        try:
            with socket.create_connection(("127.0.0.1", server.server.server_address[1]), timeout=10) as raw:
                with probe.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.version() == "TLSv1"
        except ssl.SSLError as exc:
            pytest.skip(f"this machine's OpenSSL cannot complete a TLS 1.0 handshake with itself: {exc}")
        found = _check(server.url, tls=TlsSpec(ca_file=str(certs.ca)))
        assert found["tls_version"].outcome == "fail"
        assert found["tls_version"].reason == "TLS below 1.2: it speaks TLSv1"
    finally:
        server.stop()


def test_a_redirect_off_the_host_fails_and_one_within_it_passes(servers: dict[str, Served],
                                                                 certs: Certificates) -> None:
    away = _check(servers["redirect_away"].url)
    assert away["redirect"].outcome == "fail"
    assert away["redirect"].reason == "HTTP 302 redirects to another host: login.elsewhere.test"
    home = _check(servers["redirect_home"].url, tls=TlsSpec(ca_file=str(certs.ca)))
    assert home["redirect"].outcome == "pass" and "within 127.0.0.1" in home["redirect"].reason


def test_loopback_http_is_exempt_and_says_so(servers: dict[str, Served]) -> None:
    found = _check(servers["redirect_away"].url)
    for name in ("plain_http", "tls_version", "certificate"):
        assert (found[name].outcome, found[name].reason, found[name].exempt) == ("pass", EXEMPT_REASON, True)


def test_plain_http_to_another_host_fails_from_the_url_alone() -> None:
    # ai.client.test is a reserved name that resolves nowhere: the three TLS-side checks are decided by the
    # scheme and the host before any connection; the redirect check gets no answer and says it cannot judge.
    found = _check("http://ai.client.test:8080/v1")
    assert found["plain_http"].outcome == "fail"
    assert found["plain_http"].reason == "plain HTTP to ai.client.test: nothing in transit is encrypted"
    assert found["tls_version"].outcome == found["certificate"].outcome == "fail"
    assert found["redirect"].outcome == "error" and found["redirect"].reason.startswith("no answer")


def test_the_built_in_scenario_judges_each_url_of_the_system_without_a_model(
        tmp_path: Path, servers: dict[str, Served]) -> None:
    from sqlmodel import select

    from app.runner import run_scenarios
    from app.store import session
    from app.store.models import Turn, Verdict

    systems = [
        {"name": "tls-self", "target": {"kind": "openai", "base_url": servers["self_signed"].url},
         "operations": {"security_alerts": {"url": servers["expired"].url + "/alerts/{identity}", "auth": "none"}}},
        {"name": "plain", "target": {"kind": "openai", "base_url": "http://ai.client.test:8080/v1"}},
        {"name": "demo", "target": {"kind": "demo"}},
    ]
    engagement = import_engagement_file(engagement_file(tmp_path, systems, name="cc67"))
    outcomes = asyncio.run(run_scenarios(engagement.id, plan(engagement, scenario_ids=["transport-endpoint-checks"])))
    verdicts = {o.system: o.verdict for o in outcomes}
    assert verdicts == {"tls-self": "fail", "plain": "fail", "demo": "pass"}
    with session() as db:
        turns = db.exec(select(Turn).where(Turn.kind == "transport")).all()
        assert len(turns) == 3 and all(t.status == "done" and t.http_status is None for t in turns)
        by_system = {o.system: o.run_id for o in outcomes}
        reasons = {(v.detector, v.outcome): v.reason for v in db.exec(select(Verdict).where(
            Verdict.run_id == by_system["tls-self"])).all()}
        assert reasons[("certificate verifies", "fail")].count("invalid certificate") == 2  # base URL and operation
        assert "self-signed certificate" in reasons[("certificate verifies", "fail")]
        # The operation's host is signed by a CA this machine does not trust (the test CA is not given here).
        assert "unable to get local issuer certificate" in reasons[("certificate verifies", "fail")]
        demo = {v.detector: (v.outcome, v.reason) for v in db.exec(select(Verdict).where(
            Verdict.run_id == by_system["demo"])).all()}
        assert demo["no plain HTTP off this machine"] == ("pass", f"the built-in demo AI system (served in-process "
                                                                   f"on 127.0.0.1): {EXEMPT_REASON}")


def test_import_checks_every_in_scope_systems_urls_and_records_them(
        tmp_path: Path, servers: dict[str, Served], capsys: pytest.CaptureFixture[str]) -> None:
    from sqlmodel import select

    from app.cli import main
    from app.store import session
    from app.store.models import AuditEvent

    path = engagement_file(tmp_path, [{"name": "tls-self", "target": {
        "kind": "openai", "base_url": servers["self_signed"].url}}], name="cc67-import")
    assert main(["engagement", "import", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Imported engagement 'cc67-import'")
    assert (f"redline: CC6.7 tls-self: certificate FAIL: {servers['self_signed'].url}: invalid certificate: "
            "self-signed certificate") in captured.err
    with session() as db:
        events = db.exec(select(AuditEvent).where(AuditEvent.action == "system.transport_checked")).all()
        assert len(events) == 1 and {c["check"] for c in events[0].payload["checks"]} == {
            "plain_http", "tls_version", "certificate", "redirect"}
    assert main(["engagement", "import", str(path), "--no-transport-check"]) == 0
    assert capsys.readouterr().err == ""
