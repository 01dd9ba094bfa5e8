"""Calling a client operation: one bounded, never-retried request to wherever the client put the endpoint.

An operation on the target's own origin with ``auth: target`` goes through the
system's adapter, exactly as a raw ``http`` step would. Any other (another
host, or its own key) gets an endpoint of its own: the same request building,
redaction, body limits and fault typing as every adapter
(:class:`app.targets.adapter.EndpointAdapter`), but its own key, its own
header, and none of the target's headers, which belong to the target's host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from app.operations import is_absolute, operations_of, prepare_call
from app.targets.adapter import EndpointAdapter
from app.targets.base import HttpResult, RequestSent
from app.targets.common import join_url

if TYPE_CHECKING:
    from app.formats.engagement import OperationSpec, TargetSpec
    from app.secrets import SecretResolver
    from app.targets.base import Target


class OperationEndpoint(EndpointAdapter):
    """One operation URL, called with its own key (or none)."""

    kind: ClassVar[str] = "operation"
    models_path: ClassVar[str | None] = None

    def __init__(self, spec: TargetSpec, url: str, header: str, *, api_key: str | None,
                 secrets: SecretResolver, tls_context: Any = None) -> None:
        # The system's TLS trust (its engagement CA and client certificate) holds for its operations too.
        super().__init__(spec.model_copy(update={"headers": {}}), api_key=api_key, secrets=secrets, base_url=url,
                         tls_context=tls_context)
        self._header = header

    def auth_headers(self, key: str) -> dict[str, str]:
        if self._header.lower() == "authorization":
            return {"Authorization": f"Bearer {key}"}
        return {self._header: key}


def _failed(method: str, url: str, detail: str) -> HttpResult:
    return HttpResult(request=RequestSent(method, url, {}, None), http_status=None, body_text="",
                      error_type="client_error", detail=detail)


def unmapped(name: str) -> HttpResult:
    """The result of calling an operation the system does not map (the planner keeps such runs out)."""
    return _failed("", "", f"this system maps no operation '{name}'")


class ClientOperations:
    """A system's named operations for one batch of runs; keys resolved up front so they are redacted."""

    def __init__(self, stored_target: dict[str, Any], target: Target, resolver: SecretResolver) -> None:
        """``stored_target``: the system's target as the store keeps it (its operations among it)."""
        from app.formats.engagement import KeyRef
        from app.secrets import SecretUnavailable

        self.target = target
        self.resolver = resolver
        self.operations: dict[str, OperationSpec] = operations_of(stored_target)
        self._keys: dict[str, str | None] = {}
        self._key_errors: dict[str, str] = {}
        for name, operation in self.operations.items():
            if isinstance(operation.auth, KeyRef):
                try:
                    self._keys[name] = resolver.resolve(operation.auth)
                except SecretUnavailable as exc:  # only this operation's steps fail, each saying why
                    self._key_errors[name] = str(exc)

    def has(self, name: str) -> bool:
        return name in self.operations

    def base_url(self) -> str:
        return str(getattr(self.target, "base_url", "") or "")

    async def call(self, name: str, args: dict[str, Any], identity: str) -> HttpResult:
        """The operation's one request; a fault comes back in the result, never raised."""
        operation = self.operations.get(name)
        if operation is None:
            return unmapped(name)
        prepared = prepare_call(name, operation, args, identity)
        if name in self._key_errors:
            return _failed(prepared.method, prepared.url, f"the key for operation '{name}' is unavailable: "
                                                          f"{self._key_errors[name]}")
        if prepared.auth == "target" and not is_absolute(prepared.url):
            return await self.target.request(prepared.method, prepared.url, prepared.body, "default")
        url = prepared.url if is_absolute(prepared.url) else join_url(self.base_url(), prepared.url)
        spec = getattr(self.target, "spec", None)
        if spec is None:
            return _failed(prepared.method, url, "this target kind cannot call client operations")
        key = self._keys.get(name)
        if prepared.auth == "target":  # same origin as the target (the engagement file's rule): its own key
            key = getattr(self.target, "_api_key", None)
        endpoint = OperationEndpoint(spec, url, operation.auth_header, api_key=key, secrets=self.resolver,
                                     tls_context=getattr(self.target, "_tls_context", None))
        try:
            return await endpoint.request(prepared.method, "", prepared.body, "default" if key else "none")
        finally:
            await endpoint.aclose()


async def try_safe_operations(ops: ClientOperations, identity: str) -> list[tuple[str, str]]:
    """Each operation's connection-test result, in name order: a GET is called, anything else is not.

    A GET reads and changes nothing, so a connection test may try it; a POST
    or DELETE could start a drill or delete data, so it is only listed.
    """
    results: list[tuple[str, str]] = []
    for name, operation in sorted(ops.operations.items()):
        if not operation.safe:
            results.append((name, f"not tried: {operation.method} may change something"))
            continue
        result = await ops.call(name, {}, identity)
        if result.error_type:
            results.append((name, f"{result.error_type}: {result.detail}"))
        else:
            results.append((name, f"HTTP {result.http_status} in {result.elapsed_ms:.0f} ms"))
    return results
