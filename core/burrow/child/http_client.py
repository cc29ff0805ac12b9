"""HTTP requests made by extensions in a child: the engine of the bindings' `http` modules.

The Lua and JavaScript bindings offer upstream Gopherbot's `require("http")` (docs/lua.md and
docs/javascript.md, "http"); each turns its language's options into a `Request` and its
language's response shape from a `Response`. This module does the request, synchronously,
as an extension's robot calls are, and only when an extension asks for it: a child that makes
no request never imports it (nor `http.client`, `ssl` or `email`, about 30 ms).

The client is the standard library's `http.client`, under rules of its own:
- one deadline per request (its `timeout`, else the robot's `HTTPClient` `Timeout`) that
  covers everything Go's context deadline does: name resolution, connecting, the TLS
  handshake, the headers and the whole body;
- cancellation: a wait on the network is cut into slices, and between two slices the
  execution's `should_stop` is asked (a JavaScript request is served on V8's thread, which
  the child's cancel signal never reaches);
- a response body larger than `MaxBodySize` is refused with an error, never cut silently;
- at most `MaxRedirects` redirects, followed as Go's client follows them;
- TLS always verified, against the system's certificates and the configured `CAFile`
  only: variables such as SSL_CERT_FILE in the child's environment are not read, since an
  extension's SetParameter can put them there for a later task.
Errors read as Go's `net/http` reports them (`Get "URL": context deadline exceeded`): they
are what upstream's extensions receive, as a string.
"""

from __future__ import annotations

import errno
import http.client
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse

from burrow.child.context import Canceled
from burrow.rpc.errors import ErrorCode, RpcError

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "HttpError",
    "Limits",
    "Request",
    "Response",
    "go_duration",
    "perform",
]

