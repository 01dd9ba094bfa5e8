""""Test connection" for an AI system: its model listing, one tiny chat, and the inventory check.

Before testing starts, the tester confirms the endpoint answers, measures a
baseline time to first token, and compares the models the endpoint lists with
the documented inventory: a listed model the client did not document is an
AI-GOV-01 (model inventory) gap worth raising early.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.alignment.steps import get_engagement, touch

if TYPE_CHECKING:
    from sqlmodel import Session

    from app.formats.engagement import TargetSpec

PING_PROMPT = "Reply with the single word: ready"
_REPLY_LIMIT = 200  # the reply is shown, not stored as evidence


@dataclass(frozen=True)
class ConnectionReport:
    models: tuple[str, ...] = ()
    undocumented: tuple[str, ...] = ()  # listed by the endpoint, missing from the inventory
    list_error: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    reply: str = ""  # untrusted model output: render literally
    chat_error: str = ""
    model_id: str = ""
    operations: tuple[tuple[str, str], ...] = ()  # (name, what the test found), GET operations tried

    @property
    def ok(self) -> bool:
        return not self.chat_error


def undocumented_models(listed: Sequence[str], documented: Sequence[str]) -> tuple[str, ...]:
    """Listed model ids the inventory does not document (AI-GOV-01), in listing order."""
    known = set(documented)
    return tuple(dict.fromkeys(m for m in listed if m not in known))


async def check_connection(spec: TargetSpec, documented: Sequence[str], *,
                           secrets: Any = None, stored_target: dict[str, Any] | None = None) -> ConnectionReport:
    """List the endpoint's models and send one tiny chat, timing the first token; then try each client
    operation that is safe to try (a GET) from ``stored_target``.

    Never raises for target faults: they come back in ``list_error`` / ``chat_error`` / ``operations``.
    """
    from app.secrets import SecretResolver
    from app.targets.operation import ClientOperations, try_safe_operations

    secrets = secrets if secrets is not None else SecretResolver()
    from app.targets.base import ChatRequest, ResponseMeta, TextDelta, TurnFailed
    from app.targets.factory import make_target

    target = make_target(spec, secrets=secrets)
    try:
        listing = await target.list_models()
        models = tuple(listing.models)
        list_error = ""
        if listing.error_type:
            list_error = f"{listing.error_type}: {listing.detail}".strip(": ")
        elif listing.http_status and listing.http_status >= 400:
            list_error = f"HTTP {listing.http_status}"
        models_path = getattr(target, "models_path", None)
        if listing.http_status == 404 and models_path:
            list_error += not_found_note(spec.kind, getattr(target, "base_url", ""), "GET", models_path)
        started = time.perf_counter()
        ttft: float | None = None
        reply, chat_error, model_id = [], "", ""
        async for event in target.stream_chat(ChatRequest(messages=[{"role": "user", "content": PING_PROMPT}])):
            if isinstance(event, TextDelta):
                if ttft is None:
                    ttft = (time.perf_counter() - started) * 1000
                reply.append(event.text)
            elif isinstance(event, ResponseMeta) and event.model_id:
                model_id = event.model_id
            elif isinstance(event, TurnFailed):
                chat_error = f"{event.error_type}: {event.detail}"
                if event.http_status == 404 and hasattr(target, "chat_call"):
                    method, path, _body = target.chat_call(ChatRequest(messages=[]))
                    chat_error += not_found_note(spec.kind, getattr(target, "base_url", ""), method, path)
        total = (time.perf_counter() - started) * 1000
        operations = await try_safe_operations(ClientOperations(dict(stored_target or {}), target, secrets),
                                               "redline-connection-test")
    finally:
        await target.aclose()
    return ConnectionReport(models=models, undocumented=undocumented_models(models, documented),
                            list_error=list_error, ttft_ms=ttft, total_ms=total,
                            reply="".join(reply)[:_REPLY_LIMIT], chat_error=chat_error, model_id=model_id,
                            operations=tuple(operations))


def not_found_note(kind: str, base_url: str, method: str, path: str) -> str:
    """What to add to an HTTP 404: the URL that was tried and, when likely, the missing ``/v1``.

    OpenAI-compatible and Anthropic APIs live under ``/v1``; a base URL with no
    ``/v1`` segment at all is the usual cause of "Unknown endpoint".
    """
    from urllib.parse import urlsplit

    from app.targets.common import join_url

    note = f" (tried {method} {join_url(base_url, path)}"
    segments = urlsplit(base_url).path.strip("/").split("/")
    if kind in ("openai", "anthropic") and "v1" not in segments:
        note += f"; did you mean {base_url.rstrip('/')}/v1?"
    return note + ")"


def record_connection_check(db: Session, engagement_id: int, system_id: int, report: ConnectionReport) -> None:
    """Keep the check in the audit chain: the inventory comparison is AI-GOV-01 evidence."""
    engagement = get_engagement(db, engagement_id)
    touch(db, engagement, "system.connection_checked", {
        "models": list(report.models), "undocumented": list(report.undocumented),
        "ttft_ms": round(report.ttft_ms, 1) if report.ttft_ms is not None else None,
        "list_error": report.list_error, "chat_error": report.chat_error, "model_id": report.model_id,
        "operations": [list(entry) for entry in report.operations],
    }, entity=f"system:{system_id}")


def check_transport(db: Session, engagement_id: int, *, timeout: float = 5.0,
                    system_ids: Sequence[int] | None = None, only_problems: bool = False) -> list[str]:
    """Transport checks (CC6.7) of every in-scope system's URLs, each system's recorded in the audit chain.

    Returns one line per check that failed or could not judge, and one per
    system that passed them all, for the tester to read at import. The same
    checks run as the ``transport-endpoint-checks`` scenario, whose verdicts are the evidence.
    """
    import asyncio

    from app.alignment.systems import systems_of
    from app.store import audit
    from app.targets.transport_checks import check_system

    engagement = get_engagement(db, engagement_id)
    lines: list[str] = []
    for system in systems_of(db, engagement_id):
        if not system.in_scope if system_ids is None else system.id not in system_ids:
            continue
        checks = asyncio.run(check_system(dict(system.target or {}), timeout=timeout))
        # A check changes nothing in the engagement: an audit event, not an edit.
        audit.record(db, engagement_id=engagement.id, action="system.transport_checked",
                     entity=f"system:{system.id}", payload={"checks": [c.as_json() for c in checks]})
        bad = [c for c in checks if c.outcome != "pass"]
        for c in bad:
            word = "FAIL" if c.outcome == "fail" else "could not judge"
            lines.append(f"CC6.7 {system.name}: {c.check} {word}: {c.url}: {c.reason}")
        if not bad and not only_problems:
            exempt = " (loopback HTTP, exempt)" if all(c.exempt or c.check == "redirect" for c in checks) else ""
            lines.append(f"CC6.7 {system.name}: transport checks passed{exempt}")
    return lines
