"""The parent's binding registry: one entry-point scan, each binding loaded in isolation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint

from burrow.bindings.spec import ENTRY_POINT_GROUP, Binding, BindingError, Collector
from burrow.plugins import LoadError, load_plugins

SELECT_ENV = "BURROW_BINDINGS"


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
        registry = cls()
        collectors: dict[str, Collector] = {}

        def make_register(name: str, dist: str, version: str) -> Collector:
            collectors[name] = Collector(dist, version)
            return collectors[name]

        registry.errors = load_plugins(
            ENTRY_POINT_GROUP,
            "register_bindings",
            make_register,
            selected=selected_names(os.environ if environ is None else environ),
            eps=eps,
        )
        failed = {error.entry_point for error in registry.errors}
        for name, collector in collectors.items():
            if name not in failed:
                registry._add(name, collector)
        return registry

    def _add(self, entry_point: str, collector: Collector) -> None:
        # The child finds its binding by entry-point name, so the two must agree.
        for binding in collector.bindings:
            dist = collector.distribution
            if binding.name != entry_point:
                self.errors.append(
                    LoadError(
                        entry_point,
                        dist,
                        f"registered binding {binding.name!r} under entry point {entry_point!r}; "
                        "a binding must be registered under an entry point of its own name",
                    )
                )
            elif binding.name in self.bindings:
                other = self.bindings[binding.name].distribution
                self.errors.append(
                    LoadError(
                        entry_point, dist, f"binding {binding.name!r} already registered by {other}"
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
