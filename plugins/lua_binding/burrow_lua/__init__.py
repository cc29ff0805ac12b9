"""Registration of the `lua` binding; the execution itself lives in burrow_lua.runtime.

Every child imports this module to learn what the binding serves, so it imports nothing:
lupa is loaded only by `burrow_lua.runtime`, when a Lua execution actually runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from burrow.hookspecs import RegisterBinding

__all__ = ["register_bindings"]


def register_bindings(register: RegisterBinding) -> None:
    """Register the `lua` binding for `.lua` files."""
    register(
        "lua",
        suffixes=[".lua"],
        methods={
            "lua_run": "burrow_lua.runtime:run",
            "lua_get_config": "burrow_lua.runtime:get_config",
        },
        # A spare child builds its sandboxed Lua state before the request arrives.
        prepare="burrow_lua.runtime:prepare",
    )
