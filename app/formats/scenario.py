"""The scenario file format: what a test does, which controls it evidences, how it is judged.

A file holds one scenario (a mapping) or several (a list). ``turns`` is the
short form for a plain conversation; ``steps`` is the typed form for tests that
are not chat turns (unauthenticated calls, revoked keys, model enumeration,
bounded bursts, deletion requests). Exactly one of the two is given.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.errors import FieldValueError

Category = Literal["security", "availability", "processing_integrity", "confidentiality", "privacy"]
Severity = Literal["high", "medium", "low"]
Auth = Literal["default", "none", "revoked"]
Outcome = Literal["pass", "fail", "review"]

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# Hard caps keep availability tests bounded: evidence, never a denial of service.
MAX_BURST_REQUESTS = 50
MAX_BURST_CONCURRENCY = 8
MAX_BURST_SECONDS = 60.0
MAX_SAMPLES = 100
MAX_ADAPTIVE_TURNS = 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatStep(_Strict):
    """One user message; steps by the same identity form one conversation."""

    type: Literal["chat"] = "chat"
    user: str
    system: str | None = None  # extra system message the tester adds (rare)
    identity: str = "primary"  # a second identity makes a second session / key
    auth: Auth = "default"
    model: str | None = None  # override the system's model (AI-GOV-02 staging names)
    new_session: bool = False  # drop this identity's history before sending
    strategy: str | None = None  # a prompt transformation from app.strategies


class ListModelsStep(_Strict):
    """Enumerate the endpoint's model listing (AI-GOV-01, AI-GOV-02)."""

    type: Literal["list_models"]
    auth: Auth = "default"
    identity: str = "primary"


class HttpStep(_Strict):
    """A raw request against the target's base URL, e.g. a deletion API."""

    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str  # relative to the target base URL; ``{identity}`` is substituted
    body: dict[str, Any] | None = None
    auth: Auth = "default"
    identity: str = "primary"


class BurstStep(_Strict):
    """A small, capped burst of identical requests: latency percentiles and error rate."""

    type: Literal["burst"]
    user: str
    requests: int = Field(default=10, ge=1, le=MAX_BURST_REQUESTS)
    concurrency: int = Field(default=4, ge=1, le=MAX_BURST_CONCURRENCY)
    max_seconds: float = Field(default=30.0, gt=0, le=MAX_BURST_SECONDS)
    identity: str = "primary"


class AdaptiveStep(_Strict):
    """Attack turns an attacker model writes, one at a time, toward ``goal`` (:mod:`app.runner.adaptive`).

    The attack stops after ``max_turns`` turns, or early when a detector on the
    step fails a turn: the goal was reached. Each turn's prompt is marked as
    attacker output on the turn. ``crescendo`` escalates over one conversation;
    ``pair`` refines a single prompt from the verdict on each attempt."""

    type: Literal["adaptive"]
    goal: str = Field(min_length=1, max_length=2000)
    attacker: str = Field(min_length=1)  # a configured system of the engagement
    method: Literal["crescendo", "pair"] = "crescendo"
    max_turns: int = Field(default=5, ge=1, le=MAX_ADAPTIVE_TURNS)
    seconds: float = Field(default=60.0, gt=0, le=600)  # the longest wait for one attacker reply
    identity: str = "primary"


class OperationStep(_Strict):
    """A call of one of the client's own operations, by name (``systems[].operations`` in the engagement).

    The system maps the name to its method, URL and key; ``args`` fill the
    operation's URL and body template. A system that maps no such operation
    plans the scenario as "needs the client's ..." instead of running it.
    """

    type: Literal["operation"]
    operation: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    args: dict[str, Any] = Field(default_factory=dict)
    identity: str = "primary"


class ManualStep(_Strict):
    """Something the tester does or observes by hand (trigger a failover, check the SIEM) and records.

    The run shows it as a checklist item; its outcome is a human verdict with a
    note. Until it is recorded, the run cannot pass.
    """

    type: Literal["manual"]
    instruction: str = Field(min_length=1)
    expect: str = ""  # what the tester should see for the control to be working


class TransportStep(_Strict):
    """The transport checks of every URL the system is reached through (CC6.7): no model is called.

    The turn holds each check's outcome as JSON; ``endpoint`` detectors judge it
    (:mod:`app.targets.transport_checks`).
    """

    type: Literal["transport"]
    timeout: float = Field(default=10.0, gt=0, le=60)


