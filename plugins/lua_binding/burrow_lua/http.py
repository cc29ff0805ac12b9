"""The Python side of Lua's `require("http")`: one request, as lua/http.lua asks for it.

lua/http.lua reads the extension's options (raw, as gluahttp does) and calls `fetch` with
plain values only; the request itself is burrow.child.http_client's. The response is the
table of gluahttp's `http.response`: body (the bytes as they came), body_size, headers (one
value per header, in Go's canonical form), cookies, status_code and url. Imported only when
an extension makes its first request (docs/lua.md, "http").
"""

from __future__ import annotations

from burrow.child import http_client
from burrow_lua._convert import to_python

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any

    from lupa.lua54 import LuaRuntime

    from burrow.child.context import ExecutionContext

__all__ = ["fetch"]


def fetch(
    runtime: LuaRuntime,
    ctx: ExecutionContext,
    limits: http_client.Limits,
    method: str,
    url: str,
    query: str | None,
    header_ops: Any,
    body: str | None,
    body_is_hex: bool,
    timeout: float | str | None,
) -> Any:
    """The response table, or (None, Go's error text)."""
    flat = to_python(header_ops) if header_ops is not None else []
    ops = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
    data = None
    if body is not None:
        data = bytes.fromhex(body) if body_is_hex else body.encode("utf-8")
    request = http_client.Request(
        method, url, query=query, header_ops=ops, body=data, timeout=timeout
    )
    try:
        response = http_client.perform(request, limits, lambda: ctx.canceled)
    except http_client.HttpError as exc:
        return None, str(exc)
    table = runtime.table_from
    return table(
        {
            "body": response.body,
            "body_size": len(response.body),
            # Go's Header.Get: the first value of each header.
            "headers": table({k: v[0] for k, v in response.grouped_headers().items()}),
            "cookies": table(response.cookies()),
            "status_code": response.status,
            "url": response.url,
        }
    )
