"""Transport and endpoint checks (CC6.7): how each URL of a system is reached, before anything is asked.

CC6.7 asks that data in transit is protected. For every URL a system is
tested through (its base URL and each client operation on another origin),
four checks, none of which calls a model:

- ``plain_http``: ``http://`` to a host other than this machine;
- ``tls_version``: the endpoint negotiates TLS 1.2 or later, and refuses an
  offer of TLS 1.0/1.1 (where this machine's OpenSSL can still make that offer;
  where it cannot, the check says so and does not judge);
- ``certificate``: the certificate verifies for the host name, or the reason it
  does not (expired, self-signed, wrong name...), under the trust the system's
  adapter uses: the engagement's CA (``target.tls``) or else the public roots;
- ``redirect``: a request is not redirected to another host.

Loopback plain HTTP (the built-in demo, a tester's local server) is exempt and
says so: the traffic never leaves the machine. Every connection has a time
limit; a check that cannot connect says why and does not judge.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from app.targets.tls import TlsSetupError, client_context, tls_of

if TYPE_CHECKING:
    from app.formats.engagement import TlsSpec
    from app.secrets import SecretResolver

CHECKS = ("plain_http", "tls_version", "certificate", "redirect")
EXEMPT_REASON = "exempt: plain HTTP on loopback never leaves this machine"
DEFAULT_TIMEOUT = 10.0
_MODERN = ("TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class EndpointCheck:
    """One check of one URL: pass, fail, or error (could not judge), and why."""

    url: str
    check: str
    outcome: str  # pass | fail | error
    reason: str
    exempt: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _loopback(host: str) -> bool:
    host = host.lower().strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _port(parts: Any) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def endpoint_urls(target: Mapping[str, Any]) -> list[str]:
    """The URLs a system is reached through: its base URL, then each client operation on another origin."""
    from app.operations import is_absolute, mapped_operations

    urls: list[str] = []
    if target.get("base_url"):
        urls.append(str(target["base_url"]))
    seen = {urlsplit(u)[:2] for u in urls}
    for operation in mapped_operations(target).values():
        url = str(dict(operation).get("url", ""))
        if is_absolute(url) and urlsplit(url)[:2] not in seen:
            # Only the origin: an operation's own path may delete or trigger something, and holds templates.
            seen.add(urlsplit(url)[:2])
            urls.append("{}://{}/".format(*urlsplit(url)[:2]))
    return urls


def _handshake(host: str, port: int, context: ssl.SSLContext, timeout: float) -> str:
    """Connect and complete a TLS handshake; the negotiated version."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.version() or "?"


def _legacy_context() -> ssl.SSLContext:
    """A client that offers only TLS 1.0 and 1.1, to learn whether the server still accepts them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _under(tls: TlsSpec | None) -> str:
    """The words a certificate check adds when it trusted the engagement's CA rather than the public roots."""
    if tls is None or not tls.ca_file:
        return ""
    pins = ", ".join(f"SHA-256 {fp[:16]}…" for fp in tls.ca_sha256[:3])
    return f" under the engagement's CA ({Path(tls.ca_file).name}{', ' + pins if pins else ''})"


def _tls_checks(url: str, host: str, port: int, timeout: float, context: ssl.SSLContext,
                tls: TlsSpec | None) -> list[EndpointCheck]:
    checks: list[EndpointCheck] = []
    negotiated = ""
    try:
        negotiated = _handshake(host, port, context, timeout)
        checks.append(EndpointCheck(url, "certificate", "pass", f"the certificate verifies for {host}{_under(tls)}"))
    except ssl.SSLCertVerificationError as exc:
        checks.append(EndpointCheck(url, "certificate", "fail",
                                    f"invalid certificate{_under(tls)}: {exc.verify_message or exc.reason or exc}"))
    except (ssl.SSLError, OSError) as exc:
        checks.append(EndpointCheck(url, "certificate", "error", f"no TLS handshake to verify: {_why(exc)}"))
    if not negotiated:  # the certificate aside, which version does the server speak?
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        try:
            negotiated = _handshake(host, port, unverified, timeout)
        except ssl.SSLError as exc:
            if "protocol" in _why(exc).lower() or "version" in _why(exc).lower():
                negotiated = "below TLSv1.2"
            else:
                checks.append(EndpointCheck(url, "tls_version", "error", f"TLS handshake failed: {_why(exc)}"))
                return checks
        except OSError as exc:
            checks.append(EndpointCheck(url, "tls_version", "error", f"could not connect: {_why(exc)}"))
            return checks
    if negotiated not in _MODERN:
        legacy = _try_legacy(host, port, timeout)
        spoken = f"it speaks {legacy}" if legacy.startswith("TLS") else "it refuses TLS 1.2 and later"
        checks.append(EndpointCheck(url, "tls_version", "fail", f"TLS below 1.2: {spoken}"))
        return checks
    legacy = _try_legacy(host, port, timeout)
    if legacy.startswith("TLS"):
        checks.append(EndpointCheck(url, "tls_version", "fail",
                                    f"negotiates {negotiated} but still accepts {legacy} when offered"))
    elif legacy.startswith("cannot offer"):
        checks.append(EndpointCheck(url, "tls_version", "error",
                                    f"negotiates {negotiated}; whether it accepts TLS below 1.2 is unknown: "
                                    f"this machine's OpenSSL {legacy}"))
    else:
        checks.append(EndpointCheck(url, "tls_version", "pass",
                                    f"negotiates {negotiated} and refuses TLS 1.0 and 1.1"))
    return checks


