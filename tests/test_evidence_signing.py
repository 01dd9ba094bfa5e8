"""Signed bundles: the tester's Ed25519 key, SSH signatures an auditor checks with ssh-keygen, and what breaks them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import keyring
import pytest
from test_evidence_engagement import World, entries, rezip, world  # noqa: F401
from test_secrets import MemoryKeyring

from app.cli import main
from app.evidence.verify import verify_bundle

SIG = "manifest.json.sig"


@pytest.fixture(autouse=True)
def no_keyring() -> Iterator[None]:
    """A headless machine: no keyring backend, whatever other test modules registered."""
    from keyring.backends import fail

    original = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(original)


def _export(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> str:
    assert main(["export", "acme-2026", "--out", str(out), *extra]) == 0
    captured = capsys.readouterr()
    return captured.out + captured.err


def _public(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, *extra: str) -> Path:
    path = tmp_path / name
    assert main(["keys", "export-public", str(path), *extra]) == 0
    capsys.readouterr()
    return path


def _verify(capsys: pytest.CaptureFixture[str], bundle: Path, *extra: str) -> tuple[int, str]:
    code = main(["verify", str(bundle), *extra])
    return code, capsys.readouterr().out


def test_export_sign_creates_a_key_in_an_owner_only_file_without_a_keyring_and_signs(
        world: World, tmp_path: Path, redline_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "signed.zip"
    printed = _export(capsys, out, "--sign")
    key_file = redline_home / "keys" / "test-tester" / "signing-key"
    assert "no keyring backend is available on this machine" in printed and str(key_file) in printed
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    files = entries(out)
    manifest = json.loads(files["manifest.json"])
    fingerprint = manifest["signature"]["key_fingerprint"]
    assert fingerprint.startswith("SHA256:") and manifest["exporter"] == {"name": "test-tester",
                                                                          "key_fingerprint": fingerprint}
    assert manifest["tool"]["version"] and manifest["engagement"]["name"] == "acme-2026"
    assert manifest["audit_chain"]["head_hash"] and manifest["exported_at"]
    # The digest and the fingerprint go to the auditor by another channel.
    assert f"manifest.json SHA-256: {hashlib.sha256(files['manifest.json']).hexdigest()}" in printed
    assert f"signed with key {fingerprint}" in printed
    assert files[SIG].startswith(b"-----BEGIN SSH SIGNATURE-----")
    code, said = _verify(capsys, out, "--key", str(_public(tmp_path, capsys, "alice.pub")))
    assert code == 0 and said.startswith("OK: signed.zip") and f"signed with trusted key {fingerprint}" in said


def test_an_existing_key_signs_by_default_and_no_sign_skips(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "not signed" in _export(capsys, tmp_path / "a.zip")  # no key yet: nothing is created
    assert SIG not in entries(tmp_path / "a.zip")
    assert main(["keys", "rotate"]) == 0
    capsys.readouterr()
    _export(capsys, tmp_path / "b.zip")
    assert SIG in entries(tmp_path / "b.zip")
    assert "not signed" in _export(capsys, tmp_path / "c.zip", "--no-sign")
    assert SIG not in entries(tmp_path / "c.zip")


def test_ssh_keygen_verifies_a_real_bundle_with_an_allowed_signers_file(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH's ssh-keygen is not installed here (.ci/run installs openssh-client)")
    out = tmp_path / "signed.zip"
    _export(capsys, out, "--sign")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(folder)
    public = _public(tmp_path, capsys, "alice.pub").read_text().split()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'test-tester namespaces="redline-evidence" {public[0]} {public[1]}\n')

    def ssh_verify(signers: Path) -> subprocess.CompletedProcess[str]:
        with (folder / "manifest.json").open("rb") as message:
            return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "test-tester",
                                   "-n", "redline-evidence", "-s", str(folder / SIG)],
                                  stdin=message, capture_output=True, text=True, timeout=30)

    good = ssh_verify(allowed)
    assert good.returncode == 0, good.stderr
    assert "Good \"redline-evidence\" signature for test-tester" in good.stdout + good.stderr
    # The allowed-signers file works for `redline verify --key` too.
    code, said = _verify(capsys, out, "--key", str(allowed))
    assert code == 0 and "signed with trusted key" in said
    # Another tester's key in the allowed-signers file: OpenSSH refuses too.
    os.environ["REDLINE_TESTER"] = "mallory"
    try:
        assert main(["keys", "rotate"]) == 0
        other = _public(tmp_path, capsys, "mallory.pub").read_text().split()
    finally:
        os.environ["REDLINE_TESTER"] = "test-tester"
    wrong = tmp_path / "wrong_signers"
    wrong.write_text(f'test-tester namespaces="redline-evidence" {other[0]} {other[1]}\n')
    assert ssh_verify(wrong).returncode != 0


def test_another_testers_key_fails_with_the_first_testers_key(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["keys", "rotate"]) == 0
    alice = _public(tmp_path, capsys, "alice.pub")
    monkeypatch.setenv("REDLINE_TESTER", "mallory")
    out = tmp_path / "mallory.zip"
    _export(capsys, out, "--sign")
    manifest = json.loads(entries(out)["manifest.json"])
    assert manifest["exporter"]["name"] == "mallory"
    code, said = _verify(capsys, out, "--key", str(alice))
    assert code == 1
    assert f"signature: wrong key: the bundle was signed with key {manifest['signature']['key_fingerprint']}" in said


def test_forgery_2_a_changed_approver_with_a_rebuilt_chain_fails_the_signature(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The forger edits the approver, rebuilds the chain with Redline's own event hash, and re-hashes the manifest."""
    from app.findings import transition
    from app.store import session
    from app.store.audit import event_hash
    from app.store.models import Finding

    with session() as db:  # management accepts the open finding's risk, through the lifecycle
        finding = db.get(Finding, world.findings["f2"])
        transition(db, finding, "risk_accepted", reason="compensating manual review", actor="ana",
                   approver="Head of Risk")
    out = tmp_path / "signed.zip"
    _export(capsys, out, "--sign")
    alice = _public(tmp_path, capsys, "alice.pub")
    files = entries(out)
    findings = json.loads(files["data/findings.json"])
    events = [json.loads(x) for x in files["audit/events.jsonl"].splitlines()]
    accepted = next(f for f in findings if f["id"] == world.findings["f2"])
    assert accepted["accepted_by"] == "Head of Risk" and "Head of Risk" in json.dumps(events[-1]["payload"])
    accepted["accepted_by"] = "CFO"
    events[-1]["payload"] = json.loads(json.dumps(events[-1]["payload"]).replace("Head of Risk", "CFO"))
    prev = "0" * 64
    for ev in events:
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(chain=ev["chain"], seq=ev["seq"], at=datetime.fromisoformat(ev["at"]),
                                actor=ev["actor"], action=ev["action"], entity=ev["entity"], payload=ev["payload"],
                                prev_hash=prev)
        prev = ev["hash"]
    changed = {"data/findings.json": json.dumps(findings).encode(),
               "audit/events.jsonl": "".join(json.dumps(e) + "\n" for e in events).encode()}
    manifest = json.loads(files["manifest.json"])
    for item in manifest["files"]:
        if item["path"] in changed:
            item["sha256"] = hashlib.sha256(changed[item["path"]]).hexdigest()
            item["size"] = len(changed[item["path"]])
    manifest["audit_chain"]["head_hash"] = prev
    changed["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    forged = rezip(out, tmp_path / "forged.zip", change=changed)
    code, said = _verify(capsys, forged, "--key", str(alice))
    assert code == 1
    assert "signature: modified manifest: manifest.json does not match its signature" in said
    problems = [line for line in said.splitlines() if line.startswith("  - ")]
    assert problems == [line for line in problems if "signature:" in line]  # every hash was redone: only the signature tells


def test_missing_signature_and_unsigned_bundle_have_distinct_messages(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signed = tmp_path / "signed.zip"
    _export(capsys, signed, "--sign")
    alice = _public(tmp_path, capsys, "alice.pub")
    stripped = rezip(signed, tmp_path / "stripped.zip", change={SIG: None})
    code, said = _verify(capsys, stripped, "--key", str(alice))
    assert code == 1 and "signature: missing signature: the manifest says it was signed with key SHA256:" in said
    code, said = _verify(capsys, stripped)
    assert code == 1 and "missing signature" in said  # without --key too: the manifest promised one
    unsigned = tmp_path / "unsigned.zip"
    _export(capsys, unsigned, "--no-sign")
    code, said = _verify(capsys, unsigned, "--key", str(alice))
    assert code == 1 and "signature: unsigned bundle: the manifest records no signature" in said
    code, said = _verify(capsys, unsigned)
    assert code == 0 and "; not signed" in said and "note: the bundle is not signed" in said


def test_without_key_verify_says_the_signature_was_not_checked_against_a_trusted_key(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "signed.zip"
    _export(capsys, out, "--sign")
    code, said = _verify(capsys, out)
    assert code == 0 and "signature NOT checked against a trusted key" in said
    assert "was NOT checked against a trusted key: pass --key" in said
    assert "signed with trusted key" not in said


def test_rotate_keeps_old_public_keys_so_old_bundles_still_verify(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_bundle = tmp_path / "q1.zip"
    _export(capsys, old_bundle, "--sign")
    first = json.loads(entries(old_bundle)["manifest.json"])["signature"]["key_fingerprint"]
    assert main(["keys", "rotate"]) == 0
    said = capsys.readouterr().out
    assert f"retired key {first}" in said
    assert main(["keys", "show"]) == 0
    shown = capsys.readouterr().out
    assert f"retired {first}" in shown and "current SHA256:" in shown
    current_only = _public(tmp_path, capsys, "current.pub")
    every_key = _public(tmp_path, capsys, "all.pub", "--all")
    assert _verify(capsys, old_bundle, "--key", str(current_only))[0] == 1
    assert _verify(capsys, old_bundle, "--key", str(every_key))[0] == 0
    new_bundle = tmp_path / "q2.zip"
    _export(capsys, new_bundle)
    assert _verify(capsys, new_bundle, "--key", str(current_only))[0] == 0


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    original = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(original)


def _secret_forms(pem: str) -> list[bytes]:
    """The private key as it could leak: its PEM body lines, and its 32-byte seed raw, in hex and in base64."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, load_ssh_private_key

    key = load_ssh_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    lines = [line.encode() for line in pem.splitlines() if line and not line.startswith("-----")]
    return [seed, seed.hex().encode(), base64.b64encode(seed).rstrip(b"=")] + lines


def test_the_private_key_lives_in_the_keyring_and_leaks_nowhere(
        world: World, tmp_path: Path, redline_home: Path, capsys: pytest.CaptureFixture[str],
        memory_keyring: MemoryKeyring) -> None:
    out = tmp_path / "signed.zip"
    printed = _export(capsys, out, "--sign")
    assert "the private key is in the OS keyring" in printed
    assert not (redline_home / "keys" / "test-tester" / "signing-key").exists()
    (service, _user), pem = next(iter(memory_keyring.entries.items()))
    assert service == "redline-signing" and "OPENSSH PRIVATE KEY" in pem
    assert main(["keys", "show"]) == 0
    printed += capsys.readouterr().out
    code, said = _verify(capsys, out, "--key", str(_public(tmp_path, capsys, "alice.pub")))
    assert code == 0
    printed += said
    leaks = _secret_forms(pem)
    haystacks = {f"bundle:{name}": data for name, data in entries(out).items()}
    haystacks["terminal"] = printed.encode()
    for path in redline_home.rglob("*"):  # the store (redline.db and its WAL), logs, key folders
        if path.is_file():
            haystacks[str(path)] = path.read_bytes()
    for where, data in haystacks.items():
        for form in leaks:
            assert form not in data, f"private key material in {where}"
    assert verify_bundle(out).signed_by


def test_a_key_file_readable_by_others_is_refused(world: World, tmp_path: Path, redline_home: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "rotate"]) == 0
    key_file = redline_home / "keys" / "test-tester" / "signing-key"
    key_file.chmod(0o644)
    assert main(["export", "acme-2026", "--out", str(tmp_path / "x.zip")]) == 1
    assert f"run `chmod 600 {key_file}`" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
