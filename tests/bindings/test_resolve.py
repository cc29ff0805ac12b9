"""`resolve` and `import_module`: what every child runs to find its binding's functions."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

from burrow.bindings.spec import import_module, resolve


class _Recorder(importlib.abc.MetaPathFinder):
    """Notes every module the import system looks for, and finds none of them itself."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.asked.append(fullname)
        return None


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    finder = _Recorder()
    sys.meta_path.insert(0, finder)
    try:
        yield finder
    finally:
        sys.meta_path.remove(finder)


def test_an_imported_package_is_not_looked_for_again(recorder: _Recorder) -> None:
    # `__import__(pkg, fromlist=["_"])` searched the disk for `pkg._` at every call: each
    # child paid that for its binding's registration module and its method targets.
    import email

    assert import_module("email") is email
    assert resolve("email.message:Message") is sys.modules["email.message"].Message
    assert recorder.asked == []


def test_a_module_not_yet_imported_is_imported() -> None:
    sys.modules.pop("colorsys", None)
    module = import_module("colorsys")
    assert module is sys.modules["colorsys"]
    assert resolve("colorsys:rgb_to_hsv")(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)


def test_a_missing_module_or_attribute_raises() -> None:
    with pytest.raises(ModuleNotFoundError):
        import_module("burrow_no_such_module")
    with pytest.raises(AttributeError):
        resolve("colorsys:no_such_function")
