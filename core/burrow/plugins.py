"""Loading plugin distributions through the hook specs: one entry-point group per hook.

Each entry point names a module defining a registration hook (`register_bindings`,
`register_connectors`, `register_brains`). Every plugin is loaded and called on its own, so a
broken one is recorded with the reason and never stops the others, and whatever it registers
is attributed to the distribution that supplied it. Built-ins go through the same path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from burrow import hookspecs

_HOOKS = frozenset(name for name, value in vars(hookspecs).items() if hasattr(value, "burrow_spec"))


@dataclass(frozen=True)
class LoadError:
    """A plugin entry point that could not be loaded or registered, and why."""

    entry_point: str
    distribution: str
    error: str


class _PluginManager(pluggy.PluginManager):
    """Accepts undecorated hook functions, as pytest accepts undecorated `pytest_*` ones.

    A binding's registration module is imported by every child; not importing pluggy there
    saves each child about 15 ms, so the `hookimpl` decorator is optional.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name in _HOOKS and inspect.isroutine(getattr(plugin, name, None)):
            return pluggy.HookimplOpts(
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts


# Called per plugin with (entry-point name, distribution, version); returns the `register`
# callable that plugin's hook receives.
RegisterFactory = Callable[[str, str, str], Callable[..., Any]]


def _identity(module: object) -> object:
    return module


def load_plugins(
    group: str,
    hook: str,
    make_register: RegisterFactory,
    *,
    builtins: Sequence[tuple[str, object]] = (),
    selected: set[str] | None = None,
    eps: Iterable[EntryPoint] | None = None,
) -> list[LoadError]:
    """Call `hook` of the built-ins, then of every plugin in entry-point `group`, each alone."""
    manager = _PluginManager("burrow")
    manager.add_hookspecs(hookspecs)
    errors: list[LoadError] = []
    candidates: list[tuple[str, str, str, Callable[[], object]]] = [
        (name, "burrowbot", "", functools.partial(_identity, module)) for name, module in builtins
    ]
    found = entry_points(group=group) if eps is None else eps
    for ep in sorted(found, key=lambda e: e.name):
        if selected is not None and ep.name not in selected:
            continue
        dist = ep.dist.name if ep.dist is not None else ""
        version = ep.dist.version if ep.dist is not None else ""
        candidates.append((ep.name, dist, version, ep.load))
    for name, dist, version, load in candidates:
        try:
            plugin = load()
            manager.register(plugin, name=f"{group}:{name}")
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the robot
            errors.append(LoadError(name, dist, f"{type(exc).__name__}: {exc}"))
            continue
        impls = [i for i in getattr(manager.hook, hook).get_hookimpls() if i.plugin is plugin]
        if not impls:
            errors.append(LoadError(name, dist, f"defines no {hook} hook"))
            continue
        try:
            register = make_register(name, dist, version)
            for impl in impls:
                impl.function(register=register)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the robot
            errors.append(LoadError(name, dist, f"{type(exc).__name__}: {exc}"))
    return errors
