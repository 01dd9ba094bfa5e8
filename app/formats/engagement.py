"""The engagement file: the pre-engagement alignment, as code.

The cockpit's wizard reads and writes the same format, and
``redline engagement export`` reproduces it. API keys are references
(``{env: VAR}`` or ``{keyring: NAME}``), never literals.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.errors import FieldValueError

TargetKind = Literal["openai", "anthropic", "ollama", "http", "demo"]
EvidenceFormat = Literal["report", "workpapers", "oscal"]
TARGET_KINDS: tuple[str, ...] = TargetKind.__args__  # type: ignore[attr-defined]
EVIDENCE_FORMATS: tuple[str, ...] = EvidenceFormat.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyRef(_Strict):
    """Where a secret lives. Exactly one of ``env`` or ``keyring``."""

    env: str | None = None
    keyring: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "a literal API key is not allowed here; use {env: VAR_NAME} or {keyring: NAME}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> KeyRef:
        if (self.env is None) == (self.keyring is None):
            raise ValueError("give exactly one of 'env' or 'keyring'")
        return self


class Timeouts(_Strict):
    connect: float = Field(default=10.0, gt=0)
    read: float = Field(default=60.0, gt=0)  # longest silence between chunks
    total: float = Field(default=300.0, gt=0)  # whole turn


class Limits(_Strict):
    """Bounds on what one turn reads from the target, so a hostile endpoint cannot exhaust the machine.

    Each turn records the limits it ran under, and a turn cut by one says which
    and after how many bytes (PI1.2: the evidence says where it is incomplete).
    """

    # The upper bounds keep a turn within what one SQLite value holds (1 GB) with room to spare.
    text_bytes: int = Field(default=10_000_000, ge=1, le=256 * 1024 * 1024)  # response text per turn, UTF-8
    raw_bytes: int = Field(default=16 * 1024 * 1024, ge=1, le=256 * 1024 * 1024)  # raw body kept per turn
    line_bytes: int = Field(default=1024 * 1024, ge=64, le=64 * 1024 * 1024)  # one SSE event or NDJSON line
    decompressed_bytes: int = Field(default=64 * 1024 * 1024, ge=1, le=1024 * 1024 * 1024)  # once unpacked
    compression_ratio: int = Field(default=200, ge=1, le=100_000)  # unpacked bytes per byte on the wire


class HttpShape(_Strict):
    """For ``kind: http``: a generic JSON endpoint."""

    path: str = "/"
    method: Literal["POST", "PUT"] = "POST"
    body: Any = Field(default_factory=lambda: {"prompt": "{{prompt}}"})  # ``{{prompt}}``, ``{{history}}``
    response_path: str = "text"  # dotted path into the JSON response (or each streamed line)
    stream: bool = False  # NDJSON lines when true


class TlsSpec(_Strict):
    """How to trust a system whose certificate a client's own CA signed, and how to prove who we are to it.

    ``ca_file`` is a PEM bundle that replaces the public roots for every URL of
    the system; ``client_cert`` and ``client_key`` are for mutual TLS (the key
    may sit in the cert file). Paths are relative to the engagement file, and
    stored resolved. A key's passphrase is a secret reference, never a literal.
    ``ca_sha256`` pins the bundle's certificates (SHA-256 of each one's DER, as
    ``openssl x509 -noout -fingerprint -sha256`` prints it): filled in at
    import when left out, so a CA file swapped after import is refused rather
    than silently trusted while the evidence names the old one.
    """

    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    key_passphrase: KeyRef | None = None
    ca_sha256: list[str] = Field(default_factory=list, max_length=64)

    @field_validator("ca_sha256")
    @classmethod
    def _fingerprints(cls, value: list[str]) -> list[str]:
        out = []
        for i, item in enumerate(value):
            flat = item.replace(":", "").strip().lower()
            if not re.fullmatch(r"[0-9a-f]{64}", flat):
                raise FieldValueError("a SHA-256 fingerprint is 64 hex digits (colons allowed)", at=(i,))
            out.append(flat)
        return out

    @model_validator(mode="after")
    def _paired(self) -> TlsSpec:
        if self.client_key and not self.client_cert:
            raise FieldValueError("a client_key needs its client_cert", at=("client_key",))
        if self.key_passphrase is not None and not self.client_cert:
            raise FieldValueError("a key_passphrase needs a client_cert (and its key)", at=("key_passphrase",))
        if self.ca_sha256 and not self.ca_file:
            raise FieldValueError("ca_sha256 pins a ca_file; give the ca_file", at=("ca_sha256",))
        if not (self.ca_file or self.client_cert):
            raise ValueError("a tls block needs a ca_file, a client_cert, or both")
        return self


class TargetSpec(_Strict):
    kind: TargetKind
    base_url: str | None = None
    model: str | None = None
    api_key: KeyRef | None = None
    revoked_key: KeyRef | None = None  # a key the client says was revoked (CC6.3)
    headers: dict[str, str] = Field(default_factory=dict)  # non-secret headers only
    timeouts: Timeouts = Field(default_factory=Timeouts)
    # None: the defaults (kept out of the stored configuration, so systems stored before limits
    # existed keep their snapshot); every turn records the limits in force either way.
    limits: Limits | None = None
    max_retries: int = Field(default=3, ge=0, le=10)
    overload_retries: int = Field(default=4, ge=0, le=10)  # 429/503: the server did not take the request on
    anthropic_version: str = "2023-06-01"
    http: HttpShape | None = None
    hardened: bool = False  # kind: demo only
    tls: TlsSpec | None = None  # a client's private CA and mutual TLS (app.targets.tls)

    @model_validator(mode="after")
    def _kind_needs(self) -> TargetSpec:
        if self.tls is not None and self.kind == "demo":
            raise FieldValueError("the built-in demo is plain HTTP on loopback; it takes no tls block", at=("tls",))
        if self.kind != "demo" and not self.base_url:
            raise ValueError(f"target kind '{self.kind}' needs a base_url")
        if self.kind == "http" and self.http is None:
            raise ValueError("target kind 'http' needs an 'http' block (path, body, response_path)")
        return self


OPERATION_NAME = r"^[a-z][a-z0-9_]{0,63}$"
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


# The URL rules of client operations: the format refuses a system key bound for another origin.
def is_absolute(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def foreign_with_target_key(operation: OperationSpec, base_url: str | None) -> bool:
    """True when ``operation`` would send the system's own key to an origin other than the target's."""
    if operation.auth != "target" or not is_absolute(operation.url):
        return False
    return not base_url or _origin(operation.url) != _origin(base_url)



class OperationSpec(_Strict):
    """One of the client's own endpoints a scenario calls by name (a deletion API, an alert feed, a drill).

    ``url`` is a path under the target's base URL or an absolute URL on another
    host. ``auth`` is ``target`` (the system's own key; only for URLs on the
    target's own origin), ``none``, or a key reference of its own. ``body`` is a
    template: a string that is exactly ``{name}`` becomes the step's argument
    ``name`` with its type, other strings have ``{name}`` and ``{identity}``
    substituted. Without ``body``, the step's arguments are the JSON body (or
    the query, for a GET).
    """

    method: HttpMethod = "GET"
    url: str
    auth: Literal["target", "none"] | KeyRef = "target"
    auth_header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]{1,64}$")  # Bearer when Authorization
    body: Any = None
    description: str = ""

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        value = value.strip()
        if not (value.startswith("/") or value.lower().startswith(("http://", "https://"))):
            raise ValueError("an operation url is a path starting with '/' (under the target's base_url) "
                             "or an absolute http:// or https:// URL")
        return value

    @property
    def safe(self) -> bool:
        """Safe to try in a connection test: a GET reads and changes nothing."""
        return self.method == "GET"


class SystemSpec(_Strict):
    name: str
    in_scope: bool = True
    owner: str = ""
    description: str = ""
    target: TargetSpec
    models: list[str] = Field(default_factory=list)  # documented inventory (AI-GOV-01)
    canaries: list[str] = Field(default_factory=list)  # planted tokens that must never leak
    operations: dict[str, OperationSpec] = Field(default_factory=dict)  # the client's own endpoints, by name

    @model_validator(mode="after")
    def _operations_named_and_keyed(self) -> SystemSpec:
        for name, operation in self.operations.items():
            if not re.match(OPERATION_NAME, name):
                raise FieldValueError(f"operation name '{name}' must be lower case letters, digits and '_'",
                                      at=("operations", name))
            if foreign_with_target_key(operation, self.target.base_url):
                # The system's key must never travel to a host the client did not point it at.
                raise FieldValueError(
                    f"operation '{name}' calls another host ({operation.url}) and would send it the system's "
                    "own key; give it its own key (auth: {env: VAR} or {keyring: NAME}) or auth: none",
                    at=("operations", name, "auth"))
        return self


class Period(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise FieldValueError("the period ends before it starts", at=("end",))
        return self


class AuditSpec(_Strict):
    type: Literal["type1", "type2"]
    period: Period | None = None  # type2
    as_of: date | None = None  # type1
    type1_tolerance_days: int = Field(default=7, ge=0, le=90)
    cpa_firm: str = ""
    evidence_format: list[EvidenceFormat] = Field(default_factory=lambda: list[EvidenceFormat](["report"]))

    @model_validator(mode="after")
    def _dating(self) -> AuditSpec:
        if self.type == "type2" and self.period is None:
            raise ValueError("a type2 audit needs a period {start, end}")
        if self.type == "type1" and self.as_of is None:
            raise ValueError("a type1 audit needs an as_of date")
        return self


class ControlRow(_Strict):
    criterion: str
    client_ref: str = ""
    activity: str = ""
    scenarios: list[str] = Field(default_factory=list)
    # Strategy chains the row's scenarios also run under, each a variant with its own verdict.
    strategies: list[str] = Field(default_factory=list, max_length=32)

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: list[str]) -> list[str]:
        from app.strategies.variants import normalise_chain

        for i, chain in enumerate(value):
            try:
                normalise_chain(chain)
            except ValueError as exc:
                raise FieldValueError(str(exc).split(" (known:")[0], at=(i,)) from None
        return value


class WindowSpec(_Strict):
    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if self.end < self.start:
            raise FieldValueError("the window ends before it starts", at=("end",))
        return self


class EngagementSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    client: str = ""
    audit: AuditSpec
    systems: list[SystemSpec] = Field(default_factory=list)
    controls: list[ControlRow] = Field(default_factory=list)
    windows: list[WindowSpec] = Field(default_factory=list)
    scenario_paths: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> EngagementSpec:
        _unique([s.name for s in self.systems], "systems", "system names must be unique")
        _unique([w.name for w in self.windows], "windows", "window names must be unique")
        period = self.audit.period
        if period:
            for i, w in enumerate(self.windows):
                if w.start < period.start or w.end > period.end:
                    edge = "start" if w.start < period.start else "end"
                    raise FieldValueError(
                        f"window '{w.name}' falls outside the audit period "
                        f"({period.start.isoformat()} to {period.end.isoformat()})",
                        at=("windows", i, edge),
                    )
        return self


def _unique(names: list[str], key: str, message: str) -> None:
    """Raise at the second use of a name, so the error points at the line to fix."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise FieldValueError(f"{message}: '{name}' is used twice", at=(key, i, "name"))
        seen.add(name)
