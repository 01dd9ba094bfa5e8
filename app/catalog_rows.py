"""The catalog's row types: one pydantic model per table of the SOC 2 for AI source.

They refuse unknown keys, so a typo in a catalog file is an error with a line
number rather than a silently ignored field. :mod:`app.catalog` assembles them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.errors import FieldValueError
from app.formats.scenario import Category

BUILTIN = "builtin"
# Upper-case ids made of letters and digits joined by "." or "-": CC6.6, P3, AI-SEC-01, ACME-AI-7.
ID_PATTERN = r"^[A-Z][A-Z0-9]*(?:[.-][A-Z0-9]+)*$"
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
SECTIONS = ("criteria", "controls", "crosswalk", "audit_types", "auditor_questions", "evidence_types",
            "pre_engagement", "methodology", "finding_impacts", "remediation", "owasp_llm", "atlas")
USER_SECTIONS = ("criteria", "controls", "crosswalk")  # what a user catalog file may add
_SEVERITY_RANK = {"low": 0, "low-medium": 1, "medium": 2, "high": 3}


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Sourced(_Row):
    """A row that remembers which file defined it; the loader fills ``source``, never the file."""

    source: str = BUILTIN

    @model_validator(mode="before")
    @classmethod
    def _source_is_ours(cls, value: Any) -> Any:
        if isinstance(value, dict) and "source" in value:
            raise FieldValueError("'source' is filled in by Redline from the file's location; remove it",
                                  at=("source",))
        return value


class Criterion(_Sourced):
    """A Trust Services Criterion, with what it means once an AI model is part of the service."""

    id: str = Field(pattern=ID_PATTERN)
    category: Category
    name: str = Field(min_length=1)
    traditional: str = ""
    ai_extension: str = ""


class AIControl(_Sourced):
    """An AI-specific control objective and the red-team test that evidences it."""

    id: str = Field(pattern=ID_PATTERN)
    family: Literal["governance", "security", "data"]
    objective: str = Field(min_length=1)
    description: str = ""
    red_team_test: str = ""
    criteria: tuple[str, ...] = ()  # the Trust Services Criteria this control helps satisfy


class CrosswalkEntry(_Sourced):
    """One criterion's counterparts in other frameworks (text such as ``A.6.2.5 (Deployment)``)."""

    criterion: str = Field(pattern=ID_PATTERN)
    iso42001: str = ""
    nist_ai_rmf: str = ""
    eu_ai_act: str = ""

    @model_validator(mode="after")
    def _maps_somewhere(self) -> CrosswalkEntry:
        if not (self.iso42001 or self.nist_ai_rmf or self.eu_ai_act):
            raise ValueError("a crosswalk row needs at least one of iso42001, nist_ai_rmf, eu_ai_act")
        return self

    def mapping(self) -> dict[str, str]:
        return {"iso42001": self.iso42001, "nist_ai_rmf": self.nist_ai_rmf, "eu_ai_act": self.eu_ai_act}


class AuditTypeRow(_Row):
    """One dimension on which a Type I and a Type II report differ."""

    key: str = Field(pattern=KEY_PATTERN)
    dimension: str
    type1: str
    type2: str


class AuditorQuestion(_Row):
    """A question auditors put to AI controls, the criteria behind it, and how testing answers it."""

    key: str = Field(pattern=KEY_PATTERN)
    question: str
    assesses: str
    criteria: tuple[str, ...] = Field(min_length=1)
    red_team_help: str


class EvidenceType(_Row):
    """A kind of evidence the bundle hands to the auditor, and why it counts."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str
    content: str
    soc2_relevance: str


class PreEngagementStep(_Row):
    """A step agreed with the audit team before any testing starts."""

    key: str = Field(pattern=KEY_PATTERN)
    title: str
    what: str


class MethodologyItem(_Row):
    """A testing-methodology bullet; scenarios cite its key in ``methodology:``."""

    key: str = Field(pattern=KEY_PATTERN)
    category: Category
    text: str


class FindingImpact(_Row):
    """How a kind of finding affects the SOC 2 report: the auditor's severity scale."""

    key: str = Field(pattern=KEY_PATTERN)
    finding: str
    criteria: tuple[str, ...] = Field(min_length=1)
    effect: Literal["control_failure", "gap"]
    severity: Literal["high", "medium", "low-medium", "low"]  # the auditor's label
    finding_severity: Literal["high", "medium", "low"]  # what a new Finding is pre-filled with
    auditor_note: str = ""

    @property
    def soc2_impact(self) -> str:
        """The report's wording, e.g. ``CC6.6 control failure`` or ``CC7.2, CC7.3 gap``."""
        return f"{', '.join(self.criteria)} {'control failure' if self.effect == 'control_failure' else 'gap'}"


OWASP_PATTERN = r"^LLM(?:0[1-9]|10)$"
ATLAS_PATTERN = r"^AML\.T[0-9]{4}(?:\.[0-9]{3})?$"
# The attack taxonomies a scenario cites beside its SOC 2 controls: field name -> (catalog section, what it is).
TAXONOMIES = {"owasp": ("owasp_llm", "OWASP Top 10 for LLM Applications (2025)"),
              "atlas": ("atlas", "MITRE ATLAS")}


class OwaspRisk(_Row):
    """One entry of the OWASP Top 10 for LLM Applications (2025): the risks a client asks to be tested for."""

    id: str = Field(pattern=OWASP_PATTERN)
    name: str = Field(min_length=1)
    summary: str = ""  # Redline's own paraphrase


class AtlasTechnique(_Row):
    """A MITRE ATLAS technique (or sub-technique, with its ``parent``) that the scenario library exercises."""

    id: str = Field(pattern=ATLAS_PATTERN)
    name: str = Field(min_length=1)
    tactic: str = ""
    parent: str | None = Field(default=None, pattern=ATLAS_PATTERN)
    summary: str = ""  # Redline's own paraphrase


class RemediationDue(_Row):
    """Days from a finding's discovery to its due date, per priority (a policy the engagement's tester may edit)."""

    immediate: int = Field(default=30, ge=1, le=3650)
    longer_term: int = Field(default=90, ge=1, le=3650)


class Remediation(_Row):
    immediate: tuple[str, ...] = ()  # fix before the audit period ends
    longer_term: tuple[str, ...] = ()
    # The finding_impacts keys the immediate bullets name (data out or someone in, no monitoring, uncontrolled
    # deployment): a medium-severity finding of these kinds is fixed before the period ends (app.remediation).
    immediate_impacts: tuple[str, ...] = ()
    due_days: RemediationDue = RemediationDue()


class ExtensionFile(_Row):
    """What a user catalog file may hold."""

    criteria: tuple[Criterion, ...] = ()
    controls: tuple[AIControl, ...] = ()
    crosswalk: tuple[CrosswalkEntry, ...] = ()


class BuiltinFile(ExtensionFile):
    """What a shipped catalog file may hold: the user sections plus the audit tables."""

    audit_types: tuple[AuditTypeRow, ...] = ()
    auditor_questions: tuple[AuditorQuestion, ...] = ()
    evidence_types: tuple[EvidenceType, ...] = ()
    pre_engagement: tuple[PreEngagementStep, ...] = ()
    methodology: tuple[MethodologyItem, ...] = ()
    finding_impacts: tuple[FindingImpact, ...] = ()
    remediation: Remediation | None = None
    owasp_llm: tuple[OwaspRisk, ...] = ()
    atlas: tuple[AtlasTechnique, ...] = ()
