"""The sandbox: what an extension can reach, what it cannot, and its memory limit."""

from __future__ import annotations

import lupa.lua54 as lua54
import pytest

from burrow.constants import TaskRetVal

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "expression",
    [
        "io",
        "python",
        "os.execute",
        "os.exit",
        "os.remove",
        "os.rename",
        "os.tmpname",
        "os.setlocale",
        "package.loadlib",
        "string.dump",
        'getmetatable("").__index.dump',
        "debug.getregistry",
        "debug.getupvalue",
        "debug.setupvalue",
        "debug.getlocal",
        "debug.sethook",
        "debug.getinfo",
        "debug.getmetatable",
        "debug.setmetatable",
        "package.loaded.io",
        "package.loaded.python",
    ],
)
def test_dangerous_globals_are_absent(run_lua, expression) -> None:
    run = run_lua(f'require "report"({expression} == nil)')
    assert run.report == [True]


@pytest.mark.parametrize("module", ["io", "python", "lfs", "socket.core"])
def test_modules_outside_the_sandbox_cannot_be_required(run_lua, module) -> None:
    run = run_lua(f'require "report"(pcall(require, "{module}"))')
    assert run.report[0] is False


def test_no_c_module_can_be_loaded(run_lua) -> None:
    run = run_lua('require "report"(package.cpath, #package.searchers)')
    assert run.report == ["", 2]  # preload and the text-only Lua file searcher


def test_the_safe_standard_library_is_there(run_lua) -> None:
    run = run_lua(
        """
        local report = require "report"
        report(type(os.time()), type(os.clock()), os.date("!%Y", 0), os.difftime(5, 2),
               string.format("%05.1f", 3.14159), table.concat({"a", "b"}, "-"),
               math.max(1, 9), utf8.char(233), coroutine.wrap(function() return "co" end)(),
               select(2, pcall(error, "caught")), load("return x", "n", "t", {x = 5})(),
               loadstring("return 6")(), unpack({7}), _VERSION)
        """
    )
    assert run.report == [
        "number", "number", "1970", 3.0, "003.1", "a-b", 9, "é", "co", "caught", 5, 6, 7,
        "Lua 5.4",
    ]  # fmt: skip


def test_os_getenv_sees_only_what_the_robot_grants(run_lua, monkeypatch) -> None:
    monkeypatch.setenv("BURROW_TEST_SECRET", "do-not-leak")
    run = run_lua(
        'require "report"(os.getenv("BURROW_TEST_SECRET"), os.getenv("GOPHER_USER"),'
        ' os.getenv("PATH") ~= nil)',
        env={"GOPHER_USER": "alice"},
    )
    assert run.report == [None, "alice", True]


@pytest.fixture(scope="module")
def bytecode() -> bytes:
    """A real Lua 5.4 binary chunk returning 42, proven loadable outside the sandbox."""
    plain = lua54.LuaRuntime(encoding=None)
    chunk = plain.eval('string.dump(load("return 42"))')
    assert plain.eval("load(...)", chunk)() == 42
    return bytes(chunk)


def test_binary_chunks_are_refused_everywhere(run_lua, tmp_path, bytecode) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "compiled.lua").write_bytes(bytecode)
    (tmp_path / "chunk.luac").write_bytes(bytecode)
    literal = "".join(f"\\{byte}" for byte in bytecode)
    run = run_lua(
        f"""
        local report = require "report"
        local code = "{literal}"
        pending = code
        local path = "{tmp_path / "chunk.luac"}"
        local function outcome(f, ...)
            local ok, value, err = pcall(f, ...)
            return ok and (err or value) or value
        end
        report(
            outcome(load, code),
            outcome(load, code, "x", "b"),
            outcome(load, code, "x", "bt", {{}}),
            outcome(load, function() local c = pending; pending = nil; return c end),
            outcome(loadstring, code),
            outcome(loadfile, path),
            outcome(loadfile, path, "b"),
            outcome(dofile, path),
            outcome(require, "compiled"))
        """,
        lib_paths=[lib],
    )
    assert run.result.error is None, run.result.error
    assert len(run.report) == 9
    for refusal in run.report:
        assert isinstance(refusal, str) and "attempt to load a binary chunk" in refusal


