"""Chat connectors: the contract, the built-in terminal and test connectors, and discovery.

Third-party connectors register through the entry-point group `burrow.connectors`: the entry
point names a module defining `register_connectors(register)`, which calls
`register(name, factory)` with a factory taking the connector's protocol configuration.
Built-ins are registered the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from burrow.connectors.base import Connector, ConnectorFactory
from burrow.plugins import load_plugins

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "burrow.connectors"


def _terminal(config: Mapping[str, Any]) -> Connector:
    from burrow.connectors.terminal import TerminalConnector

    return TerminalConnector(config)


def _test(config: Mapping[str, Any]) -> Connector:
    from burrow.connectors.testing import TestConnector

    return TestConnector(config)


def register_connectors(register: Any) -> None:
    """Register the built-in connectors."""
    register("terminal", _terminal)
    register("test", _test)


def connector_factories() -> dict[str, ConnectorFactory]:
    """Every connector available: built-ins, then entry points (a broken one is logged)."""
    import sys

    found: dict[str, ConnectorFactory] = {}

    def make_register(
        name: str, dist: str, version: str
    ) -> Callable[[str, ConnectorFactory], None]:
        def register(protocol: str, factory: ConnectorFactory) -> None:
            if protocol in found:
                raise ValueError(f"connector {protocol!r} is already registered")
            found[protocol] = factory

        return register

    errors = load_plugins(
        ENTRY_POINT_GROUP,
        "register_connectors",
        make_register,
        builtins=[("builtin", sys.modules[__name__])],
    )
    for error in errors:
        log.error(
            "connector plugin %r (%s) failed: %s",
            error.entry_point,
            error.distribution,
            error.error,
        )
    return found