MiB = 1024 * 1024
DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take when neither it nor `HTTPClient.Timeout` says otherwise."""
DEFAULT_MAX_BODY_SIZE = 8 * MiB
"""Bytes of response body accepted unless `HTTPClient.MaxBodySize` says otherwise."""
DEFAULT_MAX_REDIRECTS = 5
"""Redirects followed unless `HTTPClient.MaxRedirects` says otherwise (Go's client: 10)."""
USER_AGENT = "Burrow-http-client/1.1"
"""Sent unless the extension sets User-Agent (Go sends Go-http-client/1.1; some APIs, such as
GitHub's, refuse requests without one)."""

_SLICE = 0.1  # seconds between two looks at should_stop while waiting on the network
_CHUNK = 64 * 1024
_SENSITIVE = ("authorization", "www-authenticate", "cookie", "cookie2")
# Headers Go writes from the request itself, never from the extension's header map.
_NOT_SENT = ("host", "content-length", "transfer-encoding", "trailer")
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class HttpError(Exception):
    """A request that failed: its text is what the extension receives."""


class _Expired(Exception):
    """The request's deadline passed."""


class Limits:
    """The robot's `HTTPClient` settings, as the execution request's `http_client` carries
    them (docs/configuration.md, "HTTP requests from extensions")."""

    __slots__ = ("ca_file", "max_body_size", "max_redirects", "no_proxy", "proxy", "timeout")

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        proxy: str = "",
        no_proxy: tuple[str, ...] = (),
        ca_file: str = "",
    ) -> None:
        self.timeout = timeout  # 0: none
        self.max_body_size = max_body_size  # 0: none
        self.max_redirects = max_redirects
        self.proxy = proxy
        self.no_proxy = no_proxy
        self.ca_file = ca_file

    @classmethod
    def from_params(cls, value: Any) -> Limits:
        """The limits of params["http_client"] (None: the defaults); a malformed value is the
        parent's mistake, refused with `invalid_params`."""
        if value is None:
            return cls()

        def bad(what: str) -> RpcError:
            return RpcError(ErrorCode.INVALID_PARAMS, f"http_client: {what}, got {value!r}")

        if not isinstance(value, dict):
            raise bad("expected a map")
        timeout = value.get("timeout", DEFAULT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise bad("timeout must be seconds (0: none)")
        numbers = []
        for key, default in (
            ("max_body_size", DEFAULT_MAX_BODY_SIZE),
            ("max_redirects", DEFAULT_MAX_REDIRECTS),
        ):
            number = value.get(key, default)
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise bad(f"{key} must be a whole number, 0 or more")
            numbers.append(number)
        proxy, ca_file = value.get("proxy", ""), value.get("ca_file", "")
        no_proxy = value.get("no_proxy", [])
        if not isinstance(proxy, str) or not isinstance(ca_file, str):
            raise bad("proxy and ca_file must be strings")
        if not isinstance(no_proxy, list) or not all(isinstance(h, str) for h in no_proxy):
            raise bad("no_proxy must be a list of strings")
        return cls(float(timeout), numbers[0], numbers[1], proxy, tuple(no_proxy), ca_file)


class Request:
    """One request as an extension asked for it, in the terms of Go's `http.Request`.

    `header_ops` are applied in order to the request's headers, so each binding keeps its
    upstream module's precedence: ("set", name, value) replaces a header, ("default", name,
    value) sets it only when absent, ("cookie", name, value) appends to Cookie as Go's
    AddCookie does, and ("auth", user, password) sets basic authentication.
    """

    __slots__ = ("body", "header_ops", "method", "query", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str,
        *,
        query: str | list[tuple[str, str]] | None = None,
        header_ops: list[tuple[str, str, str]] | None = None,
        body: bytes | None = None,
        timeout: float | str | None = None,
    ) -> None:
        self.method = method.strip().upper() or "GET"
        self.url = url
        # A string replaces the URL's query; pairs are added to it (url.Values, then Encode).
        self.query = query
        self.header_ops = header_ops or []
        self.body = body
        # Seconds or a Go duration string; None or <= 0: the robot's HTTPClient Timeout.
        self.timeout = timeout


class Response:
    """A completed request: what both bindings build their response objects from."""

    __slots__ = ("body", "headers", "reason", "status", "url")

    def __init__(
        self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes, url: str
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # as received, in order; values decoded as UTF-8
        self.body = body
        self.url = url  # the URL of the last request, after redirects

    def grouped_headers(self) -> dict[str, list[str]]:
        """Values per header in Go's canonical form (Content-Type), in order."""
        grouped: dict[str, list[str]] = {}
        for name, value in self.headers:
            grouped.setdefault(canonical_header(name), []).append(value)
        return grouped

    def cookies(self) -> dict[str, str]:
        """The cookies of the Set-Cookie headers, name to value (Go's `Response.Cookies`)."""
        found: dict[str, str] = {}
        for name, value in self.headers:
            if name.lower() != "set-cookie":
                continue
            pair = value.split(";", 1)[0].strip()
            key, equals, text = pair.partition("=")
            key = key.strip()
            if not equals or not key or not set(key) <= _TOKEN:
                continue
            text = text.strip()
            if len(text) > 1 and text[0] == text[-1] == '"':
                text = text[1:-1]
            found[key] = text
        return found


def canonical_header(name: str) -> str:
    """Go's `CanonicalMIMEHeaderKey`: "content-type" is "Content-Type"; a name with a
    character that is not a token character is left as it is."""
    if not name or not set(name) <= _TOKEN:
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def go_duration(text: str) -> float:
    """Seconds of a Go duration ("5s", "1m30s", "250ms"); raises HttpError with Go's text."""
    invalid = HttpError(f'time: invalid duration "{text}"')
    body = text[1:] if text[:1] in "+-" else text
    sign = -1.0 if text[:1] == "-" else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise invalid
    total, i = 0.0, 0
    while i < len(body):
        start = i
        while i < len(body) and (body[i].isdigit() or body[i] == "."):
            i += 1
        number = body[start:i]
        if not number or number == "." or number.count(".") > 1 or not number.isascii():
            raise invalid
        start = i
        while i < len(body) and not (body[i].isdigit() or body[i] == "."):
            i += 1
        unit = body[start:i]
        if unit not in _GO_UNITS:
            if not unit:
                raise HttpError(f'time: missing unit in duration "{text}"')
            raise HttpError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _GO_UNITS[unit]
    return sign * total


def perform(request: Request, limits: Limits, should_stop: Callable[[], bool]) -> Response:
    """Make `request`, following redirects; raise HttpError with Go's text if it fails.

    `should_stop()` is asked between two waits on the network; when it turns true the request
    ends with Canceled. Nothing else escapes: an HttpError is the extension's to handle.
    """
    timeout = _timeout(request.timeout, limits)
    clock = _Clock(None if timeout is None else time.monotonic() + timeout, should_stop)
    op = _url_error_op(request.method)
    url = _build_url(request, op)
    headers = _headers(request.header_ops, op, url)
    method, body = request.method, request.body
    first_host = url.hostname or ""
    own_referer = "referer" in headers
    via = 0
    while True:
        shown = _strip_password(url)
        try:
            response, location = _exchange(method, url, headers, body, limits, clock)
        except _Expired:
            raise HttpError(
                f'{op} "{shown}": context deadline exceeded (timeout {_go_seconds(timeout)})'
            ) from None
        except HttpError as exc:
            raise HttpError(f'{op} "{shown}": {exc}') from None
        if location is None:
            return response
        if via >= limits.max_redirects:
            raise HttpError(f'{op} "{location}": stopped after {limits.max_redirects} redirects')
        via += 1
        try:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(url.geturl(), location))
        except ValueError as exc:
            raise HttpError(f"failed to parse Location header {location!r}: {exc}") from None
        if response.status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", None  # as Go: only 307 and 308 send the body again
            headers = {k: v for k, v in headers.items() if k not in ("content-type",)}
        if not _same_or_subdomain(target.hostname or "", first_host):
            # As Go: credentials go only to the first host or its subdomains.
            headers = {k: v for k, v in headers.items() if k not in _SENSITIVE}
        if own_referer:
            pass  # as Go: an explicit Referer is kept
        elif url.scheme == "https" and target.scheme.lower() != "https":
            headers.pop("referer", None)
        else:
            headers["referer"] = ("Referer", _strip_password(url, mask=False))
        url = _checked_url(target, op, location)


# --- the request ------------------------------------------------------------------------------


def _timeout(value: float | str | None, limits: Limits) -> float | None:
    seconds = go_duration(value) if isinstance(value, str) else value
    if seconds is None or seconds <= 0:
        return limits.timeout or None
    return float(seconds)


def _url_error_op(method: str) -> str:
    """The Op of Go's url.Error: "Get", "Post", ... ("GET" -> "Get")."""
    return method[:1] + method[1:].lower() if method.isascii() else method


def _build_url(request: Request, op: str) -> urllib.parse.SplitResult:
    raw = request.url
    try:
        url = urllib.parse.urlsplit(raw)
    except ValueError as exc:
        raise HttpError(f'parse "{raw}": {exc}') from None
    if request.query is not None:
        if isinstance(request.query, str):
            query = request.query
        else:
            pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True) + request.query
            # url.Values.Encode: sorted by key, each key's values in order.
            pairs.sort(key=lambda pair: pair[0])
            query = urllib.parse.urlencode(pairs)
        url = url._replace(query=query)
    return _checked_url(url, op, raw)