AnyStep = (ChatStep | ListModelsStep | HttpStep | BurstStep | AdaptiveStep | OperationStep | ManualStep
           | TransportStep)
Step = Annotated[AnyStep, Field(discriminator="type")]


class DetectorSpec(BaseModel):
    """A detector and its parameters; the parameters are checked by the detector family itself."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str
    verdict_on_match: Outcome = "fail"
    steps: list[int] | None = None  # step indexes it applies to; default: every turn
    name: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PassCriteria(_Strict):
    """How turn verdicts roll up into the run's verdict (sampled scenarios report a rate)."""

    max_fail_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    max_error_rate: float | None = Field(default=None, ge=0.0, le=1.0)


# A title ending like this names the secure outcome the test expects, not the failure it finds.
_SECURE_OUTCOME = re.compile(
    r"\b(?:is|are|gets|get)\s+(?:rejected|refused|declined|blocked|denied|redacted|masked|filtered|prevented|"
    r"stopped|detected|flagged|logged|alerted|enforced|protected|isolated|authenticated|handled|restored)\s*\.?$",
    re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|nothing|without being)\b", re.IGNORECASE)


def title_names_the_outcome(title: str, expected: str = "") -> str:
    """Why ``title`` reads as the expected secure behaviour, or "" when it names a failure.

    A scenario's title becomes the title of the draft finding a failing run
    files, so it must say what went wrong ("... is answered"), never what
    should have happened ("... is rejected"). A heuristic: it catches titles
    that end on a secure outcome, or repeat ``expected``.
    """
    text = title.strip()
    found = _SECURE_OUTCOME.search(text)
    if found and not _NEGATION.search(text):
        return f"it ends on the secure outcome '{found.group(0).strip()}'"
    if expected and text.rstrip(".").lower() == expected.strip().rstrip(".").lower():
        return "it repeats 'expected'"
    return ""


class ScenarioSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str  # names the failure the test looks for: a failing run files its draft finding under it
    category: Category
    controls: list[str] = Field(min_length=1)
    severity: Severity
    methodology: str | None = None  # the methodology bullet it covers (catalog key)
    description: str = ""
    rationale: str = ""  # why an auditor cares; written for the report
    expected: str = ""  # the expected secure behaviour
    remediation: str = ""  # guidance when it fails
    impact: str = ""  # SOC 2 impact wording when it fails
    tags: list[str] = Field(default_factory=list)
    # The attack taxonomies beside the SOC 2 controls, so coverage can be read as a client asks for it:
    # OWASP Top 10 for LLM Applications (2025) ids and MITRE ATLAS technique ids, checked against the catalog.
    owasp: list[str] = Field(default_factory=list)
    atlas: list[str] = Field(default_factory=list)
    samples: int = Field(default=1, ge=1, le=MAX_SAMPLES)
    turns: list[ChatStep] | None = None
    steps: list[Step] | None = None
    detectors: list[DetectorSpec] = Field(min_length=1)
    pass_criteria: PassCriteria = Field(default_factory=PassCriteria)

    @field_validator("turns", mode="before")
    @classmethod
    def _turns_are_chat(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [dict(v, type="chat") if isinstance(v, dict) and "type" not in v else v for v in value]
        return value

    @model_validator(mode="after")
    def _one_step_form(self) -> ScenarioSpec:
        if (self.turns is None) == (self.steps is None):
            raise ValueError("give exactly one of 'turns' or 'steps'")
        if not self.all_steps:
            raise ValueError("a scenario needs at least one turn or step")
        for d, det in enumerate(self.detectors):
            for j, index in enumerate(det.steps or []):
                if not 0 <= index < len(self.all_steps):
                    raise FieldValueError(
                        f"detector step index {index} is out of range", at=("detectors", d, "steps", j)
                    )
                if isinstance(self.all_steps[index], ManualStep):
                    raise FieldValueError(f"step {index} is a manual step: the tester records its outcome, "
                                          "no detector judges it", at=("detectors", d, "steps", j))
        return self

    @property
    def all_steps(self) -> list[AnyStep]:
        return list(self.turns if self.turns is not None else self.steps or [])

    @property
    def operations(self) -> tuple[str, ...]:
        """The client operations the scenario calls, in step order (each once)."""
        return tuple(dict.fromkeys(s.operation for s in self.all_steps if isinstance(s, OperationStep)))

    @property
    def manual_steps(self) -> tuple[int, ...]:
        """Indexes of the steps a tester performs and records by hand."""
        return tuple(i for i, s in enumerate(self.all_steps) if isinstance(s, ManualStep))
