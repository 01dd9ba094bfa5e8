"""Canary probes: a behaviour fingerprint of the model behind a system (AI-GOV-03, CC8.1).

A few fixed, harmless prompts, each in a fresh conversation, at temperature 0
where the API takes one. The hash of the answers changes when the model does,
even if the endpoint reports the same name. Each probe is an audit event
(``system.probed``) and its fingerprint is stamped on the runs it accompanies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.changes.flags import PROBED, systems_query
from app.store import audit
from app.store.models import AISystem, Run

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.secrets import SecretResolver
    from app.targets.base import Target


# The canary probes: short, deterministic, harmless prompts whose answers should not move
# unless the model behind the system did. Changing this list changes every behaviour
# fingerprint, so it changes only with a release note.
CANARY_PROBES: tuple[str, ...] = (
    "Which model version are you running?",
    "How many days do I have to request a refund?",
    "Reply with the single word: ready",
    "List the first five prime numbers, separated by commas.",
)
PROBE_IDENTITY = "redline-canary-probe"
ANSWER_KEEP_CHARS = 300  # per answer in the audit event; the fingerprint covers the whole answer
# Where each API takes the sampling temperature (a path into the JSON body). The generic
# ``http`` kind's body is the client's template, so it is sent as configured.
TEMPERATURE_AT: dict[str, tuple[str, ...]] = {
    "openai": ("temperature",), "demo": ("temperature",), "anthropic": ("temperature",),
    "ollama": ("options", "temperature"),
}


@dataclass(frozen=True)
class ProbeResult:
    """What one system answered to the canary probes."""

    system_id: int
    system: str
    model_id: str = ""
    system_fingerprint: str = ""
    behaviour_fingerprint: str = ""  # "" when any probe failed: a partial answer set is not comparable
    answers: tuple[tuple[str, str], ...] = ()  # (prompt, answer) as received, secrets redacted
    error: str = ""


def behaviour_fingerprint(answers: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the probes and their answers, whitespace collapsed (streaming may split lines)."""
    normal = [[prompt, " ".join(answer.split())] for prompt, answer in answers]
    return hashlib.sha256(json.dumps(normal, ensure_ascii=False).encode("utf-8")).hexdigest()


def _ask_for_temperature_zero(target: Target, kind: str) -> None:
    """Make this (probe-only) adapter send temperature 0 in every chat body, where the API has one."""
    path = TEMPERATURE_AT.get(kind)
    build = getattr(target, "chat_call", None)
    if path is None or build is None:
        return

    def chat_call(request: Any) -> tuple[str, str, Any]:
        method, url, body = build(request)
        if isinstance(body, dict):
            node = body
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = 0
        return method, url, body

    target.chat_call = chat_call  # type: ignore[attr-defined]


async def probe_target(target: Target, system: AISystem, redact: Any = None) -> ProbeResult:
    """Send every canary probe (one fresh conversation each) and fingerprint the answers.

    Only a probe that completed gives an answer, a model id or a fingerprint: a
    cut-off answer or a 503 would otherwise read as a different model.
    """
    from app.targets.base import ChatRequest, ResponseMeta, TextDelta, TurnCompleted, TurnFailed

    answers: list[tuple[str, str]] = []
    model_id = fingerprint = ""
    errors: list[str] = []
    for prompt in CANARY_PROBES:
        parts: list[str] = []
        reported_model = reported_fingerprint = ""
        completed = False
        request = ChatRequest(messages=[{"role": "user", "content": prompt}], user=PROBE_IDENTITY)
        async for event in target.stream_chat(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ResponseMeta):
                reported_model = event.model_id or reported_model
                reported_fingerprint = event.system_fingerprint or reported_fingerprint
            elif isinstance(event, TurnCompleted):
                completed = True
            elif isinstance(event, TurnFailed):
                errors.append(f"probe {len(answers) + 1}: {event.error_type}: {event.detail}")
        if completed:
            model_id, fingerprint = reported_model or model_id, reported_fingerprint or fingerprint
        text = "".join(parts) if completed else ""
        answers.append((prompt, redact(text) if redact is not None else text))
    return ProbeResult(system_id=system.id or 0, system=system.name, model_id=model_id,
                       system_fingerprint=fingerprint,
                       behaviour_fingerprint="" if errors else behaviour_fingerprint(answers),
                       answers=tuple(answers), error="; ".join(errors))


async def probe_systems(systems: Sequence[AISystem], secrets: SecretResolver | None = None) -> list[ProbeResult]:
    """Probe each system once, on adapters of its own (never the runner's, whose requests stay as configured)."""
    from app.runner.adapters import Targets

    targets = Targets(secrets)
    try:
        results = []
        for system in systems:
            target = targets.prepare(system)
            _ask_for_temperature_zero(target, str(system.target.get("kind", "")))
            results.append(await probe_target(target, system, targets.scrubber().whole))
        return results
    finally:
        await targets.aclose()


def record_probe(db: Session, engagement_id: int, result: ProbeResult, *, window: str | None = None,
                 run_ids: Sequence[int] = (), actor: str = "") -> list[int]:
    """Keep the probe in the audit chain and stamp its behaviour fingerprint on the system's runs
    among ``run_ids`` that have none; returns the runs stamped."""
    stamped: list[int] = []
    if result.behaviour_fingerprint:
        for run_id in run_ids:
            run = db.get(Run, run_id)
            if run is not None and run.system_id == result.system_id and not run.behaviour_fingerprint:
                run.behaviour_fingerprint = result.behaviour_fingerprint
                db.add(run)
                stamped.append(run_id)
    audit.record(db, engagement_id=engagement_id, action=PROBED, actor=actor, entity=f"system:{result.system_id}",
                 payload={"system": result.system, "window": window, "model_id": result.model_id,
                          "system_fingerprint": result.system_fingerprint,
                          "behaviour_fingerprint": result.behaviour_fingerprint, "runs": stamped,
                          "probes": [{"prompt": p, "answer": a[:ANSWER_KEEP_CHARS]} for p, a in result.answers],
                          "error": result.error})
    return stamped


async def probe_and_record(engagement_id: int, system_ids: Sequence[int], *, run_ids: Sequence[int] = (),
                           window: str | None = None, secrets: SecretResolver | None = None,
                           actor: str = "") -> list[ProbeResult]:
    """Probe the given systems once each and record the results (the hook for a batch of runs)."""
    from app.store import session

    with session() as db:
        systems = [s for s in (db.get(AISystem, i) for i in dict.fromkeys(system_ids)) if s is not None]
    results = await probe_systems(systems, secrets)
    with session() as db:
        for result in results:
            record_probe(db, engagement_id, result, window=window, run_ids=run_ids, actor=actor)
    return results


def probe_engagement(engagement_id: int, *, secrets: SecretResolver | None = None,
                     actor: str = "") -> list[ProbeResult]:
    """``redline monitor --probe``: probe every in-scope system now, tagged with today's window."""
    import asyncio

    from app.alignment import get_engagement
    from app.runner.plan import window_for
    from app.store import session

    with session() as db:
        window = window_for(db, get_engagement(db, engagement_id))
        ids = [s.id for s in db.exec(in_scope(engagement_id)).all() if s.id is not None]
    return asyncio.run(probe_and_record(engagement_id, ids, window=window.name if window else None,
                                        secrets=secrets, actor=actor))


def in_scope(engagement_id: int) -> Any:
    """The engagement's in-scope systems, in the order they were added (the order runs plan them)."""
    return systems_query(engagement_id).where(AISystem.in_scope == True).order_by(AISystem.id)  # noqa: E712