def _checked_url(url: urllib.parse.SplitResult, op: str, raw: str) -> urllib.parse.SplitResult:
    scheme = url.scheme.lower()
    if scheme not in ("http", "https"):
        raise HttpError(f'{op} "{raw}": unsupported protocol scheme "{url.scheme}"')
    if not url.hostname:
        raise HttpError(f'{op} "{raw}": http: no Host in request URL')
    try:
        url.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise HttpError(f'parse "{raw}": {exc}') from None
    return url._replace(scheme=scheme)


def _headers(
    ops: list[tuple[str, str, str]], op: str, url: urllib.parse.SplitResult
) -> dict[str, tuple[str, str]]:
    """The request's headers, lowercased name to (name as sent, value)."""
    headers: dict[str, tuple[str, str]] = {}
    if url.username is not None and url.password is not None:
        # As Go: credentials in the URL are basic authentication, unless a header says otherwise.
        ops = [("auth", url.username, url.password), *ops]
    for kind, name, value in ops:
        if kind == "auth":
            token = _basic(name, value)
            headers["authorization"] = ("Authorization", token)
            continue
        if kind == "cookie":
            cookie = f"{_cookie_part(name)}={_cookie_value(value)}"
            existing = headers.get("cookie")
            joined = f"{existing[1]}; {cookie}" if existing else cookie
            headers["cookie"] = (existing[0] if existing else "Cookie", joined)
            continue
        if not name or not set(name) <= _TOKEN:
            raise HttpError(
                f'{op} "{_strip_password(url)}": net/http: invalid header field name {name!r}'
            )
        if any(c in value for c in "\r\n\0"):
            raise HttpError(
                f'{op} "{_strip_password(url)}": net/http: invalid header field value for {name!r}'
            )
        key = name.lower()
        if kind == "default" and key in headers:
            continue
        headers[key] = (canonical_header(name), value)
    return headers


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _cookie_part(text: str) -> str:
    return "".join(c for c in text if c in _TOKEN)


