"""Chat connectors: the contract, the built-in terminal and test connectors, and discovery.

Third-party connectors register through the entry-point group `burrow.connectors`: the entry
point names a module defining `register_connectors(register)`, which calls
`register(name, factory)` with a factory taking the connector's protocol configuration.
Built-ins are registered the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from burrow.connectors.base import Connector, ConnectorFactory

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
    """Every connector available: built-ins, then entry points (one broken one is skipped)."""
    found: dict[str, ConnectorFactory] = {}

    def register(name: str, factory: ConnectorFactory) -> None:
        if name in found:
            raise ValueError(f"connector {name!r} is already registered")
        found[name] = factory

    register_connectors(register)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load().register_connectors(register)
        except Exception as exc:  # noqa: BLE001 - one broken connector must not stop the robot
            log.error("connector entry point %r failed to load: %s", ep.name, exc)
    return found
