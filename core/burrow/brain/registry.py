"""Brain providers by name: built-ins and plugins register the same way, then one is made."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from burrow.brain.provider import BrainError, BrainFactory, BrainProvider

__all__ = ["BrainRegistry", "RegisterBrain", "builtin_registry"]

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class RegisterBrain(Protocol):
    """The `register` callable passed to the `register_brains` hook."""

    def __call__(self, name: str, factory: BrainFactory) -> None:
        """Offer provider `name` (the value of `Brain:` in robot.yaml), made by `factory`."""


@dataclass(frozen=True)
class _Entry:
    factory: BrainFactory
    source: str


class BrainRegistry:
    """Every brain provider the robot can use, and who supplied it."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def registrar(self, source: str) -> RegisterBrain:
        """A `register` callable that records `source` (a distribution name) for what it adds."""

        def register(name: str, factory: BrainFactory) -> None:
            self.register(name, factory, source=source)

        return register

    def register(self, name: str, factory: BrainFactory, *, source: str = "burrowbot") -> None:
        """Add provider `name`; a bad or duplicate name raises `BrainError`."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise BrainError(f"{source}: brain name {name!r} must match [a-z][a-z0-9_]*")
        if not callable(factory):
            raise BrainError(f"{source}: brain {name!r}: factory {factory!r} is not callable")
        if name in self._entries:
            raise BrainError(
                f"{source}: brain {name!r} is already registered by {self._entries[name].source}"
            )
        self._entries[name] = _Entry(factory, source)

    def names(self) -> dict[str, str]:
        """Each registered provider name with the distribution that supplied it."""
        return {name: entry.source for name, entry in sorted(self._entries.items())}

    def create(self, name: str, config: Mapping[str, Any], state_dir: Path) -> BrainProvider:
        """Make the unopened provider that robot.yaml's `Brain: name` asks for."""
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise BrainError(
                f"Brain: unknown brain provider {name!r} (known: {known}); "
                "fix Brain in robot.yaml or install the distribution that provides it"
            )
        return entry.factory(config, state_dir)


def builtin_registry() -> BrainRegistry:
    """A registry holding only the providers shipped with Burrow (`sqlite`, `memory`)."""
    from burrow.brain import builtin

    registry = BrainRegistry()
    builtin.register_brains(registry.registrar("burrowbot"))
    return registry


ENTRY_POINT_GROUP = "burrow.brains"


def discover_brains() -> BrainRegistry:
    """The built-in providers plus those of installed distributions (group `burrow.brains`).

    Each entry point names a module with `register_brains(register)`; one that fails to load
    is logged and skipped, never fatal.
    """
    import logging

    from burrow.brain import builtin
    from burrow.plugins import load_plugins

    registry = BrainRegistry()
    errors = load_plugins(
        ENTRY_POINT_GROUP,
        "register_brains",
        lambda name, dist, version: registry.registrar(dist or name),
        builtins=[("builtin", builtin)],
    )
    for error in errors:
        logging.getLogger(__name__).error(
            "brain plugin %r (%s) failed: %s", error.entry_point, error.distribution, error.error
        )
    return registry
