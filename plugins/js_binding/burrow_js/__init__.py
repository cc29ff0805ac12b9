"""Registration of the `js` binding; the runtime lives in burrow_js.runtime.

Every child imports this module, so it imports nothing: mini-racer and V8 are loaded by
burrow_js.runtime only when a JavaScript execution actually runs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # like burrow.child: `typing` costs a one-shot child start-up time
if TYPE_CHECKING:
    from burrow.hookspecs import RegisterBinding

__all__ = ["register_bindings"]


def register_bindings(register: RegisterBinding) -> None:
    """Register the `js` binding for `.js` files."""
    register(
        "js",
        suffixes=[".js"],
        methods={
            "js_run": "burrow_js.runtime:run",
            "js_get_config": "burrow_js.runtime:get_config",
        },
        # A spare child starts V8 (isolate, context, bridge) before the request arrives.
        prepare="burrow_js.runtime:prepare",
    )
