"""SSH signatures (OpenSSH's SSHSIG format) over Ed25519, written and checked without OpenSSH.

An auditor checks a bundle's signature with ``ssh-keygen -Y verify``, the same
tool Git uses for SSH-signed commits, so nothing here is Redline's own format:
the blob layout, the signed data and the armour follow OpenSSH's public
PROTOCOL.sshsig, with the namespace ``redline-evidence`` so a signature made
for a bundle can never be replayed as a Git commit or file signature.

The ``cryptography`` package does the Ed25519 arithmetic; this module only
frames bytes. It never shells out to ssh-keygen.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

NAMESPACE = "redline-evidence"
KEY_TYPE = "ssh-ed25519"
_MAGIC = b"SSHSIG"
_VERSION = 1
_HASH = "sha512"
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"


class SignatureFormatError(ValueError):
    """The bytes are not an SSH signature (or a public key) this module can read."""


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise SignatureFormatError("truncated")
        out = self.data[self.at:self.at + n]
        self.at += n
        return out

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())


def public_blob(key: Ed25519PublicKey) -> bytes:
    """The key in SSH wire format: string "ssh-ed25519", string 32 key bytes."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return _string(KEY_TYPE.encode()) + _string(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def key_from_blob(blob: bytes) -> Ed25519PublicKey:
    reader = _Reader(blob)
    kind = reader.string()
    if kind != KEY_TYPE.encode():
        raise SignatureFormatError(f"key type {kind.decode('ascii', 'replace')!r} is not {KEY_TYPE}")
    raw = reader.string()
    if len(raw) != 32 or reader.at != len(blob):
        raise SignatureFormatError("an ssh-ed25519 key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def fingerprint(blob: bytes) -> str:
    """OpenSSH's fingerprint of a key blob: ``SHA256:`` and the unpadded base64 of its SHA-256."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def openssh_line(blob: bytes, comment: str = "") -> str:
    """The public key as one line of an ``.pub`` or ``authorized_keys`` file."""
    line = f"{KEY_TYPE} {base64.b64encode(blob).decode('ascii')}"
    return f"{line} {comment}" if comment else line


def _signed_data(message: bytes, namespace: str) -> bytes:
    digest = hashlib.sha512(message).digest()
    return _MAGIC + _string(namespace.encode()) + _string(b"") + _string(_HASH.encode()) + _string(digest)


def sign(private: Ed25519PrivateKey, message: bytes, namespace: str = NAMESPACE) -> str:
    """The armoured SSH signature of ``message``, as ``ssh-keygen -Y sign`` would write it."""
    blob = public_blob(private.public_key())
    raw_sig = private.sign(_signed_data(message, namespace))
    signature = _string(KEY_TYPE.encode()) + _string(raw_sig)
    body = (_MAGIC + struct.pack(">I", _VERSION) + _string(blob) + _string(namespace.encode()) + _string(b"")
            + _string(_HASH.encode()) + _string(signature))
    encoded = base64.b64encode(body).decode("ascii")
    lines = [encoded[i:i + 70] for i in range(0, len(encoded), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


@dataclass(frozen=True)
class ParsedSignature:
    key_blob: bytes
    namespace: str
    hash_algorithm: str
    signature: bytes  # the raw 64-byte Ed25519 signature

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_blob)


def parse(armoured: str) -> ParsedSignature:
    """Read an armoured SSH signature; raises SignatureFormatError for anything else."""
    text = armoured.strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise SignatureFormatError("not an armoured SSH signature")
    try:
        body = base64.b64decode("".join(text[len(_BEGIN):-len(_END)].split()), validate=True)
    except ValueError:
        raise SignatureFormatError("the signature's base64 is damaged") from None
    reader = _Reader(body)
    if reader.take(6) != _MAGIC or reader.uint32() != _VERSION:
        raise SignatureFormatError("not an SSHSIG version 1 signature")
    blob = reader.string()
    namespace = reader.string().decode("utf-8", "replace")
    reader.string()  # reserved
    hash_algorithm = reader.string().decode("ascii", "replace")
    sig = _Reader(reader.string())
    if sig.string() != KEY_TYPE.encode():
        raise SignatureFormatError(f"only {KEY_TYPE} signatures are supported")
    return ParsedSignature(blob, namespace, hash_algorithm, sig.string())


def check(parsed: ParsedSignature, message: bytes, namespace: str = NAMESPACE) -> str | None:
    """None when ``parsed`` is a valid signature of ``message`` by its own key; else why not."""
    if parsed.namespace != namespace:
        return f"the signature is for namespace {parsed.namespace!r}, not {namespace!r}"
    if parsed.hash_algorithm not in ("sha512", "sha256"):
        return f"the signature uses an unknown hash {parsed.hash_algorithm!r}"
    hasher = hashlib.sha512 if parsed.hash_algorithm == "sha512" else hashlib.sha256
    data = (_MAGIC + _string(namespace.encode()) + _string(b"") + _string(parsed.hash_algorithm.encode())
            + _string(hasher(message).digest()))
    try:
        key_from_blob(parsed.key_blob).verify(parsed.signature, data)
    except SignatureFormatError as exc:
        return f"the signing key cannot be read ({exc})"
    except InvalidSignature:
        return "the signature does not match the signed file"
    return None


def read_public_keys(text: str) -> list[bytes]:
    """Every ssh-ed25519 key blob in a ``.pub`` file, an ``authorized_keys`` file or an allowed-signers file.

    An allowed-signers line starts with principals and options before the key
    type; a public-key line starts with the type. Either way the key is the
    token after ``ssh-ed25519``. Lines with other key types are skipped.
    """
    blobs: list[bytes] = []
    for line in text.splitlines():
        tokens = line.strip().split()
        if not tokens or tokens[0].startswith("#"):
            continue
        for i, token in enumerate(tokens[:-1]):
            if token == KEY_TYPE:
                try:
                    blob = base64.b64decode(tokens[i + 1], validate=True)
                    key_from_blob(blob)
                except (ValueError, SignatureFormatError):
                    break
                blobs.append(blob)
                break
    return blobs
