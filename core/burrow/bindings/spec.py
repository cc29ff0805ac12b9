"""What a binding registers, and the `register` callable that validates it.

Shared by the parent's registry and the child, so it stays free of pluggy, typing and
importlib.metadata: the child imports it on every start.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

ENTRY_POINT_GROUP = "burrow.bindings"

_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = _LOWER | frozenset("0123456789_")


# Plain string checks instead of `re`, which alone costs the child about 5 ms to import.
def _is_binding_name(name: object) -> bool:
    """`[a-z][a-z0-9_]*`."""
    return isinstance(name, str) and name[:1] in _LOWER and set(name) <= _NAME_CHARS


def _is_dotted(path: str) -> bool:
    return all(part.isidentifier() for part in path.split("."))


def _is_import_string(target: object) -> bool:
    """`package.module:attribute.path`."""
    if not isinstance(target, str) or target.count(":") != 1:
        return False
    module, attr = target.split(":")
    return _is_dotted(module) and _is_dotted(attr)


class BindingError(Exception):
    """A binding registered something invalid, or could not be loaded."""


class Binding:
    """One language binding: its name, the file suffixes it runs, its methods, and optionally
    the function that prepares its runtime in a spare child before any request arrives."""

    __slots__ = ("distribution", "methods", "name", "prepare", "suffixes", "version")

    def __init__(
        self,
        name: str,
        suffixes: tuple[str, ...],
        methods: dict[str, str],
        distribution: str = "",
        version: str = "",
        prepare: str | None = None,
    ) -> None:
        self.name = name
        self.suffixes = suffixes
        self.methods = methods  # method name -> "module:function", imported only when called
        self.distribution = distribution
        self.version = version
        # "module:function" called as function(hello_params) in a spare child after $/hello
        # and before the request (docs/bindings.md, "Spare children"); None: nothing to prepare.
        self.prepare = prepare

    def __repr__(self) -> str:
        return f"Binding({self.name!r}, {self.suffixes!r}, {sorted(self.methods)!r})"

    def run_method(self) -> str:
        """The method that runs an extension: `<name>_run`."""
        return f"{self.name}_run"

    def get_config_method(self) -> str:
        """The method that asks an extension for its default configuration."""
        return f"{self.name}_get_config"


class Collector:
    """The `register` callable handed to `register_bindings`; it validates and records."""

    def __init__(self, distribution: str = "", version: str = "") -> None:
        self.distribution = distribution
        self.version = version
        self.bindings: list[Binding] = []

    def __call__(
        self,
        name: str,
        *,
        suffixes: Iterable[str],
        methods: Mapping[str, str],
        prepare: str | None = None,
    ) -> None:
        """Register binding `name`, running files with `suffixes`, serving `methods`; `prepare`
        (optional) sets up its runtime in a spare child before a request arrives."""
        if not _is_binding_name(name):
            raise BindingError(f"binding name {name!r} must match [a-z][a-z0-9_]*")
        suffix_list = tuple(suffixes)
        for suffix in suffix_list:
            if not isinstance(suffix, str) or not suffix.startswith(".") or len(suffix) < 2:
                raise BindingError(f"binding {name!r}: suffix {suffix!r} must look like '.lua'")
        method_map = dict(methods)
        if not method_map:
            raise BindingError(f"binding {name!r} registers no methods")
        for method, target in method_map.items():
            if not isinstance(method, str) or not method.startswith(name + "_"):
                raise BindingError(
                    f"binding {name!r}: method {method!r} must start with {name + '_'!r}"
                )
            if not _is_import_string(target):
                raise BindingError(
                    f"binding {name!r}: method {method!r} must map to 'module:function', "
                    f"got {target!r}"
                )
        if prepare is not None and not _is_import_string(prepare):
            raise BindingError(
                f"binding {name!r}: prepare must be 'module:function', got {prepare!r}"
            )
        self.bindings.append(
            Binding(name, suffix_list, method_map, self.distribution, self.version, prepare)
        )


def import_module(name: str) -> object:
    """The module `name`, imported if it is not yet.

    Not `__import__(name, fromlist=[...])`: for a package that looks for the listed submodule
    on disk at every call, which cost each child about half a millisecond.
    """
    module = sys.modules.get(name)
    if module is None:
        __import__(name)
        module = sys.modules[name]
    return module


def resolve(target: str) -> object:
    """Import `module:attr.path` and return the attribute."""
    module_name, _, attr_path = target.partition(":")
    obj: object = import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj
