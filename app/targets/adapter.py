"""The streaming loop every HTTP adapter shares: auth, attempts, retries, timeouts, raw bytes.

A kind (openai, anthropic, ollama, http) supplies only what differs: the call
it makes (:meth:`EndpointAdapter.chat_call`), its auth header, and a
:class:`Decoder` that turns framed events into text. Everything that decides
what an auditor sees about a fault lives here once: this module gets to a
response (keys, headers, the bound on requests in flight, retries within the
turn's deadline), and :mod:`app.targets.reading` reads a successful one into
events, bounded, with its raw bytes kept as evidence.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx

from app import __version__
from app.formats.engagement import TargetSpec
from app.secrets import SecretResolver, redact
from app.targets.base import (
    AuthMode,
    BodyBytes,
    ChatRequest,
    RequestSent,
    RetryScheduled,
    TargetEvent,
    TurnFailed,
)
from app.targets.bounds import BodyMeter, limits_for
from app.targets.common import (
    WIRE_ERRORS,
    RawBody,
    TargetFault,
    is_loopback,
    join_url,
    redacted_request,
    status_fault,
    transport_fault,
)
from app.targets.decoder import Decoder
from app.targets.pacing import InFlightBound
from app.targets.reading import read_body, read_response, total_fault
from app.targets.retry import RetryPolicy, is_overload_status
from app.targets.single import SingleRequests
from app.targets.tls import TlsSetupError, client_context


class EndpointAdapter(SingleRequests):
    """One AI system reached over HTTP, sharing one ``httpx.AsyncClient`` for every call."""

    kind: ClassVar[str] = ""
    models_path: ClassVar[str | None] = "/models"  # None: the API has no model listing
    default_model: ClassVar[str | None] = None  # sent when neither the step nor the system names one

    def __init__(self, spec: TargetSpec, *, api_key: str | None = None,
                 secrets: SecretResolver | None = None, retry: RetryPolicy | None = None,
                 raw_cap: int | None = None, base_url: str | None = None,
                 revoked_key: str | None = None, tls_context: ssl.SSLContext | None = None) -> None:
        self.spec = spec
        self.base_url = base_url or spec.base_url or ""
        self.retry = retry or RetryPolicy.for_spec(spec)
        self.bound = InFlightBound()  # chat requests in flight to this system (app.targets.pacing)
        self.limits = limits_for(spec)
        self.raw_cap = raw_cap or self.limits.raw_bytes
        self._api_key = api_key
        self._revoked_key = revoked_key
        self._resolver = secrets or SecretResolver()
        self._client: httpx.AsyncClient | None = None
        self._tls_context = tls_context  # built from spec.tls (app.targets.tls) when not given

    # -- what each kind supplies ------------------------------------------------------------

    def chat_call(self, request: ChatRequest) -> tuple[str, str, Any]:
        """(method, path relative to base_url, JSON body) for one chat call."""
        raise NotImplementedError

    def decoder(self) -> Decoder:
        raise NotImplementedError

    def model_for(self, request: ChatRequest) -> str | None:
        """The step's model override, else the system's configured model."""
        return request.model or self.spec.model or self.default_model

    def body_start(self, request: ChatRequest) -> dict[str, Any]:
        """A chat body's first key: the model, when one is known (some servers pick a default)."""
        model = self.model_for(request)
        return {"model": model} if model else {}

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def parse_models(self, payload: Any) -> list[str]:
        """Model ids from the listing body (OpenAI and Anthropic shape: ``data[].id``)."""
        return [str(m["id"]) for m in payload.get("data", []) if isinstance(m, dict) and "id" in m]

    # -- shared machinery -------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            t = self.spec.timeouts
            local = is_loopback(self.base_url)
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.connect),
                # Testers' traffic is identifiable; and no compression is offered, so a body is never
                # bigger in memory than on the wire (a server that compresses anyway is unpacked within
                # limits by app.targets.bounds, never by httpx).
                headers={"User-Agent": f"redline/{__version__}", "Accept-Encoding": "identity"},
                follow_redirects=False,
                trust_env=not local,  # local targets never go through a proxy
                verify=self._tls_verify(local),
            )
        return self._client

    def _tls_verify(self, local: bool) -> ssl.SSLContext | bool:
        """The system's engagement CA and client certificate when it has a ``tls`` block; else the public roots."""
        if self.spec.tls is None:
            # Plain HTTP on loopback never does TLS (every URL is joined to the base
            # and redirects are not followed), so skip loading the CA store (~30 ms).
            return not (local and self.base_url.startswith("http://"))
        if self._tls_context is None:
            try:
                self._tls_context = client_context(self.spec.tls, self._resolver)
            except TlsSetupError as exc:
                raise TargetFault("tls", f"target.tls.{exc.field}: {exc}") from None
        return self._tls_context

    def _secret_values(self) -> tuple[str, ...]:
        known = [v for v in (self._api_key, self._revoked_key) if v]
        return tuple(known) + self._resolver.values

    def _key_for(self, auth: AuthMode) -> str | None:
        if auth == "none":
            return None
        if auth == "revoked":
            if self._revoked_key is None:
                if self.spec.revoked_key is None:
                    raise TargetFault("client_error", "auth 'revoked' was requested but this system has "
                                      "no revoked_key configured; add target.revoked_key to the engagement")
                try:
                    self._revoked_key = self._resolver.resolve(self.spec.revoked_key)
                except Exception as exc:  # SecretUnavailable: the step fails, the run goes on
                    raise TargetFault("client_error", f"revoked key unavailable: {exc}") from None
            return self._revoked_key
        return self._api_key

    def _headers(self, auth: AuthMode, *, json_body: bool) -> dict[str, str]:
        headers = dict(self.spec.headers)
        if json_body:
            headers["Content-Type"] = "application/json"
        key = self._key_for(auth)
        if key:
            headers.update(self.auth_headers(key))
        return headers

    def _build(self, method: str, path: str, body: Any, auth: AuthMode) -> tuple[httpx.Request, RequestSent]:
        url = join_url(self.base_url, path)
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = self._http().build_request(method, url, headers=self._headers(auth, json_body=body is not None),
                                             content=content)
        sent_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers.raw}
        return request, redacted_request(method, url, sent_headers, body, self._secret_values())

    async def _open(self, request: httpx.Request, deadline: float) -> httpx.Response:
        """Send and await the status line; a non-success status becomes a fault with its body."""
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http().send(request, stream=True)
        except TimeoutError:
            raise self._total_fault() from None
        except WIRE_ERRORS as exc:
            fault = transport_fault(exc, self.spec, streaming=False)
            fault.detail = redact(fault.detail, self._secret_values())
            raise fault from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        raw = RawBody(min(self.raw_cap, 1024 * 1024))
        meter = BodyMeter(self.limits)
        try:
            await self._read_body(response, raw, deadline, meter)
        except (TimeoutError, httpx.HTTPError, TargetFault):
            pass  # the status is the fault; a body cut short is still recorded
        finally:
            await response.aclose()
        body = raw.value(self._secret_values())
        fault = status_fault(status, body, response.headers.get("location", ""))
        decoded = fault.detail
        fault.detail = redact(decoded, self._secret_values())
        fault.secret_found = fault.detail != decoded
        fault.raw = body
        fault.headers = response.headers
        fault.bounds = meter.facts()
        raise fault

    def _total_fault(self) -> TargetFault:
        return total_fault(self.spec)

    # Kept as methods: app.targets.single's calls read bodies and time out the same way.
    _read_body = staticmethod(read_body)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[TargetEvent]:
        """RequestSent, then ResponseMeta/TextDelta/RetryScheduled, then one TurnCompleted or TurnFailed.

        ResponseMeta may come twice: with the status when headers arrive, and with
        model, fingerprint and usage at the end (later non-None fields win).
        A request that cannot be built (e.g. no revoked key configured) yields only TurnFailed.
        """
        try:
            method, path, body = self.chat_call(request)
            http_request, sent = self._build(method, path, body, request.auth)
        except TargetFault as fault:
            yield TurnFailed(fault.error_type, fault.detail, fault.http_status)
            return
        yield sent
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.spec.timeouts.total
        paced = not request.measure_raw  # a burst is sent as it comes, and never retried
        attempt = 0
        used = {False: 0, True: 0}  # retries spent, per budget (overload or not)
        held = False
        try:
            while True:
                attempt += 1
                if paced:
                    try:
                        async with asyncio.timeout_at(deadline):
                            await self.bound.acquire()
                    except TimeoutError:
                        yield TurnFailed("timeout", f"{self._total_fault().detail}, waiting for the system to "
                                                    f"take fewer requests at once (limit {self.bound.limit})")
                        return
                    held = True
                try:
                    response = await self._open(http_request, deadline)
                    break
                except TargetFault as fault:
                    overload = is_overload_status(fault.http_status)
                    if held:
                        self.bound.release(overloaded=overload)
                        held = False
                    # Only faults raised before any body was read get here, so a retry never repeats text.
                    if paced and fault.retryable and self.retry.allows(used[overload] + 1, overload):
                        used[overload] += 1
                        wait = self.retry.wait_seconds(used[overload], fault.headers)
                        if loop.time() + wait < deadline:
                            yield RetryScheduled(attempt, fault.error_type, fault.http_status, wait * 1000.0,
                                                 fault.detail)
                            await self.retry.sleep(wait)
                            continue
                    if fault.raw:
                        yield BodyBytes(fault.raw)
                    yield TurnFailed(fault.error_type, fault.detail, fault.http_status,
                                     bounds=fault.bounds or BodyMeter(self.limits).facts(),
                                     secret_found=fault.secret_found)
                    return
            async for event in self._read(response, deadline):
                yield event
        finally:
            if held:
                self.bound.release()

    def _read(self, response: httpx.Response, deadline: float) -> AsyncIterator[TargetEvent]:
        """The body of a successful response, as events (:func:`app.targets.reading.read_response`)."""
        return read_response(response, deadline, decoder=self.decoder(), secrets=self._secret_values(),
                             raw_cap=self.raw_cap, limits=self.limits, spec=self.spec)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
