"""The demo AI system's HTTP server: standard library only, on loopback, in a daemon thread.

:func:`start_demo_server` returns once the socket is listening. ``hardened``
and ``model_version`` are read afresh for every request, so a test (or a
consultant showing a remediation re-test) can flip a running server. Request
handling order: auth, body, model, failover, load, then the behaviour rules.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from app.demo import protocol
from app.demo.persona import DEMO_API_KEY, DEMO_CANARY, DEMO_REVOKED_KEY, DOCUMENTED_MODELS
from app.demo.routes import route
from app.demo.state import DemoState
from app.errors import UsageError

__all__ = ["DEMO_API_KEY", "DEMO_CANARY", "DEMO_REVOKED_KEY", "DOCUMENTED_MODELS", "DemoServer",
           "check_host", "start_demo_server"]

DEFAULT_CHUNK_DELAY = 0.003  # seconds between streamed deltas: quick, but visibly streaming
DEFAULT_SERVICE_TIME = 0.02  # seconds of "inference" before the first chunk
MAX_BODY_BYTES = 4 * 1024 * 1024


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse to listen beyond this machine unless asked to: the demo has no real security."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"refusing to serve the demo AI system on non-loopback host '{host}'; "
                         "pass --allow-remote if you really mean to expose it")


class DemoServer:
    """A running demo AI system. ``hardened`` and ``model_version`` take effect on the next request."""

    def __init__(self, host: str, port: int, hardened: bool, model_version: str, chunk_delay: float,
                 service_time: float, log: Callable[[str], None] | None) -> None:
        self.hardened = hardened
        self.model_version = model_version
        self.chunk_delay = chunk_delay
        self.service_time = service_time
        self.log = log
        self.state = DemoState()
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(host, port, self)
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="redline-demo-server", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def stop(self) -> None:
        """Stop listening and drop open connections; safe to call twice."""
        if self.stopping:
            return
        self.stopping = True
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(timeout=5)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops (or ``timeout``); True once stopped."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_demo_server(host: str = "127.0.0.1", port: int = 0, hardened: bool = False, *, model_version: str = "1",
                      chunk_delay: float = DEFAULT_CHUNK_DELAY, service_time: float = DEFAULT_SERVICE_TIME,
                      log: Callable[[str], None] | None = None) -> DemoServer:
    """Start the demo AI system; returns once it is listening (``port=0`` picks a free port).

    ``chunk_delay`` is the pause between streamed deltas and ``service_time`` the
    base latency of a chat request (both in seconds; tests pass 0). ``log``
    receives one line per request (method, path, status), never headers or bodies.
    """
    return DemoServer(host, port, hardened, model_version, chunk_delay, service_time, log)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default of 5 resets connections in a burst

    def __init__(self, host: str, port: int, demo: DemoServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.demo = demo
        super().__init__((host, port), DemoHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is ordinary (a stream read up to ``[DONE]``, a cancelled turn);
        anything else is still reported."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class DemoHandler(BaseHTTPRequestHandler):
    """One connection; the helpers below are the only way routes write responses."""

    protocol_version = "HTTP/1.1"
    server_version = "acme-support"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this
    disable_nagle_algorithm = True  # headers and body are separate writes; stream chunks go out at once
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.demo.track(self.connection, True)

    def finish(self) -> None:
        self.server.demo.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request is logged in _dispatch, without headers

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        demo = self.server.demo
        self._status = 0
        if demo.stopping:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        try:
            body = self._read_body()
            if body is not None:
                route(self, method, parts, parse_qs(url.query), body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if demo.log:
            demo.log(f"{method} {url.path} {self._status}")

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self.send_json(413, protocol.error_body(f"The request body must be at most {MAX_BODY_BYTES} bytes.",
                                                    "invalid_request_error", "payload_too_large"))
            return None
        return self.rfile.read(length) if length else b""

    # Responses -----------------------------------------------------------------------------------

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def send_bytes(self, status: int, data: bytes, content_type: str,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, protocol.to_json(value), "application/json", headers)

    def send_stream(self, events: Any, headers: dict[str, str], before_end: Callable[[], None] | None = None) -> None:
        """Server-sent events over chunked transfer encoding, pausing between content deltas;
        ``before_end`` runs after the last event and before ``[DONE]``."""
        demo = self.server.demo
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        for event in events:
            if demo.stopping:
                self.close_connection = True
                return
            self._write_chunk(protocol.sse(event))
            if demo.chunk_delay > 0 and event.get("choices") and event["choices"][0]["delta"].get("content"):
                time.sleep(demo.chunk_delay)
        if before_end is not None:
            before_end()
        self._write_chunk(protocol.DONE)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
