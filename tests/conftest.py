"""Fixtures that run the real counterparts: real children over real pipes, always cleaned up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from support import RawChild, RecordingDispatcher

# Property tests check behaviour, not speed: a loaded 2-core CI machine must not fail them on
# Hypothesis's default 200 ms per-example deadline.
settings.register_profile("burrow", deadline=None)
settings.load_profile("burrow")


@pytest.fixture(scope="session")
def registry() -> BindingRegistry:
    """The bindings installed in the test environment, scanned once."""
    return BindingRegistry.discover(environ={})


@pytest.fixture(scope="session")
def test_binding(registry: BindingRegistry) -> Binding:
    """The transport test binding (tests/testbinding), which must be installed."""
    assert "test" in registry.bindings, (
        "the test binding is not installed: pip install -r requirements-dev.txt"
    )
    return registry.bindings["test"]


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def raw_child() -> Iterator[type[RawChild]]:
    """Start RawChild instances that are killed at the end of the test."""
    started: list[RawChild] = []

    class _Tracked(RawChild):
        def __init__(self, *argv: str) -> None:
            super().__init__(*argv)
            started.append(self)

    yield _Tracked
    for child in started:
        child.kill()
