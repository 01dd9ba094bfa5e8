"""The files of a system's ``tls`` block: read with a size limit, parsed, described and checked against pins.

Kept apart from :mod:`app.targets.tls` (which builds the SSL context) because
the engagement loader and the evidence need these facts without reaching the
network layer: what an auditor reads is which CA the tests relied on, by
SHA-256 fingerprint and subject, never a key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import RedlineError

if TYPE_CHECKING:
    from app.formats.engagement import TlsSpec

# A CA bundle of a few hundred certificates is well under this; a key or a client chain far under.
MAX_PEM_BYTES = 1024 * 1024
MAX_CERTIFICATES = 64  # certificates described and pinned per CA file
CERT_MARK = b"-----BEGIN CERTIFICATE-----"
KEY_MARK = b"PRIVATE KEY-----"


class TlsSetupError(RedlineError):
    """The system's ``tls`` block cannot be used: a file is missing, too big, not PEM, or changed since import."""

    exit_code = 2

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field  # within ``tls``: ca_file, client_cert, client_key, key_passphrase


def read_pem(path: str | Path, field: str, *, need_key: bool = False) -> bytes:
    """The bytes of a PEM file, read with a size limit; it must hold a certificate (or, ``need_key``, a key)."""
    where = Path(path)
    try:
        with where.open("rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except FileNotFoundError:
        raise TlsSetupError(field, f"no such file: {where}") from None
    except OSError as exc:
        raise TlsSetupError(field, f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > MAX_PEM_BYTES:
        raise TlsSetupError(field, f"{where} is larger than {MAX_PEM_BYTES // 1024} KiB; a PEM bundle is far smaller")
    mark, what = (KEY_MARK, "PEM private key") if need_key else (CERT_MARK, "PEM certificate")
    if mark not in data:
        raise TlsSetupError(field, f"{where} holds no {what} (-----BEGIN ...----- block)")
    return data


def _describe(certificate: Any) -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    der = certificate.public_bytes(serialization.Encoding.DER)
    return {"sha256": hashlib.sha256(der).hexdigest(), "subject": certificate.subject.rfc4514_string(),
            "not_after": certificate.not_valid_after_utc.date().isoformat()}


def certificates_in(data: bytes, field: str, where: str) -> list[dict[str, str]]:
    """Each certificate of a PEM bundle: its SHA-256 fingerprint (of the DER), subject and expiry date."""
    from cryptography import x509

    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsSetupError(field, f"{where} is not a readable PEM certificate: {exc}") from None
    if len(found) > MAX_CERTIFICATES:
        raise TlsSetupError(field, f"{where} holds {len(found)} certificates; at most {MAX_CERTIFICATES} are taken")
    return [_describe(c) for c in found]


def anchor_facts(tls: TlsSpec) -> dict[str, Any]:
    """What the evidence says about a system's TLS trust: CA and client certificates, never a key.

    Raises :class:`TlsSetupError` for a missing, oversize or unreadable file, a
    client certificate without a readable key, or a CA file that differs from its pins.
    """
    facts: dict[str, Any] = {}
    if tls.ca_file:
        facts["ca"] = certificates_in(read_pem(tls.ca_file, "ca_file"), "ca_file", tls.ca_file)
        check_pins(tls, facts["ca"])
    if tls.client_cert:
        chain = read_pem(tls.client_cert, "client_cert")
        facts["client_certificate"] = certificates_in(chain, "client_cert", tls.client_cert)[0]
        if tls.client_key:
            read_pem(tls.client_key, "client_key", need_key=True)
        elif KEY_MARK not in chain:
            raise TlsSetupError("client_cert", f"{tls.client_cert} holds no private key; give client_key")
        facts["key_passphrase_configured"] = tls.key_passphrase is not None
    return facts


def check_pins(tls: TlsSpec, ca: list[dict[str, str]]) -> None:
    if tls.ca_sha256 and sorted(tls.ca_sha256) != sorted(c["sha256"] for c in ca):
        found = ", ".join(c["sha256"] for c in ca)
        raise TlsSetupError("ca_file", f"{tls.ca_file} no longer holds the pinned CA certificate(s) "
                                       f"(ca_sha256); it holds {found}. If the client changed its CA, "
                                       "import the engagement again with the new fingerprint")


def resolved_and_pinned(tls: TlsSpec, base: Path) -> TlsSpec:
    """``tls`` with its paths resolved against ``base`` (the engagement file's folder) and its CA pinned.

    Every file is read and parsed now, so an engagement is refused at load, at
    the line that names the bad file, rather than at its first run.
    """
    paths = {name: str(_resolve(value, base)) for name in ("ca_file", "client_cert", "client_key")
             if (value := getattr(tls, name))}
    tls = tls.model_copy(update=paths)
    facts = anchor_facts(tls)
    if facts.get("ca") and not tls.ca_sha256:
        tls = tls.model_copy(update={"ca_sha256": [c["sha256"] for c in facts["ca"]]})
    return tls


def _resolve(value: str, base: Path) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else base / candidate