def _try_legacy(host: str, port: int, timeout: float) -> str:
    """The legacy version the server accepted, "refused", or "cannot offer ..." when this machine cannot ask."""
    try:
        context = _legacy_context()
    except (ValueError, ssl.SSLError) as exc:
        return f"cannot offer TLS 1.0/1.1 ({_why(exc)})"
    try:
        return _handshake(host, port, context, timeout)
    except ssl.SSLError as exc:
        if "NO_PROTOCOLS_AVAILABLE" in str(exc).upper() or "NO_CIPHERS_AVAILABLE" in str(exc).upper():
            return f"cannot offer TLS 1.0/1.1 ({_why(exc)})"
        return "refused"
    except OSError:
        return "refused"


def _why(exc: BaseException) -> str:
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:200]


async def _redirect_check(url: str, timeout: float, context: ssl.SSLContext, method: str) -> EndpointCheck:
    import httpx

    parts = urlsplit(url)
    try:
        verify: ssl.SSLContext | bool = context if parts.scheme == "https" else False
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, verify=verify,
                                     trust_env=not _loopback(parts.hostname or "")) as client:
            async with client.stream(method, url, headers={"Accept-Encoding": "identity"}) as response:
                status, location = response.status_code, response.headers.get("location", "")
    except (httpx.HTTPError, ssl.SSLError) as exc:
        if parts.scheme == "https":  # the certificate check says why; try without verifying to see the redirect
            try:
                async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, verify=False,
                                             trust_env=False) as client:
                    async with client.stream(method, url) as response:
                        status, location = response.status_code, response.headers.get("location", "")
            except (httpx.HTTPError, ssl.SSLError) as again:
                return EndpointCheck(url, "redirect", "error", f"no answer to look for a redirect: {_why(again)}")
        else:
            return EndpointCheck(url, "redirect", "error", f"no answer to look for a redirect: {_why(exc)}")
    if not 300 <= status < 400 or not location:
        return EndpointCheck(url, "redirect", "pass", f"not redirected (HTTP {status} to {method})")
    target = urlsplit(urljoin(url, location))
    if (target.hostname or "").lower() != (parts.hostname or "").lower():
        return EndpointCheck(url, "redirect", "fail", f"HTTP {status} redirects to another host: {target.hostname}")
    if target.scheme != parts.scheme:
        return EndpointCheck(url, "redirect", "fail" if target.scheme == "http" else "pass",
                             f"HTTP {status} redirects from {parts.scheme} to {target.scheme} on the same host")
    return EndpointCheck(url, "redirect", "pass", f"HTTP {status} redirects within {parts.hostname}")


async def check_endpoint(url: str, *, timeout: float = DEFAULT_TIMEOUT, tls: TlsSpec | None = None,
                         method: str = "GET", context: ssl.SSLContext | None = None) -> list[EndpointCheck]:
    """The four checks of one URL, in :data:`CHECKS` order. Never raises for what the endpoint does.

    ``tls`` is the system's engagement CA and client certificate (``target.tls``);
    ``context``, when given, is the one :func:`app.targets.tls.client_context` built from it.
    """
    parts = urlsplit(url)
    if context is None:
        try:
            context = client_context(tls)
        except TlsSetupError as exc:
            return [EndpointCheck(url, name, "error", f"target.tls.{exc.field}: {exc}") for name in CHECKS]
    host = parts.hostname or ""
    if parts.scheme == "http":
        if _loopback(host):
            checks = [EndpointCheck(url, name, "pass", EXEMPT_REASON, exempt=True) for name in CHECKS[:3]]
        else:
            checks = [EndpointCheck(url, "plain_http", "fail", f"plain HTTP to {host}: nothing in transit is "
                                                              "encrypted"),
                      EndpointCheck(url, "tls_version", "fail", "no TLS at all (plain HTTP)"),
                      EndpointCheck(url, "certificate", "fail", "no certificate (plain HTTP)")]
    elif parts.scheme == "https":
        checks = [EndpointCheck(url, "plain_http", "pass", "HTTPS")]
        checks += await asyncio.to_thread(_tls_checks, url, host, _port(parts), timeout, context, tls)
    else:
        return [EndpointCheck(url, name, "error", f"not an http(s) URL: {parts.scheme or '(no scheme)'}")
                for name in CHECKS]
    checks.append(await _redirect_check(url, timeout, context, method))
    return checks


async def check_system(target: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT,
                       secrets: SecretResolver | None = None) -> list[EndpointCheck]:
    """Every URL of a stored system's target, trusting what its adapter trusts (its ``tls`` block).
    The built-in demo, served in-process, is exempt and says so."""
    urls = endpoint_urls(target)
    if not urls and target.get("kind") == "demo":
        where = "the built-in demo AI system (served in-process on 127.0.0.1)"
        return [EndpointCheck(where, name, "pass", EXEMPT_REASON, exempt=True) for name in CHECKS]
    tls = tls_of(target)
    try:
        context = client_context(tls, secrets)
    except TlsSetupError as exc:
        return [EndpointCheck(url, name, "error", f"target.tls.{exc.field}: {exc}") for url in urls for name in CHECKS]
    found: list[EndpointCheck] = []
    for url in urls:
        found += await check_endpoint(url, timeout=timeout, tls=tls, context=context)
    return found
