"""The one plugin loader behind bindings, connectors and brains."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

from burrow.brain.registry import discover_brains
from burrow.connectors import connector_factories
from burrow.plugins import load_plugins


def test_builtins_go_through_the_same_hook_as_plugins() -> None:
    assert {"terminal", "test"} <= set(connector_factories())
    assert {"sqlite", "memory"} <= set(discover_brains().names())


def test_each_plugin_gets_its_own_register_and_one_failure_stays_its_own() -> None:
    def good(register):
        register("good-thing")

    def bad(register):
        register("half")
        raise RuntimeError("broken halfway")

    modules = {}
    for name, hook in (("fake_conn_good", good), ("fake_conn_bad", bad)):
        module = types.ModuleType(name)
        module.register_connectors = hook
        sys.modules[name] = modules[name] = module
    try:
        seen: list[tuple[str, str]] = []
        eps = [EntryPoint(name=n.removeprefix("fake_conn_"), value=n, group="x") for n in modules]
        errors = load_plugins(
            "x",
            "register_connectors",
            lambda name, dist, version: lambda what: seen.append((name, what)),
            eps=eps,
        )
    finally:
        for name in modules:
            sys.modules.pop(name)
    assert ("good", "good-thing") in seen
    assert [(e.entry_point, e.error) for e in errors] == [("bad", "RuntimeError: broken halfway")]
