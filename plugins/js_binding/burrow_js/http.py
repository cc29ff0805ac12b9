"""The Python side of JavaScript's `require("http")`: one request, as js/http.js asks for it.

js/http.js reads the extension's options as upstream's goja module does and sends one plain
request through the bridge (`{"op": "http", ...}`); the request itself is
burrow.child.http_client's. The answer is `{"response": {...}}` in upstream's JavaScript
shape (without `json`, which http.js parses), or `{"error": text}`, which http.js throws as
a GoError. Imported only when an extension makes its first request (docs/javascript.md, "http").
"""

from __future__ import annotations

from burrow.child import http_client

TYPE_CHECKING = False  # like burrow.child: `typing` costs a one-shot child start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["serve"]

_OPS = ("set", "default", "cookie", "auth")


class BadRequest(ValueError):
    """A request http.js would never send (an extension reshaped it): thrown in JavaScript."""


def serve(
    message: dict[str, Any], limits: http_client.Limits, should_stop: Callable[[], bool]
) -> dict[str, Any]:
    """Make the request of `message`; answer the response or the error."""
    request = _request(message)
    try:
        response = http_client.perform(request, limits, should_stop)
    except http_client.HttpError as exc:
        return {"error": str(exc)}
    return {
        "response": {
            "body": response.body.decode("utf-8", "replace"),
            "bodySize": len(response.body),
            # Go's header map, lowercased: each name once, its values joined with ", ".
            "headers": {
                name.lower(): ", ".join(values)
                for name, values in response.grouped_headers().items()
            },
            "cookies": response.cookies(),
            "statusCode": response.status,
            "statusText": response.reason.strip(),
            "ok": 200 <= response.status < 400,
            "url": response.url,
        }
    }


def _request(message: dict[str, Any]) -> http_client.Request:
    method, url = message.get("method"), message.get("url")
    if not isinstance(method, str) or not isinstance(url, str):
        raise BadRequest("http: method and url must be strings")
    query = message.get("query")
    if isinstance(query, list):
        if not all(_strings(pair, 2) for pair in query):
            raise BadRequest("http: query pairs must be [name, value] strings")
        query = [(name, value) for name, value in query]
    elif query is not None and not isinstance(query, str):
        raise BadRequest("http: query must be a string or a list of pairs")
    ops = message.get("ops") or []
    if not isinstance(ops, list) or not all(_strings(op, 3) and op[0] in _OPS for op in ops):
        raise BadRequest("http: header operations must be [kind, name, value] strings")
    body, data = message.get("body"), message.get("bytes")
    content: bytes | None = None
    if isinstance(body, str):
        content = body.encode("utf-8")
    elif isinstance(data, list):
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in data):
            raise BadRequest("http: body bytes must be numbers from 0 to 255")
        content = bytes(data)
    elif body is not None or data is not None:
        raise BadRequest("http: the body must be a string or bytes")
    timeout = message.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float, str))
    ):
        raise BadRequest("http: timeout must be seconds or a duration string")
    return http_client.Request(
        method,
        url,
        query=query,
        header_ops=[(kind, name, value) for kind, name, value in ops],
        body=content,
        timeout=timeout,
    )


def _strings(value: Any, count: int) -> bool:
    return (
        isinstance(value, list) and len(value) == count and all(isinstance(v, str) for v in value)
    )
