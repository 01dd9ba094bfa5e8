"""What a route of the demo AI system needs of the connection it answers, as a protocol.

The server's request handler (:class:`app.demo.server.DemoHandler`) dispatches to the
routes, and the routes answer through the handler. Naming the handler's shape here,
below both, lets the routes and the chat model be read and type-checked without
importing the server that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import Message
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.demo.state import DemoState


class RunningDemo(Protocol):
    """The demo server's switches and state, as the routes read them on each request."""

    hardened: bool
    model_version: str
    service_time: float
    state: DemoState


class _Server(Protocol):
    @property
    def demo(self) -> RunningDemo: ...


class Responder(Protocol):
    """One request's connection: its headers, the running demo, and the only ways to answer it."""

    @property
    def headers(self) -> Message: ...

    @property
    def server(self) -> _Server: ...

    def send_bytes(self, status: int, data: bytes, content_type: str,
                   headers: dict[str, str] | None = None) -> None: ...

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None: ...

    def send_stream(self, events: Any, headers: dict[str, str],
                    before_end: Callable[[], None] | None = None) -> None: ...
