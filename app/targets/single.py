"""Single requests: a model listing or a raw ``http`` step, each evidence of exactly one request.

They are never retried and never streamed into the store: the whole body comes
back at once (up to the raw cap) with its status and any typed fault. The
shared machinery (building and redacting the request, the client, the body
reader) is the streaming adapter's (:class:`app.targets.adapter.EndpointAdapter`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from app.secrets import redact
from app.targets.base import AuthMode, HttpResult, RequestSent
from app.targets.bounds import BodyMeter
from app.targets.common import WIRE_ERRORS, RawBody, TargetFault, join_url, status_fault, transport_fault

if TYPE_CHECKING:
    from app.formats.engagement import Limits, TargetSpec


class SingleRequests:
    """The non-streaming calls of an endpoint adapter (mixed into it)."""

    kind: ClassVar[str]
    models_path: ClassVar[str | None]
    spec: TargetSpec
    base_url: str
    raw_cap: int
    limits: Limits

    if TYPE_CHECKING:  # supplied by EndpointAdapter
        def _build(self, method: str, path: str, body: Any, auth: AuthMode) -> tuple[httpx.Request, RequestSent]: ...
        def _http(self) -> httpx.AsyncClient: ...
        def _secret_values(self) -> tuple[str, ...]: ...
        def _total_fault(self) -> TargetFault: ...
        def parse_models(self, payload: Any) -> list[str]: ...
        @staticmethod
        async def _read_body(response: httpx.Response, raw: RawBody, deadline: float, meter: BodyMeter) -> None: ...

    async def _call(self, method: str, path: str, body: Any, auth: AuthMode) -> tuple[HttpResult, Any]:
        """One non-streamed call, never retried: a listing or raw step is evidence of exactly one request."""
        try:
            http_request, sent = self._build(method, path, body, auth)
        except TargetFault as fault:
            url = join_url(self.base_url, path)
            return HttpResult(request=RequestSent(method, redact(url, self._secret_values()), {}, body),
                              http_status=None, body_text="", error_type=fault.error_type,
                              detail=fault.detail), None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.spec.timeouts.total
        started = time.perf_counter()
        raw = RawBody(self.raw_cap)
        meter = BodyMeter(self.limits)
        status: int | None = None
        failure: TargetFault | None = None
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http().send(http_request, stream=True)
                status = response.status_code
                try:
                    await self._read_body(response, raw, deadline, meter)
                finally:
                    await response.aclose()
        except TimeoutError:
            failure = self._total_fault()
        except TargetFault as fault:  # a limit passed: what arrived is the evidence
            failure = meter.stop(fault)
        except WIRE_ERRORS as exc:
            failure = transport_fault(exc, self.spec, streaming=status is not None)
        elapsed = (time.perf_counter() - started) * 1000.0
        secrets = self._secret_values()
        data = raw.value(secrets)
        payload: Any = None
        if failure is None and status is not None and not 200 <= status < 300:
            failure = status_fault(status, data)
        if failure is None and data:
            try:
                payload = json.loads(data)
            except ValueError:
                payload = None
        result = HttpResult(
            request=sent, http_status=status, body_text=data.decode("utf-8", "replace"), raw=data,
            error_type=failure.error_type if failure else "",
            detail=redact(failure.detail, secrets) if failure else (raw.note()),
            elapsed_ms=elapsed, bounds=meter.facts(),
        )
        return result, payload

    async def list_models(self, auth: AuthMode = "default") -> HttpResult:
        """The endpoint's model listing; ``models`` holds the ids when the body could be read."""
        if self.models_path is None:
            return HttpResult(request=RequestSent("GET", "", {}, None), http_status=None, body_text="",
                              error_type="client_error", detail=f"a '{self.kind}' target has no model listing")
        result, payload = await self._call("GET", self.models_path, None, auth)
        if result.error_type:
            return result
        try:
            models = self.parse_models(payload)
        except (AttributeError, TypeError, KeyError):
            models = None
        if models is None or payload is None:
            return replace(result, error_type="malformed", detail="the model listing is not in the expected shape")
        return replace(result, models=models)

    async def request(self, method: str, path: str, body: Any = None, auth: AuthMode = "default") -> HttpResult:
        """A raw call relative to the base URL (e.g. a deletion API); the body is sent as JSON."""
        result, _ = await self._call(method, path, body, auth)
        return result
