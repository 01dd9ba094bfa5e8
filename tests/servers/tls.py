"""HTTPS servers on 127.0.0.1 with the certificates and TLS versions a transport check must tell apart.

Certificates are made here with ``cryptography``: a test CA, a leaf it signs
for 127.0.0.1 and localhost (valid, or expired), a self-signed leaf, and a
client certificate the CA signs for mutual TLS. Each server answers every
request with a small JSON body (or a redirect), so the checks see a real
handshake and a real HTTP answer. :func:`serve_tls_front` puts TLS (and, if
asked, a demand for a client certificate) in front of a plain loopback server
such as the demo AI system, as a client's gateway would.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import select
import socket
import socketserver
import ssl
import threading
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pem:
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(folder: Path, stem: str, cert: x509.Certificate, key: Any) -> Pem:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Pem(cert_path, key_path)


def _leaf(subject: str, issuer: x509.Name, issuer_key: Any, key: Any, *, expired: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    start, end = (now - dt.timedelta(days=400), now - dt.timedelta(days=35)) if expired else \
        (now - dt.timedelta(days=1), now + dt.timedelta(days=30))
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the test CA's certificate: trust it to tell "expired" from "unknown issuer"
    valid: Pem
    expired: Pem
    self_signed: Pem
    client: Pem  # a client certificate the test CA signs (CN redline-tester), for mutual TLS


def make_certificates(folder: Path) -> Certificates:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(_name("Redline test CA")).issuer_name(_name("Redline test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=500)).not_valid_after(now + dt.timedelta(days=500))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    valid_key, expired_key, self_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    valid = _write(folder, "valid", _leaf("127.0.0.1", ca.subject, ca_key, valid_key, expired=False), valid_key)
    expired = _write(folder, "expired", _leaf("127.0.0.1", ca.subject, ca_key, expired_key, expired=True),
                     expired_key)
    self_signed = _write(folder, "self", _leaf("127.0.0.1", _name("127.0.0.1"), self_key, self_key, expired=False),
                         self_key)
    client = _write(folder, "client", _leaf("redline-tester", ca.subject, ca_key, client_key, expired=False),
                    client_key)
    return Certificates(ca_path, valid, expired, self_signed, client)


class Served:
    """A running loopback server; ``url`` is its base."""

    def __init__(self, server: ThreadingHTTPServer, scheme: str) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()
        self.scheme = scheme

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _handler(location: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if location:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"error": {"message": "Unknown endpoint."}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _TLSServer(ThreadingHTTPServer):
    """Wraps each accepted connection; a failed handshake only drops that connection."""

    daemon_threads = True
    context: ssl.SSLContext

    def get_request(self) -> Any:
        sock, addr = self.socket.accept()
        try:
            return self.context.wrap_socket(sock, server_side=True), addr
        except (ssl.SSLError, OSError):
            sock.close()
            raise OSError("handshake refused") from None

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # handshakes the checks abandon on purpose are not errors


def serve_tls(pem: Pem, *, tls10_only: bool = False, location: str | None = None) -> Served:
    """An HTTPS server with ``pem``; ``tls10_only`` speaks TLS 1.0 and nothing else."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if tls10_only:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_cert_chain(str(pem.cert), str(pem.key))
    server = _TLSServer(("127.0.0.1", 0), _handler(location))
    server.context = context
    return Served(server, "https")


def serve_http(location: str | None = None) -> Served:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(location))
    server.daemon_threads = True
    return Served(server, "http")


class _Relay(socketserver.BaseRequestHandler):
    """Copies bytes both ways between the decrypted client connection and the plain upstream server."""

    server: _TLSFront

    def handle(self) -> None:
        client: ssl.SSLSocket = self.request
        try:
            upstream = socket.create_connection(self.server.upstream, timeout=30)
        except OSError:
            return
        with upstream:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 30)
                if not ready:
                    return
                try:
                    for sock in ready:
                        if sock is client:
                            data = client.recv(65536)
                            while data and client.pending():  # bytes already decrypted, invisible to select
                                data += client.recv(client.pending())
                            if not data:
                                return
                            upstream.sendall(data)
                        else:
                            data = upstream.recv(65536)
                            if not data:
                                return
                            client.sendall(data)
                except OSError:
                    return


class _TLSFront(_TLSServer):
    upstream: tuple[str, int]

    def get_request(self) -> Any:
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
            return tls, addr
        except (ssl.SSLError, OSError):
            _linger(socket.socket(fileno=tls.detach()))
            raise OSError("handshake refused") from None


def _linger(sock: socket.socket) -> None:
    """Close as a web server does after refusing a handshake: the alert already sent, read what the client
    sent before closing, so the close is not a reset that could overtake the alert."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def serve_tls_front(pem: Pem, upstream_url: str, *, client_ca: Path | None = None) -> Served:
    """HTTPS with ``pem`` on a loopback port, relaying to the plain server at ``upstream_url``.

    With ``client_ca``, the server demands a client certificate that CA signed
    (mutual TLS) and drops a connection without one.
    """
    from urllib.parse import urlsplit

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem.cert), str(pem.key))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(client_ca))
    server = _TLSFront(("127.0.0.1", 0), _Relay)  # type: ignore[arg-type]
    server.context = context
    parts = urlsplit(upstream_url)
    server.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
    return Served(server, "https")
