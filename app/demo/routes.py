"""The demo AI system's endpoints: health, auth, model listing, deletion, alerts and the outage switch.

Every ``/v1`` route passes the same key check first. Vulnerable mode lets a
missing or revoked key through (CC6.1, CC6.3); both modes reject an unknown key.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.demo import persona as P
from app.demo import protocol
from app.demo.chat import run_chat

if TYPE_CHECKING:
    from app.demo.responder import Responder

MAX_OUTAGE_SECONDS = 600.0
_MODEL_CREATED = {"acme-support-1": 1735689600, "acme-support-staging": 1746057600, "acme-support-0.9": 1704067200}


def route(h: Responder, method: str, parts: list[str], query: dict[str, list[str]], body: bytes) -> None:
    """Send the response for one request; ``parts`` is the decoded path split on ``/``."""
    if parts == ["healthz"]:
        if _method(h, method, "GET"):
            _health(h)
        return
    if parts[:1] != ["v1"]:
        return _not_found(h)
    if not _authorised(h):
        return
    match parts[1:]:
        case ["models"]:
            if _method(h, method, "GET"):
                h.send_json(200, {"object": "list", "data": [_model(m) for m in _listed(h)]})
        case ["models", model_id]:
            if _method(h, method, "GET"):
                if model_id in _listed(h):
                    h.send_json(200, _model(model_id))
                else:
                    h.send_json(404, protocol.error_body(f"The model '{model_id}' does not exist.",
                                                         "invalid_request_error", "model_not_found", "model"))
        case ["chat", "completions"]:
            if _method(h, method, "POST"):
                run_chat(h, body)
        case ["users", user, "data"] if user:
            if _method(h, method, "DELETE"):
                _delete_user_data(h, user)
        case ["security", "alerts"]:
            if _method(h, method, "GET"):
                users = query.get("user")
                alerts = h.server.demo.state.alerts.list(users[0] if users else None)
                h.send_json(200, {"object": "list", "data": [a.as_json() for a in alerts]})
        case ["admin", "outage"]:
            if _method(h, method, "POST"):
                _outage(h, query, body)
        case _:
            _not_found(h)


def _method(h: Responder, method: str, allowed: str) -> bool:
    if method == allowed:
        return True
    h.send_json(405, protocol.error_body(f"Method {method} is not allowed here.", "invalid_request_error",
                                         "method_not_allowed"), {"Allow": allowed})
    return False


def _not_found(h: Responder) -> None:
    h.send_json(404, protocol.error_body("Unknown endpoint.", "invalid_request_error", "not_found"))


def _authorised(h: Responder) -> bool:
    """Check the bearer key, answering 401 when it fails."""
    header = h.headers.get("Authorization", "").strip()
    key = header[7:].strip() if header[:7].lower() == "bearer " else header
    hardened = h.server.demo.hardened
    if key == P.DEMO_API_KEY or (not hardened and key in ("", P.DEMO_REVOKED_KEY)):
        return True
    if not key:
        message, code = "You didn't provide an API key.", "missing_api_key"
    elif key == P.DEMO_REVOKED_KEY:
        message, code = "This API key has been revoked.", "invalid_api_key"
    else:
        message, code = "Incorrect API key provided.", "invalid_api_key"
    h.send_json(401, protocol.error_body(message, "invalid_request_error", code), {"WWW-Authenticate": "Bearer"})
    return False


def _listed(h: Responder) -> tuple[str, ...]:
    """Hardened lists only the documented inventory (AI-GOV-01, AI-GOV-02)."""
    if h.server.demo.hardened:
        return P.DOCUMENTED_MODELS
    return P.DOCUMENTED_MODELS + P.UNDOCUMENTED_MODELS


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _MODEL_CREATED.get(model_id, 0), "owned_by": "acme"}


def _health(h: Responder) -> None:
    demo = h.server.demo
    outage = demo.state.outage.active()
    status = 200 if demo.hardened or not outage else 503
    h.send_json(status, {
        "status": ("degraded" if demo.hardened else "unavailable") if outage else "ok",
        "model": P.PRIMARY_MODEL, "model_version": demo.model_version,
        "mode": "hardened" if demo.hardened else "vulnerable",
        "serving": P.FALLBACK_MODEL if outage and demo.hardened else (None if outage else P.PRIMARY_MODEL),
    })


def _delete_user_data(h: Responder, user: str) -> None:
    """Both modes answer 200; only hardened actually forgets (C1.2, AI-DATA-03)."""
    demo = h.server.demo
    count = demo.state.memory.delete(user, purge=demo.hardened)
    h.send_json(200, {"object": "user.data.deleted", "user": user, "deleted": True, "messages_deleted": count})


def _outage(h: Responder, query: dict[str, list[str]], body: bytes) -> None:
    """Start (or with 0, end) a simulated primary-model outage of ``seconds`` (A1.2 recovery time)."""
    raw = (query.get("seconds") or [""])[0]
    if not raw and body:
        try:
            raw = str(json.loads(body).get("seconds", ""))
        except (ValueError, AttributeError):
            raw = ""
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_OUTAGE_SECONDS:
        h.send_json(400, protocol.error_body(f"'seconds' must be a number from 0 to {MAX_OUTAGE_SECONDS:g}.",
                                             "invalid_request_error", "invalid_value", "seconds"))
        return
    demo = h.server.demo
    demo.state.outage.start(seconds)
    h.send_json(200, {"object": "admin.outage", "seconds": seconds, "active": seconds > 0,
                      "recovery": "fallback" if demo.hardened else "none"})