def _cookie_value(text: str) -> str:
    """Go's sanitizeCookieValue: bytes a cookie value cannot hold are dropped, and a value
    with a space or a comma is quoted."""
    kept = "".join(c for c in text if 0x20 <= ord(c) < 0x7F and c not in '";\\')
    return f'"{kept}"' if (" " in kept or "," in kept) else kept


def _strip_password(url: urllib.parse.SplitResult, mask: bool = True) -> str:
    """The URL as Go shows it in an error: a password as "***" (or, unmasked, dropped)."""
    if url.password is None:
        return url.geturl()
    host = url.netloc.rpartition("@")[2]
    user = url.netloc.rpartition("@")[0].partition(":")[0]
    netloc = f"{user}:***@{host}" if mask else host
    return url._replace(netloc=netloc).geturl()


def _same_or_subdomain(host: str, first: str) -> bool:
    host, first = host.lower(), first.lower()
    return host == first or host.endswith("." + first)


def _go_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


# --- one exchange ----------------------------------------------------------------------------


def _exchange(
    method: str,
    url: urllib.parse.SplitResult,
    headers: dict[str, tuple[str, str]],
    body: bytes | None,
    limits: Limits,
    clock: _Clock,
) -> tuple[Response, str | None]:
    """One request and its response; the Location to follow, if it is a redirect."""
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    proxy = _proxy_for(host, limits)
    target = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
    sent = dict(headers)
    conn: http.client.HTTPConnection
    if proxy is None:
        conn = _connection(url.scheme, host, port, clock, limits)
    else:
        proxy_host, proxy_port, proxy_auth = proxy
        conn = _connection(url.scheme, proxy_host, proxy_port, clock, limits)
        if url.scheme == "https":
            tunnel = {"Proxy-Authorization": proxy_auth} if proxy_auth else None
            conn.set_tunnel(host, port, headers=tunnel)
        else:
            netloc = _join(host, port) if url.port else (f"[{host}]" if ":" in host else host)
            target = urllib.parse.urlunsplit((url.scheme, netloc, url.path or "/", url.query, ""))
            if proxy_auth:
                sent["proxy-authorization"] = ("Proxy-Authorization", proxy_auth)
    try:
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            sent.setdefault("user-agent", ("User-Agent", USER_AGENT))
            for key, (name, value) in sent.items():
                if key not in _NOT_SENT:
                    conn.putheader(name, value.encode("utf-8"))
            if body is not None or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body or None)
            answer = conn.getresponse()
            response = _read(answer, url, limits)
        except (OSError, http.client.HTTPException) as exc:
            raise HttpError(_describe(exc, host, port, proxy is not None)) from None
    finally:
        conn.close()
    location = None
    if response.status in (301, 302, 303, 307, 308):
        location = answer.getheader("Location")
        if not location:
            location = None  # as Go: a redirect without Location is the response
    return response, location


