"""Fixtures that run the real counterparts: real children over real pipes, always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.zygote import Zygote
from support import RawChild, RecordingDispatcher, run

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


@pytest.fixture(params=["interpreter", "zygote"])
def execute(
    request: pytest.FixtureRequest,
    test_binding: Binding,
    tmp_path: Path,
    dispatcher: RecordingDispatcher,
) -> Callable[..., ExecutionResult]:
    """Run the test binding with `args` in a real child and return the ExecutionResult.

    Every test using it runs twice: the child started as a new interpreter, and forked by a
    zygote; both must give the same isolation.
    """

    def _execute(
        *args: str, method: str = "test_run", logs: list[tuple[int, str]] | None = None, **spec: Any
    ) -> ExecutionResult:
        params = {
            "path": str(tmp_path / "ext.test"),
            "name": "ext",
            "kind": "plugin",
            "args": list(args),
        }
        spec.setdefault("workdir", tmp_path)
        spec.setdefault("timeout", 30.0)
        execution_spec = ExecutionSpec(test_binding, method, params, **spec)
        on_log = (
            (lambda level, message: logs.append((level, message))) if logs is not None else None
        )

        async def go() -> ExecutionResult:
            zygote = Zygote() if request.param == "zygote" else None
            try:
                spawner = zygote.spawn if zygote is not None else None
                return await Execution(
                    execution_spec, dispatcher, on_log=on_log, spawner=spawner
                ).run()
            finally:
                if zygote is not None:
                    await zygote.close()

        return run(go())

    return _execute


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
