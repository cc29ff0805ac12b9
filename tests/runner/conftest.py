"""The runner's tests run every isolation check in each way a child starts, spares included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from spare_support import MODES, run_in_mode

from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionResult, ExecutionSpec
from support import RecordingDispatcher, run


@pytest.fixture(params=MODES)
def execute(
    request: pytest.FixtureRequest,
    test_binding: Binding,
    tmp_path: Path,
    dispatcher: RecordingDispatcher,
) -> Callable[..., ExecutionResult]:
    """Run the test binding with `args` in a real child and return the ExecutionResult.

    Every test using it runs three times: the child started as a new interpreter, forked by a
    zygote, and a spare prepared before the request; all must give the same isolation.
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
        return run(run_in_mode(request.param, execution_spec, dispatcher, on_log))

    return _execute
