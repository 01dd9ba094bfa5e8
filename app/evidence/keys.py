"""Each tester's Ed25519 signing key: created on first use, kept out of the store, rotated without orphaning old bundles.

The private key lives in the OS keyring (service ``redline-signing``). Where no
keyring backend exists (headless Linux, CI), it lives in a key file that only
the owner can read, and :attr:`KeyCreated.notice` says so plainly. It never
enters the store, a bundle, a log or the terminal: nothing here prints or
returns it, only the public half.

Public keys are not secret and sit beside the data dir under
``keys/<tester>/``: ``current.pub`` and, after ``rotate``, every earlier key in
``retired/``, so a bundle signed last quarter still verifies against the
keys the tester handed out then.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_ssh_private_key,
)

from app.errors import RedlineError
from app.evidence import sshsig

KEYRING_SERVICE = "redline-signing"
PRIVATE_FILE = "signing-key"


class SigningKeyError(RedlineError):
    """The signing key cannot be created, read or rotated; the message says what to do."""

    exit_code = 1


@dataclass(frozen=True)
class PublicKey:
    blob: bytes
    tester: str
    retired: bool = False

    @property
    def fingerprint(self) -> str:
        return sshsig.fingerprint(self.blob)

    @property
    def line(self) -> str:
        return sshsig.openssh_line(self.blob, self.tester)


@dataclass(frozen=True)
class KeyCreated:
    key: PublicKey
    notice: str  # where the private key went, in plain words


def tester() -> str:
    """Whose key: the tester name every audit event records (``REDLINE_TESTER``, else the OS login)."""
    from app.tester import name

    return name()


def key_dir(name: str | None = None) -> Path:
    from app.paths import home_dir

    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", name or tester()) or "tester"
    return home_dir() / "keys" / safe


def _keyring_usable() -> bool:
    from app.secrets import keyring_problem

    return keyring_problem() is None


def _keyring_user(name: str, fp: str) -> str:
    return f"{name}:{fp}"


def current_public(name: str | None = None) -> PublicKey | None:
    """The tester's current public key, or None before the first key is made."""
    name = name or tester()
    path = key_dir(name) / "current.pub"
    if not path.is_file():
        return None
    blobs = sshsig.read_public_keys(path.read_text(encoding="utf-8"))
    if not blobs:
        raise SigningKeyError(f"{path} does not hold an ssh-ed25519 public key; move it away and run "
                              "`redline keys rotate` to make a new key")
    return PublicKey(blobs[0], name)


def all_public(name: str | None = None) -> list[PublicKey]:
    """The current key first, then every retired key, newest first."""
    name = name or tester()
    keys = []
    now = current_public(name)
    if now is not None:
        keys.append(now)
    retired = key_dir(name) / "retired"
    if retired.is_dir():
        for path in sorted(retired.glob("*.pub"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
            keys += [PublicKey(b, name, True) for b in sshsig.read_public_keys(path.read_text(encoding="utf-8"))]
    return keys


def _write_private_file(folder: Path, pem: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / PRIVATE_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def create(name: str | None = None) -> KeyCreated:
    """Make a new key for the tester (the caller retires any current one first)."""
    name = name or tester()
    folder = key_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    key = PublicKey(sshsig.public_blob(private.public_key()), name)
    notice = ""
    stored = False
    if _keyring_usable():
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, _keyring_user(name, key.fingerprint), pem.decode("ascii"))
            stored = True
            notice = f"the private key is in the OS keyring (service {KEYRING_SERVICE})"
        except Exception as exc:  # a locked or unreachable keyring: fall back to the file, and say why
            notice = f"the keyring refused the key ({type(exc).__name__}); "
    if not stored:
        path = _write_private_file(folder, pem)
        notice = (notice or "no keyring backend is available on this machine; ") + \
            f"the private key is in {path}, readable only by you (mode 600): keep it out of backups you share"
    (folder / "current.pub").write_text(key.line + "\n", encoding="utf-8")
    return KeyCreated(key, notice)


def load_private(name: str | None = None) -> tuple[Ed25519PrivateKey, PublicKey] | None:
    """The tester's private key and its public half, or None when the tester has no key yet."""
    name = name or tester()
    public = current_public(name)
    if public is None:
        return None
    pem: bytes | None = None
    if _keyring_usable():
        try:
            import keyring

            found = keyring.get_password(KEYRING_SERVICE, _keyring_user(name, public.fingerprint))
            pem = found.encode("ascii") if found else None
        except Exception:  # an unreachable keyring: the file, if there is one, still works
            pem = None
    path = key_dir(name) / PRIVATE_FILE
    if pem is None and path.is_file():
        if path.stat().st_mode & 0o077:
            raise SigningKeyError(f"{path} can be read by other users; run `chmod 600 {path}` and try again")
        pem = path.read_bytes()
    if pem is None:
        raise SigningKeyError(f"the private half of key {public.fingerprint} is in neither the keyring nor "
                              f"{path}; run `redline keys rotate` to make a new key")
    private = load_ssh_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey) or sshsig.public_blob(private.public_key()) != public.blob:
        raise SigningKeyError(f"the stored private key does not match {public.fingerprint}; "
                              "run `redline keys rotate` to make a new key")
    return private, public


def rotate(name: str | None = None) -> tuple[PublicKey | None, KeyCreated]:
    """Retire the current key (its public half is kept, its private half deleted) and make a new one."""
    name = name or tester()
    folder = key_dir(name)
    old = current_public(name)
    if old is not None:
        retired = folder / "retired"
        retired.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9]", "_", old.fingerprint)
        (retired / f"{safe}.pub").write_text(old.line + "\n", encoding="utf-8")
        (folder / "current.pub").unlink()
        (folder / PRIVATE_FILE).unlink(missing_ok=True)
        if _keyring_usable():
            try:
                import keyring

                keyring.delete_password(KEYRING_SERVICE, _keyring_user(name, old.fingerprint))
            except Exception:  # nothing stored there (the file held it), or the keyring is locked
                pass
    return old, create(name)
