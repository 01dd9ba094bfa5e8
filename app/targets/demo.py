"""The built-in demo AI system as a target: the OpenAI adapter pointed at the in-process demo server.

The server starts on first use and is shared by every demo target in the
process, one instance per mode, so a vulnerable and a hardened system can be
tested side by side without flipping each other's switch. A ``base_url`` in the
spec points at a ``redline demo-target`` running elsewhere instead.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from app.demo.server import DEMO_API_KEY, DEMO_REVOKED_KEY, DOCUMENTED_MODELS
from app.formats.engagement import TargetSpec
from app.secrets import SecretResolver
from app.targets.openai import OpenAIAdapter
from app.targets.retry import RetryPolicy

_servers: dict[bool, Any] = {}
_lock = threading.Lock()


def shared_demo_server(hardened: bool) -> Any:
    """The process's demo server for this mode, started on first call (``app.demo.server.DemoServer``)."""
    with _lock:
        server = _servers.get(hardened)
        if server is None:
            from app.demo.server import start_demo_server

            server = start_demo_server(host="127.0.0.1", port=0, hardened=hardened)
            if not _servers:
                atexit.register(stop_demo_servers)
            _servers[hardened] = server
        return server


def stop_demo_servers() -> None:
    """Stop the shared servers (at exit, or in tests that want a clean slate)."""
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


class DemoAdapter(OpenAIAdapter):
    kind = "demo"
    default_model = DOCUMENTED_MODELS[0]

    def __init__(self, spec: TargetSpec, *, api_key: str | None = None,
                 secrets: SecretResolver | None = None, retry: RetryPolicy | None = None,
                 **options: Any) -> None:
        base_url = spec.base_url or shared_demo_server(spec.hardened).base_url
        super().__init__(
            spec, api_key=api_key or DEMO_API_KEY, secrets=secrets, retry=retry, base_url=base_url,
            # the demo's revoked key is part of the demo, unless the engagement names its own
            revoked_key=None if spec.revoked_key is not None else DEMO_REVOKED_KEY,
            **options,
        )

    def _secret_values(self) -> tuple[str, ...]:
        # The demo's keys are public (``redline demo-target`` prints them): they are
        # redacted from headers by name, but not hunted for by value in transcripts.
        return self._resolver.values
