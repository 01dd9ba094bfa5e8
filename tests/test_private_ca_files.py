"""A system's ``target.tls`` block as a file states it: checked at load with file, line and field, round-tripped,
and its client key loaded only with its passphrase from a secret reference.

Real parts: certificates made by ``cryptography`` for the test (tests/servers/tls.py), the engagement loader,
the CLI and a temp store. The runs through a real TLS server are in tests/test_private_ca.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers.tls import Certificates, make_certificates
from tests.test_private_ca import PASSPHRASE, _copy_ca, _fingerprint, _system
from tests.test_runner_support import engagement_file, import_engagement_file


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("private-ca-files"))


def _broken(tmp_path: Path, tls: dict[str, Any]) -> Path:
    path = engagement_file(tmp_path, [_system("gateway", "https://127.0.0.1:9/v1", tls)], name="broken-tls")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("make", "field", "message"), [
    (lambda d: {"ca_file": "missing-ca.pem"}, "ca_file", "no such file"),
    (lambda d: {"ca_file": _write(d / "notes.pem", b"not a certificate\n")}, "ca_file",
     "holds no PEM certificate"),
    (lambda d: {"ca_file": _write(d / "huge.pem", b"-----BEGIN CERTIFICATE-----\n" + b"A" * (1024 * 1024 + 10))},
     "ca_file", "larger than 1024 KiB"),
    (lambda d: {"ca_file": _write(d / "garbled.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                                     b"-----END CERTIFICATE-----\n")}, "ca_file",
     "not a readable PEM certificate"),
    (lambda d: {"client_key": "client.key"}, "client_key", "a client_key needs its client_cert"),
])
def test_a_broken_tls_block_names_file_line_and_field_and_writes_nothing(
        tmp_path: Path, make: Any, field: str, message: str) -> None:
    from sqlmodel import select

    from app.engagements import load_engagement_file
    from app.errors import FileFormatError
    from app.store import session
    from app.store.models import Engagement

    path = _broken(tmp_path, make(tmp_path))
    with pytest.raises(FileFormatError) as raised:
        load_engagement_file(path)
    [problem] = raised.value.problems
    assert problem.path == str(path)
    assert problem.field == f"systems[0].target.tls.{field}"
    assert problem.line == _line_of(path, f"{field}:")
    assert message in problem.message, problem.message
    from app.cli import main

    assert main(["engagement", "import", str(path)]) != 0
    with session() as db:
        assert db.exec(select(Engagement)).all() == []


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return path.name


def test_a_literal_passphrase_is_refused(tmp_path: Path, certs: Certificates) -> None:
    from app.engagements import load_engagement_file
    from app.errors import FileFormatError

    path = _broken(tmp_path, {"client_cert": str(certs.client.cert), "client_key": str(certs.client.key),
                              "key_passphrase": PASSPHRASE})
    with pytest.raises(FileFormatError) as raised:
        load_engagement_file(path)
    assert "a literal API key is not allowed" in str(raised.value)
    assert PASSPHRASE not in str(raised.value)


def test_the_engagement_file_round_trips_with_the_tls_block(tmp_path: Path, certs: Certificates) -> None:
    from app.engagements import dump_engagement_yaml, export_engagement, load_engagement_file
    from app.store import session

    _copy_ca(certs, tmp_path)
    path = engagement_file(tmp_path, [_system("gateway", "https://127.0.0.1:9/v1", {"ca_file": "client-ca.pem"})],
                           name="round-trip")
    import_engagement_file(path)
    with session() as db:
        text = dump_engagement_yaml(export_engagement(db, "round-trip"))
    tls = yaml.safe_load(text)["systems"][0]["target"]["tls"]
    assert tls == {"ca_file": str(tmp_path / "client-ca.pem"), "ca_sha256": [_fingerprint(certs.ca)]}
    again = tmp_path / "again.yaml"
    again.write_text(text)
    assert load_engagement_file(again).systems[0].target.tls == load_engagement_file(path).systems[0].target.tls


@pytest.mark.parametrize(("key", "passphrase_env", "field", "message"), [
    ("locked", None, "key_passphrase", "the client key is encrypted and no key_passphrase is configured"),
    ("locked", "RL_TEST_WRONG_PASSPHRASE", "client_key", "a wrong passphrase, or a key that does not match"),
    ("other", None, "client_key", "a wrong passphrase, or a key that does not match"),
    ("locked", "RL_TEST_UNSET_PASSPHRASE", "key_passphrase", "the client key's passphrase is unavailable"),
])
def test_a_client_key_that_cannot_be_loaded_is_a_clear_error_that_never_shows_the_passphrase(
        tmp_path: Path, certs: Certificates, monkeypatch: pytest.MonkeyPatch, key: str,
        passphrase_env: str | None, field: str, message: str) -> None:
    from cryptography.hazmat.primitives import serialization

    from app.formats.engagement import KeyRef, TlsSpec
    from app.targets.tls import TlsSetupError, client_context

    monkeypatch.setenv("RL_TEST_WRONG_PASSPHRASE", "not-" + PASSPHRASE)
    monkeypatch.delenv("RL_TEST_UNSET_PASSPHRASE", raising=False)
    locked = tmp_path / "locked.key"
    loaded = serialization.load_pem_private_key(certs.client.key.read_bytes(), password=None)
    locked.write_bytes(loaded.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    key_file = locked if key == "locked" else certs.valid.key  # "other": a key that is not the certificate's
    tls = TlsSpec(client_cert=str(certs.client.cert), client_key=str(key_file),
                  key_passphrase=KeyRef(env=passphrase_env) if passphrase_env else None)
    with pytest.raises(TlsSetupError) as raised:
        client_context(tls)
    assert raised.value.field == field and message in str(raised.value)
    assert PASSPHRASE not in str(raised.value)


def test_the_built_in_demo_takes_no_tls_block(tmp_path: Path) -> None:
    from app.engagements import load_engagement_file
    from app.errors import FileFormatError

    path = engagement_file(tmp_path, [{"name": "demo", "target": {"kind": "demo", "tls": {"ca_file": "ca.pem"}}}],
                           name="demo-tls")
    with pytest.raises(FileFormatError) as raised:
        load_engagement_file(path)
    [problem] = raised.value.problems
    assert problem.field == "systems[0].target.tls" and "plain HTTP on loopback" in problem.message
