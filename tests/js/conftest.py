"""Fixtures for the JavaScript binding: JavaScript extensions run by real children."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionResult, ExecutionSpec, RobotCall, run_execution
from support import run

# Prepended to test scripts (on their first line, so line numbers stay true): `out(value)`
# logs "OUT <json>" at Info, which JsRun.outputs decodes.
OUT = (
    "const out = (v) => console.log('OUT ' + (v === undefined ? 'undefined' : JSON.stringify(v))); "
)


class CannedDispatcher:
    """A Robot API double: records every call and answers from canned results per method.

    A canned value that is an exception is raised instead; methods without one answer
    `{"ret_val": 0}`.
    """

    def __init__(self, canned: dict[str, Any] | None = None) -> None:
        self.calls: list[RobotCall] = []
        self.canned: dict[str, Any] = dict(canned or {})

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.calls.append(call)
        answer = self.canned.get(call.method, {"ret_val": 0})
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            result: dict[str, Any] = answer(call)
            return result
        return dict(answer)


class JsRun:
    """What one JavaScript execution produced: the result, the robot calls and the log."""

    def __init__(self, result: ExecutionResult, dispatcher: CannedDispatcher, logs: list) -> None:
        self.result = result
        self.calls = [(c.method, c.args, c.options) for c in dispatcher.calls]
        self.logs: list[tuple[int, str]] = logs

    @property
    def ret_val(self) -> int:
        return self.result.ret_val

    @property
    def outputs(self) -> list[Any]:
        """Values the script reported with `out(...)` (None for undefined)."""
        values = []
        for level, message in self.logs:
            if level == 2 and message.startswith("OUT "):
                text = message[4:]
                values.append(None if text == "undefined" else json.loads(text))
        return values


@pytest.fixture(scope="session")
def js_binding() -> Binding:
    """The JavaScript binding, which must be installed (pip install -e plugins/js_binding)."""
    registry = BindingRegistry.discover(environ={})
    assert "js" in registry.bindings, "burrowbot-js is not installed: see requirements-dev.txt"
    return registry.bindings["js"]


@pytest.fixture
def run_js(js_binding: Binding, tmp_path: Path) -> Callable[..., JsRun]:
    """Write `source` to ext.js and run it in a real child; return a JsRun."""

    def _run(
        source: str,
        *args: str,
        method: str = "js_run",
        canned: dict[str, Any] | None = None,
        bot: dict[str, Any] | None = None,
        lib_paths: list[str] | None = None,
        params: dict[str, Any] | None = None,
        **spec: Any,
    ) -> JsRun:
        script = tmp_path / "ext.js"
        script.write_text(OUT + textwrap.dedent(source).lstrip("\n"))
        request: dict[str, Any] = {
            "path": str(script),
            "name": "ext",
            "kind": "plugin",
            "bot": bot if bot is not None else {"user": "alice", "channel": "general"},
            "lib_paths": lib_paths or [],
            "workdir": str(tmp_path),
            **(params or {}),
        }
        if method == "js_run":
            request["args"] = list(args)
        spec.setdefault("timeout", 30.0)
        dispatcher = CannedDispatcher(canned)
        logs: list[tuple[int, str]] = []
        execution = ExecutionSpec(js_binding, method, request, tmp_path, **spec)
        result = run(
            run_execution(execution, dispatcher, on_log=lambda lv, msg: logs.append((lv, msg)))
        )
        return JsRun(result, dispatcher, logs)

    return _run