def _read(
    answer: http.client.HTTPResponse, url: urllib.parse.SplitResult, limits: Limits
) -> Response:
    limit = limits.max_body_size
    length = answer.getheader("Content-Length")
    too_large = HttpError(
        f"the response body is larger than the {_size(limit)} limit (HTTPClient MaxBodySize)"
    )
    if limit and length and length.strip().isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    while chunk := answer.read(_CHUNK):
        size += len(chunk)
        if limit and size > limit:
            raise too_large
        chunks.append(chunk)
    headers = [
        (name, value.encode("latin-1").decode("utf-8", "replace"))
        for name, value in answer.getheaders()
    ]
    return Response(answer.status, answer.reason, headers, b"".join(chunks), url.geturl())


def _size(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def _describe(exc: OSError | http.client.HTTPException, host: str, port: int, proxied: bool) -> str:
    """Go's words for a failed exchange."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: x509: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc.reason or exc}"
    if isinstance(exc, _DialError):
        return str(exc)
    if isinstance(exc, http.client.RemoteDisconnected):
        return "EOF"
    if isinstance(exc, http.client.IncompleteRead):
        return "unexpected EOF"
    if isinstance(exc, http.client.BadStatusLine):
        return f"malformed HTTP response {(exc.args or [''])[0]!r}"
    if isinstance(exc, http.client.HTTPException):
        return f"net/http: {exc}"
    if proxied and "Tunnel connection failed" in str(exc):
        return f"proxyconnect tcp: {exc}"
    if exc.errno is not None:
        return f"read tcp {_join(host, port)}: {_strerror(exc.errno)}"
    return f"net/http: {exc}"


def _strerror(number: int) -> str:
    text = os.strerror(number)
    return text[:1].lower() + text[1:]


# --- proxies and TLS ----------------------------------------------------------------------


def _proxy_for(host: str, limits: Limits) -> tuple[str, int, str] | None:
    """(host, port, Proxy-Authorization) of the proxy for `host`, or None to go direct."""
    if not limits.proxy:
        return None
    name = host.lower().rstrip(".")
    if name == "localhost" or _loopback(name):
        return None  # as Go's ProxyFromEnvironment: loopback is never proxied
    for rule in limits.no_proxy:
        rule = rule.strip().lower()
        if rule == "*" or _no_proxy_match(name, rule):
            return None
    proxy = urllib.parse.urlsplit(limits.proxy)
    auth = ""
    if proxy.username is not None:
        auth = _basic(
            urllib.parse.unquote(proxy.username), urllib.parse.unquote(proxy.password or "")
        )
    return proxy.hostname or "", proxy.port or 80, auth


def _loopback(name: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _no_proxy_match(name: str, rule: str) -> bool:
    if "/" in rule:
        import ipaddress

        try:
            return ipaddress.ip_address(name.strip("[]")) in ipaddress.ip_network(
                rule, strict=False
            )
        except ValueError:
            return False
    rule = rule.rstrip(".")
    if rule.startswith("."):
        return name.endswith(rule)  # subdomains only
    return name == rule or name.endswith("." + rule)


_contexts: dict[str, ssl.SSLContext] = {}


def _tls_context(ca_file: str) -> ssl.SSLContext:
    """A verifying client context trusting the system's certificates and `ca_file`."""
    context = _contexts.get(ca_file)
    if context is not None:
        return context
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    paths = ssl.get_default_verify_paths()
    # OpenSSL's compiled-in locations, not SSL_CERT_FILE or SSL_CERT_DIR (see the docstring).
    cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None
    capath = paths.openssl_capath if os.path.isdir(paths.openssl_capath) else None
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    else:
        context.load_default_certs()  # a Python without OpenSSL's locations: its own default
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise HttpError(f"tls: cannot load the HTTPClient CAFile {ca_file}: {exc}") from None
    _contexts[ca_file] = context
    return context


# --- sockets with a deadline ------------------------------------------------------------------


class _Clock:
    """The request's deadline and the execution's stop flag, asked before each wait."""

    __slots__ = ("deadline", "should_stop")

    def __init__(self, deadline: float | None, should_stop: Callable[[], bool]) -> None:
        self.deadline = deadline
        self.should_stop = should_stop

    def left(self) -> float:
        """Seconds until the deadline (a large number when none); raises when it has passed
        or the execution is to stop."""
        if self.should_stop():
            raise Canceled()
        if self.deadline is None:
            return 86400.0
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Expired()
        return left

    def slice(self) -> float:
        return min(self.left(), _SLICE)


class _DialError(OSError):
    """Connecting failed; the text is Go's (dial tcp ...)."""


def _connection(
    scheme: str, host: str, port: int, clock: _Clock, limits: Limits
) -> http.client.HTTPConnection:
    conn: http.client.HTTPConnection
    if scheme == "https":
        context = _tls_context(limits.ca_file)
        conn = http.client.HTTPSConnection(host, port, context=_deadline_context(context, clock))
    else:
        conn = http.client.HTTPConnection(host, port)

    def create_connection(address: tuple[str, int], *_: Any) -> socket.socket:
        return _dial(address[0], address[1], clock)

    conn._create_connection = create_connection  # type: ignore[attr-defined]
    return conn


def _dial(host: str, port: int, clock: _Clock) -> socket.socket:
    """Resolve and connect within the deadline, as socket.create_connection would."""
    addresses = _resolve(host, port, clock)
    last: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = _DeadlineSocket(family, kind, proto)
        sock.clock = clock
        try:
            _connect(sock, address, clock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
        except BaseException:
            sock.close()
            raise
    why = _strerror(last.errno) if last is not None and last.errno else str(last)
    raise _DialError(f"dial tcp {_join(host, port)}: connect: {why}")


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _resolve(host: str, port: int, clock: _Clock) -> list[Any]:
    """getaddrinfo within the deadline: on a thread, since the resolver cannot be interrupted
    (a resolver that never answers is left behind; the child is one-shot)."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        pass  # a name, not an address
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            outcome.append(exc)

    done = threading.Thread(target=lookup, name="burrow-http-resolve", daemon=True)
    done.start()
    while done.is_alive():
        done.join(clock.slice())
    result = outcome[0]
    if isinstance(result, OSError):
        if isinstance(result, socket.gaierror) and result.errno in (
            socket.EAI_NONAME,
            getattr(socket, "EAI_NODATA", socket.EAI_NONAME),
        ):
            raise _DialError(f"dial tcp: lookup {host}: no such host")
        raise _DialError(f"dial tcp: lookup {host}: {result}")
    return list(result)


def _connect(sock: socket.socket, address: Any, clock: _Clock) -> None:
    sock.setblocking(False)
    err = sock.connect_ex(address)
    if err not in (0, errno.EINPROGRESS):
        raise OSError(err, os.strerror(err))
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    while err:
        if poller.poll(clock.slice() * 1000):
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            break
    sock.settimeout(_SLICE)  # blocking again; each wait sets its own timeout


class _DeadlineSocket(socket.socket):
    """A TCP socket whose reads wait in slices, within the request's deadline."""

    __slots__ = ("clock",)
    clock: _Clock

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        while True:
            super().settimeout(self.clock.slice())
            try:
                return super().recv_into(buffer, nbytes, flags)
            except TimeoutError:
                continue

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().settimeout(self.clock.left())
        try:
            super().sendall(data, flags)
        except TimeoutError:
            raise _Expired() from None


def _deadline_context(context: ssl.SSLContext, clock: _Clock) -> ssl.SSLContext:
    """`context`, its sockets bound to this request's clock."""

    class Bound(_DeadlineSSLSocket):
        pass

    Bound.clock = clock
    context.sslsocket_class = Bound
    return context


class _DeadlineSSLSocket(ssl.SSLSocket):
    """A TLS socket whose handshake and reads wait in slices, within the deadline."""

    clock: _Clock

    def do_handshake(self, block: bool = False) -> None:
        while True:
            super().settimeout(self.clock.slice())
            try:
                super().do_handshake()
                return
            except TimeoutError:
                continue

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        while True:
            super().settimeout(self.clock.slice())
            try:
                return super().recv_into(buffer, nbytes, flags)
            except TimeoutError:
                continue

    def sendall(self, data: Any, flags: int = 0) -> None:
        super().settimeout(self.clock.left())
        try:
            super().sendall(data, flags)
        except TimeoutError:
            raise _Expired() from None
