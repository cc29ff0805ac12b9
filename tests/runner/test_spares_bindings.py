"""Lua and JavaScript spares: the runtime is prepared before the request and serves it as a new one.

Real lupa and V8 in real children. Also: the zygote loads V8's library and stays single-threaded.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from spare_support import MODES, run_in_mode
from test_spares import SECRET, environ_of, memory_holds

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.limits import ChildLimits
from burrow.runner.spares import SparePool
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher, gone, run

MiB = 1024 * 1024
PRELOAD = ["burrow_lua.runtime", "burrow_js.runtime"]

LUA_PROBE = """\
local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
bot:Say(string.format("%s in %s, token %s", GBOT.user, GBOT.channel, os.getenv("TASK_TOKEN")))
return 7
"""
JS_PROBE = """\
const { Robot } = require('gopherbot_v1')();
new Robot().Say(`${GBOT.user} in ${GBOT.channel}, token ${process.env.TASK_TOKEN}`);
7;
"""


@pytest.fixture(scope="module")
def bindings() -> dict[str, Binding]:
    found = BindingRegistry.discover(environ={}).bindings
    for name in ("lua", "js"):
        assert name in found, f"the {name} binding is not installed"
    return found


def spec_for(
    binding: Binding,
    tmp_path: Path,
    source: str,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> ExecutionSpec:
    suffix = binding.suffixes[0]
    script = tmp_path / f"ext{suffix}"
    script.write_text(textwrap.dedent(source))
    request = {
        "path": str(script),
        "name": "ext",
        "kind": "plugin",
        "args": [],
        "bot": {"user": "alice", "channel": "general"},
        "lib_paths": [],
        "workdir": str(tmp_path),
        **(params or {}),
    }
    extra.setdefault("timeout", 30.0)
    return ExecutionSpec(binding, f"{binding.name}_run", request, tmp_path, **extra)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("language", ["lua", "js"])
def test_an_extension_gets_its_request_whichever_way_its_child_started(
    bindings: dict[str, Binding], tmp_path: Path, language: str, mode: str
) -> None:
    source = LUA_PROBE if language == "lua" else JS_PROBE
    spec = spec_for(bindings[language], tmp_path, source, env={"TASK_TOKEN": SECRET})
    dispatcher = RecordingDispatcher()
    result = run(run_in_mode(mode, spec, dispatcher, preload=PRELOAD))
    assert result.ret_val == 7, result.error
    assert result.spare == (mode == "spare")
    assert [(c.method, c.args) for c in dispatcher.calls] == [
        ("Say", [f"alice in general, token {SECRET}"])
    ]


@pytest.mark.parametrize("language", ["lua", "js"])
def test_a_prepared_spare_holds_no_secret_before_its_request(
    bindings: dict[str, Binding], tmp_path: Path, language: str
) -> None:
    binding = bindings[language]

    async def go() -> tuple[dict[str, Any], dict[str, str], bool, ExecutionResult, bool]:
        zygote = Zygote(preload=PRELOAD)
        pool = SparePool(zygote.spawn, bindings, {language: 1})
        pool.start()
        try:
            assert await pool.wait_full(60)
            spare = pool.ready()[0]
            assert spare.child is not None
            environ = environ_of(spare.child.pid)
            held = memory_holds(spare.child.pid, SECRET.encode())
            source = LUA_PROBE if language == "lua" else JS_PROBE
            spec = spec_for(binding, tmp_path, source, env={"TASK_TOKEN": SECRET})
            result = await Execution(spec, RecordingDispatcher(), spawner=pool).run()
            assert zygote.pid is not None
            return spare.hello, environ, held, result, memory_holds(zygote.pid, SECRET.encode())
        finally:
            await pool.close()
            await zygote.close()

    hello, environ, held, result, in_zygote = run(go())
    assert hello["prepared"] == [language]  # its runtime was set up before the request
    assert "TASK_TOKEN" not in environ and not held
    assert result.spare and result.ret_val == 7, result.error
    assert not in_zygote


def test_a_spare_lua_state_takes_the_requests_memory_limit(
    bindings: dict[str, Binding], tmp_path: Path
) -> None:
    hungry = 'local s = string.rep("x", 8 * 1024 * 1024); return #s > 0 and 7 or 0'

    async def go() -> list[ExecutionResult]:
        zygote = Zygote(preload=PRELOAD)
        pool = SparePool(zygote.spawn, bindings, {"lua": 1})
        pool.start()
        results = []
        try:
            for limit in (4 * MiB, 0, None):
                assert await pool.wait_full(60)
                params = {"lua_memory_limit": limit} if limit is not None else {}
                spec = spec_for(bindings["lua"], tmp_path, hungry, params)
                results.append(await Execution(spec, RecordingDispatcher(), spawner=pool).run())
            return results
        finally:
            await pool.close()
            await zygote.close()

    small, unlimited, default = run(go())
    assert all(r.spare for r in (small, unlimited, default))
    assert small.ret_val == TaskRetVal.MechanismFail and small.error is not None
    assert "not enough memory (the Lua memory limit is 4194304 bytes)" in small.error.message
    assert unlimited.ret_val == 7 and default.ret_val == 7


HEAP_BOMB = "const keep = []; for (;;) keep.push(new Array(100000).fill('x' + keep.length));"


@pytest.mark.parametrize(
    ("memory", "heap", "spare"),
    [
        (1024 * MiB, None, True),  # the default: JIT, 128 MiB
        (1024 * MiB, 32 * MiB, True),  # a smaller heap fits the spare's V8
        (1024 * MiB, 256 * MiB, False),  # needs V8 interpreted: the spare refuses, a new child
        (384 * MiB, 128 * MiB, True),  # interpreted in the spare too
    ],
    ids=["jit-default", "jit-32MiB", "jitless-needed", "jitless-384MiB"],
)
def test_a_spare_v8_serves_the_heap_limits_its_flags_allow_and_refuses_others(
    bindings: dict[str, Binding], tmp_path: Path, memory: int, heap: int | None, spare: bool
) -> None:
    params = {"js_heap_limit": heap} if heap else {}
    limits = ChildLimits(memory_bytes=memory)

    async def go() -> tuple[ExecutionResult, int]:
        zygote = Zygote(preload=PRELOAD)
        pool = SparePool(zygote.spawn, bindings, {"js": 1}, [(None, limits)])
        pool.start()
        try:
            assert await pool.wait_full(60)
            waiting = pool.ready()[0]
            assert waiting.child is not None
            spec = spec_for(bindings["js"], tmp_path, HEAP_BOMB, params, limits=limits)
            result = await Execution(spec, RecordingDispatcher(), spawner=pool).run()
            return result, waiting.child.pid
        finally:
            await pool.close()
            await zygote.close()

    result, waiting = run(go())
    assert result.spare == spare
    assert result.ret_val == TaskRetVal.MechanismFail and result.error is not None
    expected = f"heap limit of {(heap or 128 * MiB) // MiB} MiB"
    assert expected in result.error.message, result.error.message
    assert result.exit_status == 0  # a clean end at the heap limit, never a V8 crash
    if not spare:
        assert gone(waiting) and result.pid != waiting  # the refusing spare ran nothing


def test_the_zygote_loads_v8_and_keeps_a_single_thread(
    bindings: dict[str, Binding], tmp_path: Path
) -> None:
    source = "Math.floor(Math.random() * 1000000000)"

    async def go() -> tuple[int, str, list[ExecutionResult], int]:
        zygote = Zygote(preload=PRELOAD)
        try:
            spec = spec_for(bindings["js"], tmp_path, source)
            results = [await Execution(spec, spawner=zygote.spawn).run() for _ in range(2)]
            assert zygote.pid is not None
            threads = len(os.listdir(f"/proc/{zygote.pid}/task"))
            with open(f"/proc/{zygote.pid}/maps") as handle:
                maps = handle.read()
            return threads, maps, results, zygote.started
        finally:
            await zygote.close()

    threads, maps, results, started = run(go())
    assert threads == 1
    assert "libmini_racer.so" in maps  # loaded once, shared by every fork
    assert started == 1
    assert all(not r.spare and r.error is None for r in results)
    # V8 itself starts in each child: forks do not share its random state.
    assert results[0].ret_val != results[1].ret_val


THREADED_PRELOAD = """\
import threading
import time

threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
"""


def test_a_zygote_left_with_a_thread_is_never_forked(
    bindings: dict[str, Binding], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An interpreter that puts a folder holding a module that starts a thread on the zygote's
    # path, and is otherwise the real one.
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "burrow_threaded_preload.py").write_text(THREADED_PRELOAD)
    python = tmp_path / "python"
    zygote_main = (
        f"import sys; sys.path.insert(0, {str(modules)!r}); "
        "from burrow.runner.zygote_main import main; sys.exit(main(sys.argv[1:]))"
    )
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$3" = burrow.runner.zygote_main ]; then\n'
        f'  shift 3; exec {sys.executable} -I -c "{zygote_main}" "$@"\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)

    async def go() -> tuple[list[ExecutionResult], Zygote]:
        zygote = Zygote(str(python), preload=["burrow_threaded_preload"])
        try:
            spec = spec_for(bindings["lua"], tmp_path, "return 3", python=str(python))
            results = [await Execution(spec, spawner=zygote.spawn).run() for _ in range(3)]
            return results, zygote
        finally:
            await zygote.close()

    results, zygote = run(go())
    assert [r.ret_val for r in results] == [3, 3, 3]  # started as new interpreters instead
    assert zygote.started == 1  # and the zygote was not started again and again
    assert zygote.unusable is not None and "2 threads" in zygote.unusable
    assert "forking it is unsafe" in caplog.text


def test_a_robot_keeps_spares_for_its_bindings_and_stops_without_waiting(tmp_path: Path) -> None:
    from burrow.connectors.testing import TestConnector
    from burrow.engine.robot import Robot

    root = tmp_path / "robot"
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "ext" / "hi.lua").write_text(
        'if arg[1] == "_configure" then return "Commands: [{Command: hi, Regex: hi}]" end\n'
        'if arg[1] == "_init" then return 0 end\n'
        'require("gopherbot_v1").Robot:new():Say("hi from lua")\n'
    )
    (root / "ext" / "hey.js").write_text(
        'if (process.argv[2] === "_configure") "Commands: [{Command: hey, Regex: hey}]";\n'
        'else if (process.argv[2] === "_init") 0;\n'
        'else { const {Robot} = require("gopherbot_v1")(); new Robot().Say("hey from js"); }\n'
    )
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\n"
        "ExternalPlugins:\n  hi: {Path: ext/hi.lua}\n  hey: {Path: ext/hey.js}\n"
        "SpareChildren: {js: 2}\n"
    )

    async def go() -> tuple[dict[str, int], list[str], int, list[int], float]:
        robot = Robot(root, state_dir=root / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        assert robot.spares is not None
        sizes = {key.binding: size for key, size in robot.spares.targets.items()}
        assert await robot.plugins_initialized(60)
        # The start-up `_init`s forked from the zygotes: the spares are kept for commands.
        assert robot.spares.taken == 0
        before = robot.spares.taken
        replies = []
        for text in (";hi", ";hey"):
            await connector.inject("alice", text, "general")
            sent = await connector.next_sent(30)
            replies.append(sent.text if sent is not None else "")
        taken = robot.spares.taken - before
        assert await robot.spares.wait_full(60)
        pids = [s.child.pid for s in robot.spares.ready() if s.child is not None]
        started = asyncio.get_running_loop().time()
        await robot.stop(grace=5)
        return sizes, replies, taken, pids, asyncio.get_running_loop().time() - started

    sizes, replies, taken, pids, elapsed = run(go())
    assert sizes == {"lua": 2, "js": 2}  # Lua's default, JavaScript's from robot.yaml
    assert replies == ["hi from lua", "hey from js"]
    assert taken == 2  # both commands ran in spares
    assert len(pids) == 4 and all(gone(pid) for pid in pids)
    assert elapsed < 3