def test_no_python_object_is_reachable_from_the_extension(run_lua) -> None:
    run = run_lua(
        """
        local seen, found = {}, {}
        local function walk(value, path)
            local kind = type(value)
            if kind == "userdata" or kind == "thread" then
                found[#found + 1] = path .. " is a " .. kind
            end
            if kind == "function" or kind == "userdata" or kind == "table" then
                local mt = getmetatable(value)
                if mt ~= nil then walk(mt, path .. "<mt>") end
            end
            if kind ~= "table" or seen[value] then return end
            seen[value] = true
            for k, v in pairs(value) do
                walk(k, path .. "<key>")
                walk(v, path .. "." .. tostring(k))
            end
        end
        -- A planted thread proves the walk would notice a foreign value.
        planted = coroutine.create(function() end)
        local gopherbot = require "gopherbot_v1"
        walk(_G, "_G")
        walk(getmetatable(""), "string metatable")
        walk(gopherbot.Robot:new(), "bot")
        walk(gopherbot.Robot:new():Direct():Fixed(), "modified bot")
        walk(package.loaded, "package.loaded")
        require "report"(found)
        """
    )
    assert run.report == [["_G.planted is a thread"]]


def test_python_objects_that_reach_lua_have_no_attributes_or_metatable() -> None:
    # In-process: the children never hand Lua a Python object, so one is planted here to
    # check the second line of defence (lupa's attribute filter and a locked metatable).
    from burrow_lua import runtime

    class Ctx:
        def log(self, level: int, message: str) -> None:
            pass

    state = runtime._Sandbox(MiB * 16).runtime
    state.globals().planted = Ctx()
    probe = state.eval(
        """function()
            local attr_ok = pcall(function() return planted.log end)
            local set_ok = pcall(function() planted.log = 1 end)
            local mt_ok = pcall(setmetatable, planted, {})
            return getmetatable(planted), attr_ok, set_ok, mt_ok
        end"""
    )
    assert probe() == (False, False, False, False)


def test_memory_limit_stops_a_hungry_extension(run_lua) -> None:
    source = 'local s = string.rep("x", 8 * 1024 * 1024); return #s > 0 and 7 or 0'
    allowed = run_lua(source)
    assert allowed.result.ret_val == TaskRetVal.Success, allowed.result.error
    refused = run_lua(source, params={"lua_memory_limit": 4 * MiB})
    assert refused.result.ret_val == TaskRetVal.MechanismFail
    assert refused.result.error.code == "extension_error"
    assert "not enough memory" in refused.result.error.message
    assert str(4 * MiB) in refused.result.error.message


def test_default_memory_limit_is_64_mib(run_lua) -> None:
    run = run_lua(
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end",
        timeout=60.0,
    )
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert f"the Lua memory limit is {64 * MiB} bytes" in run.result.error.message


def test_a_bad_memory_limit_is_refused(run_lua) -> None:
    run = run_lua("return 0", params={"lua_memory_limit": "lots"})
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == "invalid_params"


def test_loaders_cannot_read_files_outside_the_extensions_folder_and_lib_paths(
    run_lua, tmp_path
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.lua").write_text('return "the secret"')
    (tmp_path / "sibling.lua").write_text('return "a sibling"')
    secret = outside / "secret.lua"
    run = run_lua(
        f"""
        local report = require "report"
        local function outcome(f, ...)
            local ok, value, err = pcall(f, ...)
            if not ok then return value end
            if value == nil then return err end
            return type(value) == "function" and value() or value
        end
        package.path = "{outside}/?.lua;" .. package.path
        report(
            outcome(loadfile, "{secret}"),
            outcome(dofile, "{secret}"),
            outcome(require, "secret"),
            outcome(loadfile, "{tmp_path}/../{outside.name}/secret.lua"),
            outcome(loadfile, "secret.lua"),
            outcome(dofile),
            outcome(loadfile, "{tmp_path / "sibling.lua"}"))
        """
    )
    assert run.result.error is None, run.result.error
    *refused, no_name, sibling = run.report
    assert len(refused) == 5
    for refusal in refused:
        assert "cannot read" in refusal and "the secret" not in refusal, refusal
    assert "file name is required" in no_name  # dofile() would read standard input
    assert sibling == "a sibling"
