"""The domain tables.

Lists and small records are JSON columns: they are always read whole with their
row, and SQLite has no arrays. Timestamps are timezone-aware UTC. Secrets never
appear here: a system's target stores only a *reference* to its key
(``{"env": "VAR"}`` or ``{"keyring": "NAME"}``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.store.types import UTCDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(default: Any = None) -> Any:
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default or {}))
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class Engagement(SQLModel, table=True):
    """One audit engagement: the pre-engagement alignment and everything tested under it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    client: str = ""
    audit_type: str = "type2"  # type1 | type2
    period_start: date | None = None  # type2: the audit period
    period_end: date | None = None
    as_of: date | None = None  # type1: the single "as of" date
    type1_tolerance_days: int = 7  # type1: how far from as_of a test may be dated
    cpa_firm: str = ""
    evidence_format: list[str] = _json([])  # report | workpapers | oscal
    scenario_paths: list[str] = _json([])
    source_path: str = ""  # where the engagement file was imported from
    wizard: dict[str, Any] = _json({})  # alignment wizard progress: {"systems": "done", ...}
    is_demo: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AISystem(SQLModel, table=True):
    """An AI system in (or explicitly out of) the SOC 2 scope boundary."""

    __table_args__ = (UniqueConstraint("engagement_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    name: str
    in_scope: bool = True
    owner: str = ""
    description: str = ""
    target: dict[str, Any] = _json({})  # kind, base_url, model, api_key ref, timeouts ...
    models: list[str] = _json([])  # the model ids the inventory documents (AI-GOV-01)


class Criterion(SQLModel, table=True):
    """A Trust Services Criterion as applied to AI (a snapshot of the catalog)."""

    id: str = Field(primary_key=True)  # "CC6.6", "P3"
    category: str  # security | availability | processing_integrity | confidentiality | privacy
    name: str
    traditional: str = ""
    ai_extension: str = ""
    crosswalk: dict[str, Any] = _json({})  # {"iso42001": ..., "nist_ai_rmf": ..., "eu_ai_act": ...}
    source: str = "builtin"  # builtin | a user catalog file


class Control(SQLModel, table=True):
    """An AI-specific control objective (AI-GOV, AI-SEC, AI-DATA) from the catalog."""

    id: str = Field(primary_key=True)  # "AI-SEC-01"
    family: str  # governance | security | data
    objective: str
    description: str = ""
    red_team_test: str = ""
    criteria: list[str] = _json([])  # related TSC criteria
    source: str = "builtin"


class ControlMapping(SQLModel, table=True):
    """A row of the client's control matrix: client control -> criterion -> scenarios."""

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    criterion: str  # a Criterion.id or Control.id
    client_ref: str = ""  # the client's own control id, e.g. "SEC-12"
    activity: str = ""  # the control activity in the client's wording
    scenarios: list[str] = _json([])
    strategies: list[str] = _json([])  # strategy chains its scenarios also run under (app.strategies.variants)


class TestWindow(SQLModel, table=True):
    """A planned testing interval inside the audit period: the Type II sample."""

    __test__ = False  # not a pytest class
    __table_args__ = (UniqueConstraint("engagement_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    name: str
    start: date
    end: date


class Scenario(SQLModel, table=True):
    """A scenario exactly as run: its YAML text and that text's SHA-256."""

    __table_args__ = (UniqueConstraint("scenario_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    scenario_id: str = Field(index=True)
    sha256: str
    title: str = ""
    category: str = ""
    severity: str = ""
    controls: list[str] = _json([])
    source_path: str = ""
    yaml_text: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Run(SQLModel, table=True):
    """One execution of one scenario against one system."""

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    system_id: int = Field(foreign_key="aisystem.id", index=True)
    scenario_pk: int = Field(foreign_key="scenario.id", index=True)
    window_id: int | None = Field(default=None, foreign_key="testwindow.id", index=True)
    retest_of: int | None = Field(default=None, foreign_key="finding.id", index=True)
    status: str = "queued"  # queued | running | finished | interrupted | cancelled
    verdict: str = ""  # pass | fail | review | error ("" until finished)
    tool_version: str = ""
    model_id: str = ""
    system_fingerprint: str = ""
    behaviour_fingerprint: str = ""
    metrics: dict[str, Any] = _json({})  # rates, percentiles, sample sizes
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The system as tested (app.system_config): key-free configuration and its SHA-256; None before schema 5.
    system_snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    system_sha256: str = Field(default="", sa_column_kwargs={"server_default": ""})
    # The strategy chain this run is a variant under ("" for the plain scenario), and per chat step sent
    # the original message beside the one sent (app.strategies.variants.variant_record).
    strategy: str = Field(default="", sa_column_kwargs={"server_default": ""})
    variant: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Turn(SQLModel, table=True):
    """One request/response exchange: exactly what was sent and what came back."""

    __table_args__ = (UniqueConstraint("run_id", "step", "sample"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    step: int = 0  # index of the scenario step
    sample: int = 0  # repetition index for sampled scenarios
    kind: str = "chat"  # the step type
    identity: str = ""  # which identity (session/key) made the request
    status: str = "pending"  # pending | streaming | done | error
    request: dict[str, Any] = _json({})  # as sent, secrets removed
    # The assembled text, written when the turn ends (or by recovery, for a turn a crash cut);
    # while it streams, the text so far is in its TurnChunk rows (app.store.streamed).
    response_text: str = ""
    # A body that came whole (a listing, a raw HTTP step); streamed bodies are stored with their TurnChunk rows.
    response_raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    http_status: int | None = None
    error_type: str = ""  # timeout | connect | rate_limited | server_error | stream_error | malformed
    error_detail: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    chunk_count: int = 0
    token_count: int = 0
    usage: dict[str, Any] = _json({})
    model_id: str = ""
    system_fingerprint: str = ""
    retries: list[dict[str, Any]] = _json([])  # each retry: attempt, status, error, wait_ms
    # The read limits in force, bytes received, the limit that stopped the read (if any) and the
    # SHA-256 of the body as received (app.targets.bounds.BodyMeter.facts); {} before they were kept.
    bounds: dict[str, Any] = _json({})
    raw_withheld: str = ""  # why the raw body is not kept (it would let a secret be rebuilt), or ""
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TurnChunk(SQLModel, table=True):
    """Streamed text and raw body bytes as they arrived, stored in small batches so a crash loses little.

    Rows are only ever appended. A streamed turn's raw body is its chunks'
    ``raw`` unpacked by ``raw_codec`` and joined in ``seq`` order; only
    :mod:`app.store.streamed` reads them. ``Turn.response_raw`` holds bodies
    that came whole.
    """

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turn.id", index=True)
    seq: int
    text: str = ""
    raw: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # "" as received, "zlib" deflated (app.store.streamed.pack_raw); the server default matches upgraded stores
    raw_codec: str = Field(default="", sa_column_kwargs={"server_default": ""})
    at_ms: float = 0.0  # since the request was sent


class Verdict(SQLModel, table=True):
    """An automatic (detector) or human verdict on a turn; human ones never replace automatic ones."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    turn_id: int | None = Field(default=None, foreign_key="turn.id", index=True)
    source: str = "auto"  # auto | human
    detector: str = ""  # detector type for auto verdicts
    outcome: str = "pass"  # pass | fail | review | error
    reason: str = ""
    evidence: dict[str, Any] = _json({})  # {"start": i, "end": j, "quote": "..."}
    actor: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# A finding's edit count. Every ORM update of a finding says which version it read
# (``UPDATE ... WHERE id = ? AND version = ?``), so when two testers change the same
# finding the second write matches no row and is refused (app.store.conflicts)
# instead of silently overwriting the first.
_FINDING_VERSION = Column("version", Integer, nullable=False, server_default="1")


class Finding(SQLModel, table=True):
    """A control failure worth reporting, tied to the evidence that shows it."""

    __mapper_args__ = {"version_id_col": _FINDING_VERSION}
    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    title: str
    status: str = "draft"  # see app.findings for the lifecycle
    severity: str = "medium"  # high | medium | low (the seed's auditor scale)
    impact: str = ""  # SOC 2 impact, e.g. "CC6.6 control failure"
    controls: list[str] = _json([])
    scenario_id: str = ""
    run_id: int | None = Field(default=None, foreign_key="run.id")
    turn_id: int | None = Field(default=None, foreign_key="turn.id")
    evidence: dict[str, Any] = _json({})  # quoted span {"start", "end", "quote"}
    steps_to_reproduce: str = ""
    notes: str = ""
    exception_kind: str = ""  # design | operating | system_description
    accepted_reason: str = ""
    accepted_by: str = ""
    # The closed (or re-test-passed) finding this one shows the weakness came back after (app.occurrences).
    regression_of: int | None = Field(default=None, foreign_key="finding.id")
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Remediation priority (app.remediation: immediate | longer_term) and the date it is due; pre-filled from the
    # severity and the catalog's remediation table when the finding is made, editable by the tester (audited).
    # "" / None on findings stored before they were kept: readers derive them by the same rule.
    priority: str = Field(default="", sa_column_kwargs={"server_default": ""})
    due_date: date | None = None
    version: int = Field(default=1, sa_column=_FINDING_VERSION)


class FindingOccurrence(SQLModel, table=True):
    """A later failing run of a finding's scenario on the same system: the same weakness, seen again.

    The finding's own ``run_id`` is its first occurrence; each row here is
    another. A run is an occurrence of at most one finding.
    """

    __table_args__ = (UniqueConstraint("run_id"),)
    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id", index=True)
    run_id: int = Field(foreign_key="run.id")
    turn_id: int | None = Field(default=None, foreign_key="turn.id")
    evidence: dict[str, Any] = _json({})  # the failing detector, its reason and quoted span
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Retest(SQLModel, table=True):
    """Remediation verification: a new run of a finding's scenario, before vs after."""

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id", index=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    outcome: str = ""  # pass | fail | error
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ManagementResponse(SQLModel, table=True):
    """The exception log's answer to a control failure: cause, mitigation, remediation, owner, date."""

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="finding.id", index=True)
    response: str = ""
    cause: str = ""
    mitigating_controls: str = ""
    remediation: str = ""
    owner: str = ""
    response_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Append-only trail. Each event hashes its predecessor in the same engagement's chain."""

    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(index=True)  # "engagement:<id>" or "global"
    seq: int
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = ""
    action: str  # e.g. "finding.created", "verdict.human", "engagement.imported"
    entity: str = ""  # e.g. "finding:12"
    payload: dict[str, Any] = _json({})
    prev_hash: str
    hash: str
    hash_version: int = 1  # 1: the hash covers the payload; 2: its SHA-256 (see app.store.audit)


class Attachment(SQLModel, table=True):
    """A file the tester attached as evidence (a change ticket, a SOC ticket, a signed risk acceptance).

    The bytes live in the store's attachment folder (app.attachments), never in the database; the
    ``attachment.added`` audit event pins their SHA-256 and size, so a file changed afterwards is found.
    """

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id", index=True)
    finding_id: int | None = Field(default=None, foreign_key="finding.id", index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    control: str = ""  # a criterion or control id, e.g. "CC8.1"
    filename: str  # the name it had, made safe for display
    stored_name: str  # its name in the attachment folder and under attachments/ in a bundle
    sha256: str
    size: int
    media_type: str  # sniffed from the content (extension only refines it)
    note: str = ""
    attached_by: str = ""
    attached_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
