"""Signing a bundle's manifest at export, and checking that signature at verify.

The manifest lists every file's SHA-256, so signing it signs the bundle. The
signature is an SSH signature (:mod:`app.evidence.sshsig`) in
``manifest.json.sig`` beside it, which an auditor can check with
``ssh-keygen -Y verify`` and no Redline at all. ``redline verify --key`` does
the same check and names what broke: a modified manifest, a wrong key, a
missing signature, or a bundle that was never signed. Without ``--key`` it
says the signature was not checked against a trusted key, because a key named
inside the bundle proves nothing about who made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import UsageError
from app.evidence import keys, sshsig

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SIG_NAME = "manifest.json.sig"


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    public: keys.PublicKey
    notice: str = ""  # set when the key was created by this export

    def __repr__(self) -> str:  # never the private key, not even in a traceback
        return f"Signer({self.public.fingerprint})"

    def manifest_block(self) -> dict[str, Any]:
        return {"file": SIG_NAME, "format": "sshsig", "namespace": sshsig.NAMESPACE,
                "key_fingerprint": self.public.fingerprint, "public_key": self.public.line}

    def sign(self, manifest_bytes: bytes) -> str:
        return sshsig.sign(self.private, manifest_bytes)


def signer_for_export(sign: bool | None) -> Signer | None:
    """The tester's key when one exists (``sign=None``), made now if ``sign=True``, never if ``sign=False``."""
    if sign is False:
        return None
    loaded = keys.load_private()
    if loaded is not None:
        return Signer(*loaded)
    if sign is None:
        return None
    created = keys.create()
    loaded = keys.load_private()
    assert loaded is not None
    return Signer(loaded[0], loaded[1], created.notice)


def manifest_digest(manifest_bytes: bytes) -> str:
    return hashlib.sha256(manifest_bytes).hexdigest()


def trusted_keys(path: Path) -> list[bytes]:
    """The keys in a ``.pub``, ``authorized_keys`` or allowed-signers file given to ``verify --key``."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the trusted key file {path}: {exc}") from None
    found = sshsig.read_public_keys(text)
    if not found:
        raise UsageError(f"{path} holds no ssh-ed25519 public key (expected a .pub file or an allowed-signers file)")
    return found


@dataclass
class SignatureCheck:
    problems: list[str]
    notes: list[str]
    signed_by: str = ""  # fingerprint of a valid signature's key, "" when none


def check_signature(manifest: dict[str, Any], manifest_bytes: bytes, sig_text: str | None,
                    trusted: list[bytes] | None) -> SignatureCheck:
    """Every problem with the bundle's signature; ``trusted`` is None when ``--key`` was not given."""
    block = manifest.get("signature")
    result = SignatureCheck([], [])
    if not isinstance(block, dict):
        if sig_text is not None:
            result.problems.append(f"unexpected signature: {SIG_NAME} is present but the manifest records no "
                                   "signature")
        elif trusted is not None:
            result.problems.append("unsigned bundle: the manifest records no signature, so nothing proves who "
                                   "exported it (export again with `redline export --sign`)")
        else:
            result.notes.append("the bundle is not signed: nothing proves who exported it")
        return result
    named = str(block.get("key_fingerprint", ""))
    if sig_text is None:
        result.problems.append(f"missing signature: the manifest says it was signed with key {named}, but "
                               f"{SIG_NAME} is not in the bundle")
        return result
    try:
        parsed = sshsig.parse(sig_text)
    except sshsig.SignatureFormatError as exc:
        result.problems.append(f"broken signature: {SIG_NAME} is not a readable SSH signature ({exc})")
        return result
    failure = sshsig.check(parsed, manifest_bytes)
    if failure is not None:
        result.problems.append(f"modified manifest: manifest.json does not match its signature ({failure}); it "
                               "was changed after it was signed")
        return result
    if parsed.fingerprint != named:
        result.problems.append(f"signature key mismatch: {SIG_NAME} was made with key {parsed.fingerprint}, but "
                               f"the manifest names {named}")
        return result
    result.signed_by = parsed.fingerprint
    if trusted is None:
        result.notes.append(f"the signature is valid for key {parsed.fingerprint} named inside the bundle, but it "
                            "was NOT checked against a trusted key: pass --key with the tester's public key or an "
                            "allowed-signers file")
    elif parsed.key_blob not in trusted:
        result.problems.append(f"wrong key: the bundle was signed with key {parsed.fingerprint}, which is not one "
                               "of the trusted keys given with --key")
    return result
