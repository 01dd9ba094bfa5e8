"""The engagement file: the pre-engagement alignment, as code.

The cockpit's wizard reads and writes the same format, and
``redline engagement export`` reproduces it. API keys are references
(``{env: VAR}`` or ``{keyring: NAME}``), never literals.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import FieldValueError

TargetKind = Literal["openai", "anthropic", "ollama", "http", "demo"]
EvidenceFormat = Literal["report", "workpapers", "oscal"]
TARGET_KINDS: tuple[str, ...] = TargetKind.__args__  # type: ignore[attr-defined]
EVIDENCE_FORMATS: tuple[str, ...] = EvidenceFormat.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyRef(_Strict):
    """Where a secret lives. Exactly one of ``env`` or ``keyring``."""

    env: Optional[str] = None
    keyring: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "a literal API key is not allowed here; use {env: VAR_NAME} or {keyring: NAME}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "KeyRef":
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


class TargetSpec(_Strict):
    kind: TargetKind
    base_url: Optional[str] = None
    model: Optional[str] = None
    api_key: Optional[KeyRef] = None
    revoked_key: Optional[KeyRef] = None  # a key the client says was revoked (CC6.3)
    headers: dict[str, str] = Field(default_factory=dict)  # non-secret headers only
    timeouts: Timeouts = Field(default_factory=Timeouts)
    # None: the defaults (kept out of the stored configuration, so systems stored before limits
    # existed keep their snapshot); every turn records the limits in force either way.
    limits: Optional[Limits] = None
    max_retries: int = Field(default=3, ge=0, le=10)
    overload_retries: int = Field(default=4, ge=0, le=10)  # 429/503: the server did not take the request on
    anthropic_version: str = "2023-06-01"
    http: Optional[HttpShape] = None
    hardened: bool = False  # kind: demo only

    @model_validator(mode="after")
    def _kind_needs(self) -> "TargetSpec":
        if self.kind != "demo" and not self.base_url:
            raise ValueError(f"target kind '{self.kind}' needs a base_url")
        if self.kind == "http" and self.http is None:
            raise ValueError("target kind 'http' needs an 'http' block (path, body, response_path)")
        return self


class SystemSpec(_Strict):
    name: str
    in_scope: bool = True
    owner: str = ""
    description: str = ""
    target: TargetSpec
    models: list[str] = Field(default_factory=list)  # documented inventory (AI-GOV-01)
    canaries: list[str] = Field(default_factory=list)  # planted tokens that must never leak


class Period(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end < self.start:
            raise FieldValueError("the period ends before it starts", at=("end",))
        return self


class AuditSpec(_Strict):
    type: Literal["type1", "type2"]
    period: Optional[Period] = None  # type2
    as_of: Optional[date] = None  # type1
    type1_tolerance_days: int = Field(default=7, ge=0, le=90)
    cpa_firm: str = ""
    evidence_format: list[EvidenceFormat] = Field(default_factory=lambda: list[EvidenceFormat](["report"]))

    @model_validator(mode="after")
    def _dating(self) -> "AuditSpec":
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


class WindowSpec(_Strict):
    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> "WindowSpec":
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
    def _consistent(self) -> "EngagementSpec":
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
