"""What every adapter shares: typed faults, the capped raw body, URLs, redaction, JSON paths.

Error typing lives here once, so an auditor sees the same words for the same
fault whichever API was tested.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from app.secrets import REDACTED, redact, redact_bytes
from app.targets.base import RequestSent
from app.targets.retry import is_retryable_status

if TYPE_CHECKING:
    from app.formats.engagement import TargetSpec

# Raw bodies are evidence, but a runaway stream must not exhaust memory or the store
# (the default of ``limits.raw_bytes``, app.formats.engagement.Limits).
RAW_CAP_BYTES = 16 * 1024 * 1024
DETAIL_LIMIT = 300
# What the wire can raise: httpx's errors, and an SSL alert (a client certificate refused after the
# handshake, under TLS 1.3) that reaches us unwrapped from the first read.
WIRE_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, ssl.SSLError)
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization"})


class TargetFault(Exception):
    """A typed fault on the target's side; adapters turn it into ``TurnFailed``, never raise it out."""

    def __init__(self, error_type: str, detail: str, http_status: int | None = None, *,
                 retryable: bool = False, raw: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.detail = short(detail)
        self.http_status = http_status
        self.retryable = retryable  # nothing reached the model, or the server asked us to come back
        self.raw = raw
        self.headers = headers  # for the server's retry-after hint
        self.limit = ""  # for ``too_large``: the Limits field that stopped the read
        self.bounds: dict[str, Any] | None = None  # the body's bounds (app.targets.bounds.BodyMeter.facts)
        self.secret_found = False  # the detail, decoded from the body, held a secret (now redacted)


def short(text: str, limit: int = DETAIL_LIMIT) -> str:
    """One line, bounded: details are labels, the raw body holds the whole story."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def status_error_type(status: int) -> str:
    """The error type for a non-success HTTP status."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    return "client_error"


def error_message(body: bytes) -> str:
    """The human message inside an error body, whatever the API's shape; else the body's start."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(payload, dict):
        err = payload.get("error", payload.get("detail", payload.get("message")))
        if isinstance(err, dict):
            message = err.get("message") or err.get("type") or err.get("code")
            if message is not None:
                return str(message)
        elif err is not None:
            return str(err)
    return body[:200].decode("utf-8", "replace")


def status_fault(status: int, body: bytes, location: str = "") -> TargetFault:
    """A fault for an HTTP status the stream cannot be read from."""
    if 300 <= status < 400:
        where = f" to {location}" if location else ""
        return TargetFault("client_error", f"HTTP {status}: redirect{where} (redirects are not followed)", status)
    message = error_message(body).strip()
    detail = f"HTTP {status}" + (f": {message}" if message else "")
    return TargetFault(status_error_type(status), detail, status, retryable=is_retryable_status(status))


def transport_fault(exc: Exception, spec: TargetSpec, *, streaming: bool) -> TargetFault:
    """The typed fault for an httpx failure; ``streaming`` is True once the body had started."""
    reason = str(exc) or type(exc).__name__
    timeouts = spec.timeouts
    if isinstance(exc, httpx.ConnectTimeout):
        return TargetFault("timeout", f"connect timed out after {timeouts.connect:g}s", retryable=True)
    tls = tls_cause(exc)
    if tls is not None:
        # Never retried: an untrusted certificate or a refused client certificate is the same a second later.
        return TargetFault("tls", f"TLS failed: {tls}")
    if isinstance(exc, httpx.ConnectError):
        return TargetFault("connect", f"cannot connect: {reason}", retryable=True)
    if isinstance(exc, httpx.ReadTimeout):
        return TargetFault("timeout", f"no data for {timeouts.read:g}s (read timeout)")
    if isinstance(exc, httpx.TimeoutException):
        return TargetFault("timeout", f"timed out: {type(exc).__name__}")
    if isinstance(exc, httpx.DecodingError):
        return TargetFault("malformed", f"response body could not be decoded: {reason}")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)):
        return TargetFault("client_error", f"request could not be made: {reason}")
    if streaming:
        return TargetFault("stream_error", f"connection lost mid-stream: {reason}")
    return TargetFault("stream_error", f"connection lost before a response: {reason}")


def tls_cause(exc: BaseException) -> str | None:
    """Why TLS failed, when an SSL error lies under ``exc`` (a certificate not trusted, a client
    certificate refused by the server); None for any other failure."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain httpx and httpcore build is short; bounded all the same
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"certificate not trusted: {seen.verify_message or seen.reason or seen}"
        if isinstance(seen, ssl.SSLError):
            return str(seen.reason or seen).replace("_", " ").lower()
        seen = seen.__cause__ or seen.__context__
    return None


class RawBody:
    """The response body as received, kept up to a cap; the truncation is recorded, not hidden."""

    __slots__ = ("parts", "size", "cap", "truncated")

    def __init__(self, cap: int = RAW_CAP_BYTES) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.cap = cap
        self.truncated = False

    def admit(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` within the cap, counted but not kept (for bodies passed on as they arrive)."""
        room = self.cap - self.size
        if len(chunk) <= room:
            self.size += len(chunk)
            return chunk
        self.truncated = True
        if room <= 0:
            return b""
        self.size = self.cap
        return chunk[:room]

    def add(self, chunk: bytes) -> None:
        kept = self.admit(chunk)
        if kept:
            self.parts.append(kept)

    def value(self, secrets: Iterable[str] = ()) -> bytes:
        return redact_bytes(b"".join(self.parts), secrets)

    def note(self) -> str:
        """A phrase for the turn's detail when the raw body was cut."""
        return f"raw body truncated at {self.cap} bytes" if self.truncated else ""


def join_url(base_url: str, path: str) -> str:
    """``base_url`` + ``path``, keeping any query on the base (Azure's ``api-version``) and on the path."""
    base, _, base_query = base_url.partition("?")
    rel, _, rel_query = path.partition("?")
    url = base.rstrip("/") + "/" + rel.lstrip("/") if rel else base
    query = "&".join(q for q in (base_query, rel_query) if q)
    return f"{url}?{query}" if query else url


def redacted_request(method: str, url: str, headers: dict[str, str], body: Any,
                     secrets: Iterable[str]) -> RequestSent:
    """The request as evidence: credential headers and any resolved secret value replaced."""
    values = tuple(secrets)
    clean_headers = {
        name: (REDACTED if name.lower() in SECRET_HEADERS else redact(value, values))
        for name, value in headers.items()
    }
    return RequestSent(method=method, url=redact(url, values), headers=clean_headers,
                       body=_redact_value(body, values))


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    return value


_MISSING = object()


def dig(value: Any, path: str) -> Any:
    """The value at a dotted path (``choices.0.text``); ``_MISSING`` when any step is absent."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.lstrip("-").isdigit():
            index = int(part)
            value = value[index] if -len(value) <= index < len(value) else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def as_text(value: Any) -> str:
    """Response text from a JSON value: strings as they are, other scalars and structures as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def is_loopback(url: str) -> bool:
    """True for targets on this machine: they never go through an environment proxy."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
