"""Registration of the `go` binding; building and running live in burrow_go.runtime.

Every child imports this module to learn what the binding serves, so it imports nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from burrow.hookspecs import RegisterBinding

__all__ = ["register_bindings"]


def register_bindings(register: RegisterBinding) -> None:
    """Register the `go` binding for `.go` files."""
    register(
        "go",
        suffixes=[".go"],
        methods={
            "go_run": "burrow_go.runtime:run",
            "go_get_config": "burrow_go.runtime:get_config",
        },
        prepare="burrow_go.runtime:prepare",
    )
