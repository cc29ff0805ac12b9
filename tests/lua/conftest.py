"""Fixtures for the Lua binding: real children running Lua source against a Robot API double."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from lua_support import BOT, LUAKIT, PRELUDE, CannedRobot, LuaRun

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionSpec, run_execution
from support import run


@pytest.fixture(scope="session")
def lua_binding(registry: BindingRegistry) -> Binding:
    """The Lua binding, which must be installed (pip install -e plugins/lua_binding)."""
    assert "lua" in registry.bindings, (
        f"the lua binding is not installed: pip install -e plugins/lua_binding ({registry.errors})"
    )
    return registry.bindings["lua"]


@pytest.fixture
def robot() -> CannedRobot:
    return CannedRobot()


@pytest.fixture
def run_lua(lua_binding: Binding, tmp_path: Path, robot: CannedRobot) -> Callable[..., LuaRun]:
    """Write `source` to ext.lua and run it in a real child; `prelude` prepends PRELUDE."""

    def _run(
        source: str,
        *args: str,
        method: str = "lua_run",
        prelude: bool = False,
        bot: dict[str, Any] | None = None,
        lib_paths: Sequence[Path | str] = (),
        params: dict[str, Any] | None = None,
        name: str = "ext.lua",
        **spec: Any,
    ) -> LuaRun:
        script = tmp_path / name
        script.write_text((PRELUDE if prelude else "") + textwrap.dedent(source))
        request: dict[str, Any] = {
            "path": str(script),
            "name": "ext",
            "kind": "plugin",
            "bot": dict(BOT if bot is None else bot),
            "lib_paths": [str(p) for p in (*lib_paths, LUAKIT)],
            "workdir": str(tmp_path),
        }
        if method.endswith("_run"):
            request["args"] = list(args)
        request.update(params or {})
        spec.setdefault("workdir", tmp_path)
        spec.setdefault("timeout", 30.0)
        logs: list[tuple[int, str]] = []
        result = run(
            run_execution(
                ExecutionSpec(lua_binding, method, request, **spec),
                robot,
                on_log=lambda level, message: logs.append((level, message)),
            )
        )
        return LuaRun(result, robot.calls, logs)

    return _run
