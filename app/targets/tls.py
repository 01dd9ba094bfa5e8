"""The one place Redline decides whom to trust over TLS, and which certificate it presents.

A client's internal AI gateway is often signed by the client's own CA and may
require a client certificate. Turning verification off would make every test
of it weaker evidence for CC6.7, so the engagement names the CA instead
(``target.tls``, :class:`app.formats.engagement.TlsSpec`), and every client
Redline opens to that system (the adapters, client operations, model listing,
the connection test and the transport checks) gets its context from
:func:`client_context`.

What an auditor needs to know is which trust anchor the tests relied on: the
CA certificates' SHA-256 fingerprints and subjects
(:func:`app.formats.tls_files.anchor_facts`), never a key. Every file is read
with a size limit, and a CA file that no longer matches the fingerprints
pinned at import is refused.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.formats.tls_files import KEY_MARK, TlsSetupError, certificates_in, check_pins, read_pem

__all__ = ["TlsSetupError", "client_context", "tls_of"]

if TYPE_CHECKING:
    from app.formats.engagement import TlsSpec
    from app.secrets import SecretResolver


def client_context(tls: TlsSpec | None, secrets: SecretResolver | None = None) -> ssl.SSLContext:
    """The SSL context for a system: its engagement CA (else the public roots httpx trusts) and client certificate.

    With a ``ca_file``, only that bundle is trusted: "valid" then means valid
    under the client's own CA. The CA bytes are read once, checked against the
    pins, and loaded from memory, so what is trusted is what was checked.
    """
    if tls is None or not tls.ca_file:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    else:
        data = read_pem(tls.ca_file, "ca_file")
        check_pins(tls, certificates_in(data, "ca_file", tls.ca_file))
        try:
            context = ssl.create_default_context(cadata=data.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise TlsSetupError("ca_file", f"{tls.ca_file} cannot be loaded as a CA bundle: {exc}") from None
    if tls is not None and tls.client_cert:
        _load_client(context, tls, secrets)
    return context


def _load_client(context: ssl.SSLContext, tls: TlsSpec, secrets: SecretResolver | None) -> None:
    # OpenSSL reads these files by path; read them here first so their size is bounded and their kind checked.
    chain = read_pem(tls.client_cert or "", "client_cert")
    if tls.client_key:
        read_pem(tls.client_key, "client_key", need_key=True)
    elif KEY_MARK not in chain:
        raise TlsSetupError("client_cert", f"{tls.client_cert} holds no private key; give client_key")
    passphrase: str | None = None
    if tls.key_passphrase is not None:
        from app.secrets import SecretResolver, SecretUnavailable

        try:  # resolved through the run's resolver, so the value is redacted wherever it could surface
            passphrase = (secrets or SecretResolver()).resolve(tls.key_passphrase)
        except SecretUnavailable as exc:
            raise TlsSetupError("key_passphrase", f"the client key's passphrase is unavailable: {exc}") from None

    def password() -> bytes:
        if passphrase is None:  # an encrypted key with no passphrase configured
            raise TlsSetupError("key_passphrase", "the client key is encrypted and no key_passphrase is configured")
        return passphrase.encode("utf-8")

    try:
        context.load_cert_chain(tls.client_cert or "", tls.client_key or None, password=password)
    except TlsSetupError:
        raise
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise TlsSetupError("client_key" if tls.client_key else "client_cert",
                            f"the client certificate and key cannot be loaded ({reason}): a wrong passphrase, "
                            "or a key that does not match the certificate") from None


def tls_of(target: Mapping[str, Any]) -> TlsSpec | None:
    """The ``tls`` block of a stored target (a system's ``target`` column), or None."""
    from app.formats.engagement import TlsSpec

    block = target.get("tls")
    return TlsSpec.model_validate(block) if block else None
