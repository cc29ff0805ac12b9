"""Real HTTP servers on loopback for the tests of the bindings' `http` module.

- `web_server()`: plain HTTP (or HTTPS with `tls=`), with endpoints for JSON, echoing the
  request, redirects, slow and trickling answers, large and binary bodies, cookies and
  statuses; it records every request it serves.
- `certificates(tmp_path)`: a test CA and server certificates (cryptography), to check that
  TLS is verified and that `HTTPClient.CAFile` is trusted.
- `connect_proxy(target)`: a forward proxy that tunnels every CONNECT to `target` (so a
  request to any https host reaches the loopback server) and answers plain proxied requests
  itself, recording what each request carried.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

JOKE = "Chuck Norris counted to infinity. Twice."


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebServer:
    base: str  # http://127.0.0.1:PORT (https:// with TLS)
    port: int
    requests: list[Seen] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(
        self,
        status: int,
        body: bytes | str | dict[str, Any] = b"",
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if isinstance(body, dict):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _redirect(self, code: int, location: str) -> None:
        self._reply(code, b"", "text/plain", (("Location", location),))

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        headers = {name: value for name, value in self.headers.items()}
        self.server.record.requests.append(Seen(self.command, self.path, headers, body))
        parts = url.path.strip("/").split("/")
        route = parts[0]
        if route == "json":  # upstream's test endpoints (integration/suites/http_server.go)
            what = parts[1] if len(parts) > 1 else ""
            if what == "error":
                return self._reply(500, {"error": "boom"})
            if what == "slow":
                time.sleep(float(query.get("s", "1")))
            value = json.loads(body).get("value", "") if body else ""
            return self._reply(200, {"method": self.command, "value": value})
        if route == "echo":
            return self._reply(
                200,
                {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": headers,
                    "body": body.decode("utf-8", "replace"),
                    "body_hex": body.hex(),
                },
                headers=(("X-Served-By", "loopback"),),
            )
        if route == "status":
            return self._reply(int(parts[1]), {"status": int(parts[1])})
        if route == "redirect":
            left = int(parts[1])
            if left > 0:
                return self._redirect(302, f"/redirect/{left - 1}")
            return self._reply(200, {"redirected": True, "method": self.command})
        if route == "loop":
            return self._redirect(302, "/loop")
        if route == "to":
            return self._redirect(int(query.get("code", "302")), query["url"])
        if route == "slow":
            time.sleep(float(query.get("s", "1")))
            return self._reply(200, {"slow": True})
        if route == "trickle":
            count, pause = int(query.get("n", "20")), float(query.get("s", "0.1"))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(count))
            self.end_headers()
            for _ in range(count):
                self.wfile.write(b".")
                self.wfile.flush()
                time.sleep(pause)
            return None
        if route == "big":
            return self._reply(200, b"x" * int(query["n"]), "text/plain")
        if route == "chunked":
            size, sent = int(query["n"]), 0
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                while sent < size:
                    piece = min(65536, size - sent)
                    self.wfile.write(b"%x\r\n%s\r\n" % (piece, b"y" * piece))
                    sent += piece
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client gave up, as it should past its limit
            return None
        if route == "binary":
            return self._reply(200, bytes(range(256)), "application/octet-stream")
        if route == "cookies":
            return self._reply(
                200,
                "cookies",
                "text/plain",
                (
                    ("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
                    ("Set-Cookie", 'theme="dark"'),
                    ("X-Multi", "one"),
                    ("X-Multi", "two"),
                ),
            )
        if route == "vendor-json":
            return self._reply(200, {"kind": "vendor"}, "application/vnd.api+json; charset=utf-8")
        if route == "not-json":
            return self._reply(200, "{not json", "application/json")
        if route == "jokes":  # api.chucknorris.io's /jokes/random
            return self._reply(200, {"icon_url": "", "id": "x1", "value": JOKE})
        return self._reply(404, {"error": "not found"})

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    record: WebServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout, body limit) is what several tests do


@contextmanager
def web_server(tls: ssl.SSLContext | None = None) -> Iterator[WebServer]:
    """Serve the endpoints above on 127.0.0.1 (HTTPS with the server context `tls`)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        # The handshake happens in the handler's thread, on its first read.
        server.socket = tls.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    port = server.server_address[1]
    server.record = WebServer(f"{'https' if tls else 'http'}://127.0.0.1:{port}", port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- certificates -----------------------------------------------------------------------------


@dataclass
class Certificates:
    ca_file: Path  # the test CA, PEM
    folder: Path

    def server_context(self, *names: str) -> ssl.SSLContext:
        """A server context with a certificate for `names`, signed by the test CA."""
        cert, key = _leaf(self.folder, self._ca, names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    def self_signed_context(self, *names: str) -> ssl.SSLContext:
        """A server context with a self-signed certificate for `names` (no CA trusts it)."""
        other = _ca(self.folder / "other")
        cert, key = _leaf(self.folder / "other", other, names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    _ca: Any = None


def certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _ca(folder)
    made = Certificates(folder / "ca.pem", folder)
    made._ca = ca
    return made


def _ca(folder: Path) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Burrow test CA {folder.name}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _leaf(folder: Path, ca: Any, names: tuple[str, ...]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    stem = folder / "-".join(names).replace("*", "star")
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- a forward proxy --------------------------------------------------------------------------


@dataclass
class Proxy:
    url: str  # http://127.0.0.1:PORT
    connects: list[str] = field(default_factory=list)  # CONNECT targets, host:port
    plain: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # request lines
    auth: list[str] = field(default_factory=list)  # Proxy-Authorization values seen


@contextmanager
def connect_proxy(target: tuple[str, int]) -> Iterator[Proxy]:
    """A proxy on 127.0.0.1 that tunnels every CONNECT to `target`, whatever host it names."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    proxy = Proxy(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def serve(client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, where, _ = head[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            if "Proxy-Authorization" in headers:
                proxy.auth.append(headers["Proxy-Authorization"])
            if method != "CONNECT":
                proxy.plain.append((f"{method} {where}", headers))
                body = json.dumps({"proxied": where}).encode()
                client.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                return
            proxy.connects.append(where)
            with socket.create_connection(target) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                ends = [client, upstream]
                while not stop.is_set():
                    ready, _, _ = select.select(ends, [], [], 0.1)
                    for end in ready:
                        chunk = end.recv(65536)
                        if not chunk:
                            return
                        (upstream if end is client else client).sendall(chunk)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def free_port() -> int:
    """A loopback port nothing listens on (for connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
