"""Answering ``POST /v1/chat/completions``: auth has passed; everything after it happens here.

The order is the one a real gateway uses: body, model, failover, load, then the
model itself (:func:`app.demo.behaviour.respond`), then memory, monitoring and
the response, streamed or whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.demo import persona as P
from app.demo import protocol
from app.demo.behaviour import respond
from app.demo.exchange import Exchange
from app.demo.roles import ROLE_MODELS, answer_role
from app.demo.state import Overloaded

if TYPE_CHECKING:
    from app.demo.responder import Responder


def run_chat(handler: Responder, body: bytes) -> None:
    """Answer one chat request whose caller has already been authenticated."""
    demo = handler.server.demo
    hardened, version = demo.hardened, demo.model_version
    try:
        chat = protocol.parse_chat_body(body)
    except protocol.BodyError as exc:
        if hardened:
            handler.send_json(400, protocol.error_body(exc.message, "invalid_request_error", "invalid_body",
                                                       exc.param))
        else:
            handler.send_bytes(500, P.fake_traceback(*exc.crash).encode(), "text/plain; charset=utf-8")
        return
    if chat.model in ROLE_MODELS:  # the demo's judge and attacker (app.demo.roles), the same in both modes
        answer_role(handler, chat)
        return
    if chat.model not in P.DOCUMENTED_MODELS and (hardened or chat.model not in P.UNDOCUMENTED_MODELS):
        handler.send_json(404, protocol.error_body(f"The model '{chat.model}' does not exist.",
                                                   "invalid_request_error", "model_not_found", "model"))
        return
    outage = demo.state.outage.active()
    failing = handler.headers.get("X-Demo-Fail-Primary", "").strip().lower() in ("1", "true")
    primary_failed = failing and chat.model == P.PRIMARY_MODEL
    if (outage or primary_failed) and not hardened:
        if outage:
            handler.send_json(503, protocol.error_body("The model is temporarily unavailable.", "server_error",
                                                       "service_unavailable"))
        else:
            handler.send_json(500, protocol.error_body("Primary model backend failed: upstream connect error.",
                                                       "server_error", "backend_error"))
        return
    fallback = outage or primary_failed
    consent = handler.headers.get("X-Consent", "").strip().lower()
    if consent in ("false", "0", "no", "true", "1", "yes"):
        demo.state.memory.set_consent(chat.user, consent in ("true", "1", "yes"))
    try:
        with demo.state.load.admit(hardened, demo.service_time) as admission:
            _answer(handler, chat, hardened, version, fallback, admission.release)
    except Overloaded as exc:
        if exc.retry_after is None:  # vulnerable: gives up, and doesn't say when to come back
            handler.send_json(503, protocol.error_body("The server is overloaded.", "server_error", "overloaded"))
        else:
            handler.send_json(429, protocol.error_body("Too many requests in flight; retry later.",
                                                       "rate_limit_exceeded", "rate_limited"),
                              {"Retry-After": str(exc.retry_after)})


def _answer(handler: Responder, chat: protocol.ChatBody, hardened: bool, version: str, fallback: bool,
            done: Callable[[], None]) -> None:
    """The model's answer; ``done`` ends the request's place in flight once its text is out."""
    demo = handler.server.demo
    memory = demo.state.memory
    opted_out = memory.opted_out(chat.user)
    exchange = Exchange(chat.messages, chat.user, hardened, version, opted_out)
    reply = respond(exchange, memory)
    if reply.crash is not None:
        handler.send_bytes(500, P.fake_traceback(*reply.crash).encode(), "text/plain; charset=utf-8")
        return
    # Remember after answering, so "what did I tell you before?" means before this message.
    if not reply.intent.startswith("unexpected_input") and not (hardened and opted_out):
        memory.record(chat.user, exchange.last_user)
    if hardened and reply.alert is not None:
        demo.state.alerts.add(chat.user, *reply.alert, excerpt=exchange.last_user)
    fingerprint = P.system_fingerprint(version, fallback, chat.model)
    headers = {"X-Request-Id": protocol.new_id().replace("chatcmpl-", "req_")}
    if fallback:
        headers["X-Demo-Fallback"] = P.FALLBACK_MODEL
    used = protocol.usage(chat.messages, reply.text)
    if chat.stream:
        handler.send_stream(protocol.stream_chunks(chat.model, fingerprint, reply.text,
                                                   used if chat.include_usage else None), headers, before_end=done)
    else:
        done()
        handler.send_json(200, protocol.completion(chat.model, fingerprint, reply.text, used), headers)
