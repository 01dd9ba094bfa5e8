"""A scriptable HTTP/1.1 server on 127.0.0.1: tests decide every byte and every fault.

It runs in a background thread with its own event loop, so it serves async
tests, sync tests and subprocesses alike. Each path has a queue of replies;
the last one repeats, so "500 on every attempt" is one reply and "429, then
success" is two. A reply is data (:class:`Reply`) or a function of the
request that returns one.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What to send back, byte for byte.

    ``framing``: ``chunked`` (each element of ``chunks`` is its own HTTP chunk,
    flushed separately), ``length`` (Content-Length), ``close`` (the body ends
    when the connection closes) or ``raw`` (``chunks`` are the entire response,
    status line included; nothing is added). After the chunks, ``reset`` aborts
    the connection with a TCP RST, and ``stall`` holds it open in silence.
    """

    status: int = 200
    chunks: Sequence[bytes] = ()
    content_type: str = "text/event-stream"
    headers: Sequence[tuple[str, str]] = ()
    framing: str = "chunked"
    delay: float = 0.0  # seconds before every chunk after the first
    reset: bool = False
    stall: float = 0.0
    # The last chunk waits until this is set (60 s at most): the test, not the machine's speed, decides
    # how long the stream stays open.
    hold_last: threading.Event | None = None


Script = Reply | Callable[[Received], Reply]


def json_reply(payload: Any, status: int = 200, headers: Sequence[tuple[str, str]] = ()) -> Reply:
    return Reply(status=status, chunks=[json.dumps(payload).encode()], content_type="application/json",
                 headers=headers, framing="length")


NOT_FOUND = json_reply({"error": {"message": "no such route", "type": "not_found"}}, status=404)


def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Route:
    replies: deque[Script] = field(default_factory=deque)

    def next(self) -> Script:
        return self.replies.popleft() if len(self.replies) > 1 else self.replies[0]


class LoopbackServer:
    """Start with :meth:`start` (or use the ``stream_server``/``fault_server`` fixtures)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._routes: dict[tuple[str, str], _Route] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, *replies: Script, method: str = "*") -> LoopbackServer:
        """Queue replies for ``path`` (exact, query ignored); ``method`` ``*`` matches any."""
        with self._lock:
            self._routes[(method.upper(), path)] = _Route(deque(replies))
        return self

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> LoopbackServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._accept, "127.0.0.1", 0, limit=1 << 20))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # surface bind errors in the caller's thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="loopback-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                with self._lock:
                    self.received.append(request)
                    route = self._routes.get((request.method, request.path)) or self._routes.get(("*", request.path))
                    script: Script = route.next() if route else NOT_FOUND
                reply = script(request) if callable(script) else script
                if not await self._send(writer, reply):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        path, _, query = target.partition("?")
        return Received(method.upper(), path, query, headers, body)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> bool:
        """Write one reply; False when the connection must close afterwards."""
        if reply.framing != "raw":
            reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else "Status"
            head = [f"HTTP/1.1 {reply.status} {reason}", f"Content-Type: {reply.content_type}"]
            head += [f"{name}: {value}" for name, value in reply.headers]
            if reply.framing == "chunked":
                head.append("Transfer-Encoding: chunked")
            elif reply.framing == "length":
                head.append(f"Content-Length: {sum(len(c) for c in reply.chunks)}")
            else:
                head.append("Connection: close")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
        for index, chunk in enumerate(reply.chunks):
            if reply.delay and index:
                await asyncio.sleep(reply.delay)
            if reply.hold_last is not None and index == len(reply.chunks) - 1:
                await asyncio.to_thread(reply.hold_last.wait, 60)
            if reply.framing == "chunked":
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                writer.write(chunk)
            await writer.drain()
        if reply.reset:
            sock = writer.get_extra_info("socket")
            if sock is not None:  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.stall:
            await asyncio.sleep(reply.stall)
            return False
        if reply.framing == "chunked":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        return reply.framing == "length"
