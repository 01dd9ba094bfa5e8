"""Building the adapter for a system's target; the one place that knows kinds by name."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from app.errors import RedlineError
from app.formats.engagement import TargetSpec
from app.secrets import SecretResolver
from app.targets.base import Target
from app.targets.retry import RetryPolicy

# kind -> (module, class); modules load only when a target of that kind is built.
ADAPTERS: dict[str, tuple[str, str]] = {
    "openai": ("app.targets.openai", "OpenAIAdapter"),
    "anthropic": ("app.targets.anthropic", "AnthropicAdapter"),
    "ollama": ("app.targets.ollama", "OllamaAdapter"),
    "http": ("app.targets.http_json", "HttpJsonAdapter"),
    "demo": ("app.targets.demo", "DemoAdapter"),
}


def make_target(spec: TargetSpec, *, secrets: SecretResolver | None = None,
                retry: RetryPolicy | None = None,
                sleep: Callable[[float], Awaitable[None]] | None = None, **options: Any) -> Target:
    """The adapter for ``spec``, its API key already resolved.

    A key that cannot be read raises :class:`app.secrets.SecretUnavailable` (a
    RedlineError) now, before any turn runs; the revoked key is read only when
    a step asks for it. ``secrets`` is shared so one resolver knows every value
    to redact. ``retry`` replaces the default policy (``spec.max_retries`` and
    ``spec.overload_retries``, exponential backoff); ``sleep`` keeps that policy but waits with the given
    function (tests). ``options`` go to the adapter (``raw_cap``).
    """
    try:
        module_name, class_name = ADAPTERS[spec.kind]
    except KeyError:
        raise RedlineError(f"unknown target kind '{spec.kind}'; expected one of {', '.join(ADAPTERS)}") from None
    resolver = secrets if secrets is not None else SecretResolver()
    api_key = resolver.resolve(spec.api_key) if spec.api_key is not None else None
    if retry is None and sleep is not None:
        retry = RetryPolicy.for_spec(spec, sleep)
    if spec.tls is not None:
        from app.targets.tls import TlsSetupError, client_context

        # Built now, so a CA file that is missing or changed since import stops the batch before any turn.
        try:
            options.setdefault("tls_context", client_context(spec.tls, resolver))
        except TlsSetupError as exc:
            raise TlsSetupError(exc.field, f"target.tls.{exc.field}: {exc}") from None
    adapter_class = getattr(importlib.import_module(module_name), class_name)
    return adapter_class(spec, api_key=api_key, secrets=resolver, retry=retry, **options)
