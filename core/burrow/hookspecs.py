"""Burrow's plugin hooks: bindings, connectors and brains register through these.

A distribution exposes a module under the entry-point group `burrow.bindings` (connectors and
brains follow in their own groups). The module defines functions named after these hooks.
Decorating them with `burrow.hookspecs.hookimpl` is optional: a binding's registration module
is imported by every child, and leaving pluggy out of it keeps child start-up fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from burrow.brain.registry import RegisterBrain

hookspec = pluggy.HookspecMarker("burrow")
hookimpl = pluggy.HookimplMarker("burrow")


class RegisterBinding(Protocol):
    """The `register` callable passed to `register_bindings`."""

    def __call__(
        self,
        name: str,
        *,
        suffixes: list[str],
        methods: dict[str, str],
        prepare: str | None = None,
    ) -> None:
        """Register binding `name` for files ending in `suffixes`, serving `methods`.

        `prepare` (optional, "module:function") is called with the `$/hello` params in a spare
        child, before any request, to set up the binding's runtime (docs/bindings.md).
        """


@hookspec
def register_bindings(register: RegisterBinding) -> None:
    """Register language bindings: `register(name, suffixes=[...], methods={method: "mod:fn"})`.

    Optionally `prepare="mod:fn"`: what a spare child runs before its request arrives.
    """


@hookspec
def register_connectors(register: object) -> None:
    """Register connectors: `register(name, factory)`; factory(protocol_config) -> Connector."""


@hookspec
def register_brains(register: RegisterBrain) -> None:
    """Register brain providers: `register(name, factory)`; factory(config, state_dir)."""
