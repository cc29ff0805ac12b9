"""Registration of the `test` binding; the behaviours live in burrow_testbinding.behaviours."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from burrow.hookspecs import RegisterBinding


def register_bindings(register: RegisterBinding) -> None:
    """Register the `test` binding for `.test` files."""
    register(
        "test",
        suffixes=[".test"],
        methods={
            "test_run": "burrow_testbinding.behaviours:run",
            "test_get_config": "burrow_testbinding.behaviours:get_config",
        },
    )
