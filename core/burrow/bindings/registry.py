"""The parent's binding registry: one entry-point scan, each binding loaded in isolation."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

import pluggy

from burrow import hookspecs
from burrow.bindings.spec import ENTRY_POINT_GROUP, Binding, BindingError, Collector

SELECT_ENV = "BURROW_BINDINGS"


@dataclass(frozen=True)
class LoadError:
    """A binding entry point that could not be loaded or registered, and why."""

    entry_point: str
    distribution: str
    error: str


class _PluginManager(pluggy.PluginManager):
    """Accepts undecorated hook functions, as pytest accepts undecorated `pytest_*` ones."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if (
            opts is None
            and name == "register_bindings"
            and inspect.isroutine(getattr(plugin, name, None))
        ):
            return pluggy.HookimplOpts(
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts


def selected_names(environ: Mapping[str, str]) -> set[str] | None:
    """Which bindings `BURROW_BINDINGS` allows: None = all, empty set = none."""
    value = environ.get(SELECT_ENV)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


@dataclass
class BindingRegistry:
    """Every binding the parent may use, by name, suffix and method, plus load failures."""

    bindings: dict[str, Binding] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)

    @classmethod
    def discover(
        cls,
        environ: Mapping[str, str] | None = None,
        eps: list[EntryPoint] | None = None,
    ) -> BindingRegistry:
        """Scan the `burrow.bindings` entry points once; a broken one is recorded, not raised."""
        selected = selected_names(os.environ if environ is None else environ)
        registry = cls()
        manager = _PluginManager("burrow")
        manager.add_hookspecs(hookspecs)
        found = list(entry_points(group=ENTRY_POINT_GROUP)) if eps is None else eps
        for ep in sorted(found, key=lambda e: e.name):
            if selected is not None and ep.name not in selected:
                continue
            dist = ep.dist.name if ep.dist is not None else ""
            version = ep.dist.version if ep.dist is not None else ""
            try:
                plugin = ep.load()
                manager.register(plugin, name=f"{ENTRY_POINT_GROUP}:{ep.name}")
            except Exception as exc:  # noqa: BLE001 - one broken binding must not stop the robot
                registry.errors.append(LoadError(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                continue
            registry._register_from(manager, plugin, ep, dist, version)
        return registry

    def _register_from(
        self, manager: pluggy.PluginManager, plugin: object, ep: EntryPoint, dist: str, version: str
    ) -> None:
        # Each plugin's hook is called on its own so every binding is attributed to the
        # distribution that supplied it and one failure stays that plugin's failure.
        collector = Collector(dist, version)
        impls = [
            impl for impl in manager.hook.register_bindings.get_hookimpls() if impl.plugin is plugin
        ]
        if not impls:
            self.errors.append(LoadError(ep.name, dist, "defines no register_bindings hook"))
            return
        try:
            for impl in impls:
                impl.function(register=collector)
        except Exception as exc:  # noqa: BLE001 - one broken binding must not stop the robot
            self.errors.append(LoadError(ep.name, dist, f"{type(exc).__name__}: {exc}"))
            return
        for binding in collector.bindings:
            if binding.name != ep.name:
                self.errors.append(
                    LoadError(
                        ep.name,
                        dist,
                        f"registered binding {binding.name!r} under entry point {ep.name!r}; "
                        "a binding must be registered under an entry point of its own name",
                    )
                )
            elif binding.name in self.bindings:
                other = self.bindings[binding.name].distribution
                self.errors.append(
                    LoadError(
                        ep.name, dist, f"binding {binding.name!r} already registered by {other}"
                    )
                )
            else:
                self.bindings[binding.name] = binding

    def for_path(self, path: str) -> Binding:
        """The binding that runs the extension file `path`, chosen by its suffix."""
        for binding in self.bindings.values():
            if any(path.endswith(suffix) for suffix in binding.suffixes):
                return binding
        known = sorted(s for b in self.bindings.values() for s in b.suffixes)
        raise BindingError(
            f"no installed binding runs {os.path.basename(path)!r}; suffixes with a binding: "
            f"{known or 'none'} (see `burrow bindings`)"
        )
