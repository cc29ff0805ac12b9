"""Values between Lua and the wire: Lua tables to lists and maps, and back, never leaking objects.

Lua has one container, so the rules are explicit (docs/lua.md, "Values"):
- a table whose keys are exactly 1..n (n >= 1) is a list; any other table, the empty one
  included, is a map; map keys that are not strings become strings (JSON-compatible datums);
- nil is None; integers stay integers and floats floats; a Python int too large for Lua
  becomes a float;
- functions, coroutines and any other object cannot travel and raise `ValueError`.

Python to Lua builds only Lua tables, strings, numbers and booleans, so an extension never
receives a Python object it could poke at.
"""

from __future__ import annotations

from lupa.lua54 import LUA_MAXINTEGER, LUA_MININTEGER, lua_type

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any

    from lupa.lua54 import LuaRuntime

# Deep enough for any real datum, shallow enough to stop a self-referencing table quickly.
MAX_DEPTH = 100


def to_python(value: Any, depth: int = 0) -> Any:
    """Convert a value received from Lua into msgpack-ready Python data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    kind = lua_type(value)
    if kind != "table":
        raise ValueError(
            f"a {kind or 'foreign'} value cannot be sent (only nil, booleans, numbers, strings "
            "and tables can)"
        )
    if depth >= MAX_DEPTH:
        raise ValueError(f"a table nests deeper than {MAX_DEPTH} levels (does it contain itself?)")
    try:
        items = list(value.items())
    except UnicodeDecodeError as exc:
        raise ValueError(f"a string in a table is not valid UTF-8 ({exc.reason})") from None
    count = len(items)
    if count and all(type(k) is int and 1 <= k <= count for k, _ in items):
        # Keys are distinct, so n integer keys all within 1..n are exactly 1..n.
        sequence: list[Any] = [None] * count
        for key, item in items:
            sequence[key - 1] = to_python(item, depth + 1)
        return sequence
    return {_key(key): to_python(item, depth + 1) for key, item in items}


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return repr(key)
    raise ValueError(f"a table key of type {lua_type(key) or 'foreign'} cannot be sent")


def to_lua(runtime: LuaRuntime, value: Any) -> Any:
    """Convert wire data (a robot call's result) into Lua values."""
    if value is None or isinstance(value, (bool, str, float, bytes)):
        return value
    if isinstance(value, int):
        return value if LUA_MININTEGER <= value <= LUA_MAXINTEGER else float(value)
    if isinstance(value, dict):
        return runtime.table_from(
            {
                k if isinstance(k, (str, int, float, bytes)) else str(k): to_lua(runtime, v)
                for k, v in value.items()
                if k is not None
            }
        )
    if isinstance(value, (list, tuple)):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    # Anything else (a msgpack extension type, say) arrives as text rather than as an object.
    return str(value)
