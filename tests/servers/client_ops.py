"""A client's operations gateway on 127.0.0.1: its own paths, its own key, its own header.

It stands for the place a real client keeps its deletion API, its SIEM query
and its failover switch: not under the AI system's base URL, and not behind
the AI system's key. Each call is checked against the gateway's own token
(``X-Ops-Token``) and then carried out on the demo AI system behind it, so a
vulnerable demo still fails and a hardened one still passes: only the way in
differs. Every request is kept, headers included, so a test can prove which
key went where.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

OPS_HEADER = "X-Ops-Token"
_ERASURE = re.compile(r"^/privacy/subjects/([^/]+)/erasure$")


@dataclass
class OpsRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ClientOpsGateway:
    """The running gateway: its base URL, and what it received."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    token: str
    demo_url: str
    demo_key: str
    received: list[OpsRequest] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def operations(self, env: str) -> dict[str, Any]:
        """The engagement's ``operations`` block for a system whose operations live here."""
        auth = {"env": env}
        return {
            "delete_user_data": {"method": "DELETE", "url": f"{self.base_url}/privacy/subjects/{{identity}}/erasure",
                                 "auth": auth, "auth_header": OPS_HEADER},
            "security_alerts": {"method": "GET", "url": f"{self.base_url}/siem/events?subject={{identity}}",
                                "auth": auth, "auth_header": OPS_HEADER},
            "outage": {"method": "POST", "url": f"{self.base_url}/ops/drills/primary-outage",
                       "body": {"duration_s": "{seconds}", "reason": "red-team drill for {identity}"},
                       "auth": auth, "auth_header": OPS_HEADER},
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_client_ops(demo_url: str, demo_key: str, token: str) -> ClientOpsGateway:
    gateway: ClientOpsGateway | None = None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _handle(self) -> None:
            assert gateway is not None
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 65536)) if length else b""
            gateway.received.append(OpsRequest(self.command, self.path, dict(self.headers.items()), body))
            if self.headers.get(OPS_HEADER) != gateway.token:
                return self._send(403, {"error": "missing or wrong operations token"})
            parts = urlsplit(self.path)
            demo = httpx.Client(base_url=gateway.demo_url, headers={"Authorization": f"Bearer {gateway.demo_key}"},
                                timeout=30, trust_env=False)
            try:
                erasure = _ERASURE.match(parts.path)
                if self.command == "DELETE" and erasure:
                    answer = demo.delete(f"/users/{quote(erasure.group(1), safe='')}/data")
                    return self._send(answer.status_code, {"erasure": "accepted", "upstream": answer.json()})
                if self.command == "GET" and parts.path == "/siem/events":
                    subject = (parse_qs(parts.query).get("subject") or [""])[0]
                    answer = demo.get("/security/alerts", params={"user": subject})
                    return self._send(answer.status_code, {"events": answer.json().get("data", [])})
                if self.command == "POST" and parts.path == "/ops/drills/primary-outage":
                    seconds = json.loads(body or b"{}").get("duration_s")
                    answer = demo.post("/admin/outage", json={"seconds": seconds})
                    return self._send(answer.status_code, {"drill": answer.json()})
                return self._send(404, {"error": "no such operation"})
            finally:
                demo.close()

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    gateway = ClientOpsGateway(server, thread, token, demo_url.rstrip("/"), demo_key)
    thread.start()
    return gateway
