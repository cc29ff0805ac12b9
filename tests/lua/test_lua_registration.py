"""The `lua` binding as the robot and the child discover it."""

from __future__ import annotations

import subprocess
import sys

import lupa.lua54

HEAVY = ("lupa", "typing", "pluggy", "re", "asyncio", "dataclasses", "importlib.metadata")


def test_the_binding_registers_lua_files_and_its_two_methods(lua_binding) -> None:
    assert lua_binding.distribution == "burrowbot-lua"
    assert lua_binding.suffixes == (".lua",)
    assert lua_binding.methods == {
        "lua_run": "burrow_lua.runtime:run",
        "lua_get_config": "burrow_lua.runtime:get_config",
    }


def _imported_after(statement: str) -> list[str]:
    probe = f"import sys; {statement}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


def test_registration_imports_nothing_heavy() -> None:
    assert _imported_after("import burrow_lua") == []


def test_the_runtime_adds_only_lupa_to_the_child() -> None:
    assert _imported_after("import burrow.child.main, burrow_lua.runtime") == ["lupa"]


def test_the_runtime_uses_lua_5_4_explicitly() -> None:
    from burrow_lua import runtime

    assert runtime.lua54 is lupa.lua54
    assert lupa.lua54.LuaRuntime().lua_version == (5, 4)
