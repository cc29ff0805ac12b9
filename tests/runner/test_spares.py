"""Spare children: prepared before their request, holding no secret, one execution each.

Real zygotes, real children; the isolation checks of test_execution.py and test_limits.py run
against spares too (tests/runner/conftest.py). Lua and JavaScript spares: test_spares_bindings.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.engine.config import ConfigError, load_robot
from burrow.rpc.errors import ErrorCode
from burrow.runner import zygote as zygote_module
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.limits import ChildLimits
from burrow.runner.spares import REFILL_QUIET, SpareKey, SparePool, spare_sizes
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher, gone, run

SECRET = "s3cret-9d2e-spare"


def memory_holds(pid: int, needle: bytes) -> bool:
    """Whether `needle` appears anywhere in the readable memory of process `pid`."""
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r") or "[vvar" in line or "[vsyscall" in line:
                continue
            start, end = (int(value, 16) for value in span.split("-"))
            overlap = len(needle)
            tail = b""
            position = start
            while position < end and not found:
                size = min(1 << 20, end - position)
                try:
                    mem.seek(position)
                    chunk = mem.read(size)
                except OSError:
                    break  # a mapping that cannot be read (a guard page): nothing in it
                found = needle in tail + chunk
                tail = chunk[-overlap:]
                position += size
            if found:
                break
    return found


def environ_of(pid: int) -> dict[str, str]:
    """The environment block process `pid` was started with (what /proc shows)."""
    with open(f"/proc/{pid}/environ", "rb") as handle:
        entries = handle.read().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


def spec_for(binding: Binding, workdir: Path, *args: str, **extra: Any) -> ExecutionSpec:
    params = {
        "path": str(workdir / "ext.test"),
        "name": "ext",
        "kind": "plugin",
        "args": list(args),
    }
    extra.setdefault("timeout", 30.0)
    return ExecutionSpec(binding, "test_run", params, workdir, **extra)


async def full_pool(binding: Binding, size: int = 1, **options: Any) -> tuple[Zygote, SparePool]:
    zygote = Zygote(preload=["burrow_testbinding.behaviours"])
    pool = SparePool(zygote.spawn, {binding.name: binding}, {binding.name: size}, **options)
    pool.start()
    assert await pool.wait_full(60)
    assert len(pool.ready()) == size, f"no spares: {pool.failed} failed"
    return zygote, pool


async def until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def test_a_spare_holds_no_secret_until_its_request_and_the_zygote_never_does(
    test_binding: Binding, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    real_send_fds = socket.send_fds

    def recording_send_fds(sock, buffers, fds, *args):  # type: ignore[no-untyped-def]
        sent.extend(bytes(b) for b in buffers)
        return real_send_fds(sock, buffers, fds, *args)

    monkeypatch.setattr(zygote_module.socket, "send_fds", recording_send_fds)

    async def go() -> tuple[dict[str, str], bool, ExecutionResult, bool, int]:
        zygote, pool = await full_pool(test_binding)
        try:
            spare = pool.ready()[0]
            assert spare.child is not None
            before = environ_of(spare.child.pid)
            in_memory = memory_holds(spare.child.pid, SECRET.encode())
            spec = spec_for(test_binding, tmp_path, "env", env={"TASK_TOKEN": SECRET})
            result = await Execution(spec, RecordingDispatcher(), spawner=pool).run()
            assert zygote.pid is not None
            return (
                before,
                in_memory,
                result,
                memory_holds(zygote.pid, SECRET.encode()),
                spare.child.pid,
            )
        finally:
            await pool.close()
            await zygote.close()

    before, in_memory, result, in_zygote, pid = run(go())
    assert "TASK_TOKEN" not in before and SECRET not in before.values()
    assert not in_memory, "the spare held the secret before its request"
    assert result.spare and result.pid == pid
    assert result.result is not None and result.result["env"]["TASK_TOKEN"] == SECRET
    assert not in_zygote, "the secret reached the zygote, whose memory every fork inherits"
    assert sent and not any(
        SECRET.encode() in payload or b"TASK_TOKEN" in payload for payload in sent
    )


def test_the_request_brings_environment_and_working_directory(
    test_binding: Binding, tmp_path: Path
) -> None:
    workdir = tmp_path / "work space"
    workdir.mkdir()

    async def go() -> tuple[ExecutionResult, ExecutionResult, str]:
        zygote, pool = await full_pool(test_binding, 2)
        try:
            waiting = pool.ready()[0]
            assert waiting.child is not None
            cwd_before = os.readlink(f"/proc/{waiting.child.pid}/cwd")
            env = await Execution(
                spec_for(test_binding, workdir, "env", env={"GOPHER_CHANNEL": "general"}),
                spawner=pool,
            ).run()
            cwd = await Execution(spec_for(test_binding, workdir, "cwd"), spawner=pool).run()
            return env, cwd, cwd_before
        finally:
            await pool.close()
            await zygote.close()

    env, cwd, cwd_before = run(go())
    assert env.spare and cwd.spare
    assert cwd_before == "/"  # nobody's folder until the request names one
    assert env.result is not None and env.result["env"]["GOPHER_CHANNEL"] == "general"
    assert "PATH" in env.result["env"]
    assert cwd.result is not None and cwd.result["cwd"] == str(workdir)


def test_a_spare_runs_exactly_one_execution_and_the_pool_refills(
    test_binding: Binding, tmp_path: Path
) -> None:
    async def go() -> tuple[list[ExecutionResult], list[int], SparePool]:
        zygote, pool = await full_pool(test_binding)
        results, waiting = [], []
        try:
            for n in range(3):
                assert await pool.wait_full(60)
                spare = pool.ready()[0]
                assert spare.child is not None
                waiting.append(spare.child.pid)
                spec = spec_for(test_binding, tmp_path, "ret", str(n))
                results.append(await Execution(spec, spawner=pool).run())
            assert await pool.wait_full(60)
            return results, waiting, pool
        finally:
            await pool.close()
            await zygote.close()

    results, waiting, pool = run(go())
    assert [r.ret_val for r in results] == [0, 1, 2]
    assert all(r.spare for r in results)
    assert [r.pid for r in results] == waiting
    assert len(set(waiting)) == 3  # each execution had a spare of its own
    assert all(gone(pid) for pid in waiting)  # and each spare exited after its one execution
    assert (pool.made, pool.taken) == (4, 3)  # the refill made one more after the last


def test_a_spare_killed_while_waiting_is_replaced(test_binding: Binding, tmp_path: Path) -> None:
    async def go() -> tuple[int, int, ExecutionResult, int]:
        zygote, pool = await full_pool(test_binding)
        try:
            victim = pool.ready()[0]
            assert victim.child is not None
            os.kill(victim.child.pid, signal.SIGKILL)
            await until(lambda: pool.lost == 1)
            assert await pool.wait_full(60)
            replacement = pool.ready()[0]
            assert replacement.child is not None
            result = await Execution(
                spec_for(test_binding, tmp_path, "ret", "0"), spawner=pool
            ).run()
            return victim.child.pid, replacement.child.pid, result, pool.lost
        finally:
            await pool.close()
            await zygote.close()

    victim, replacement, result, lost = run(go())
    assert replacement != victim and lost == 1
    assert result.ret_val == TaskRetVal.Normal and result.spare and result.pid == replacement


def test_spares_are_kept_per_limits_and_set_them_before_the_request(
    test_binding: Binding, tmp_path: Path
) -> None:
    limits = ChildLimits(cpu_seconds=40, open_files=200)

    async def go() -> tuple[str, ExecutionResult, ExecutionResult]:
        zygote, pool = await full_pool(test_binding, profiles=[(None, limits)])
        try:
            spare = pool.ready()[0]
            assert spare.child is not None
            with open(f"/proc/{spare.child.pid}/limits") as handle:
                table = handle.read()
            other = await Execution(
                spec_for(test_binding, tmp_path, "ret", "0"), spawner=pool
            ).run()
            same = await Execution(
                spec_for(test_binding, tmp_path, "open", "500", limits=limits), spawner=pool
            ).run()
            return table, other, same
        finally:
            await pool.close()
            await zygote.close()

    table, other, same = run(go())
    rows = {line[:26].strip(): line[26:].split()[:2] for line in table.splitlines()[1:]}
    assert rows["Max cpu time"] == ["40", "41"] and rows["Max open files"] == ["200", "200"]
    assert not other.spare and other.ret_val == TaskRetVal.Normal  # other limits: a new child
    assert same.spare and same.result is not None
    assert "Too many open files" in same.result["failure"]


def test_a_missing_working_directory_fails_as_before_and_spends_no_spare(
    test_binding: Binding, tmp_path: Path
) -> None:
    async def go() -> tuple[ExecutionResult, int]:
        zygote, pool = await full_pool(test_binding)
        try:
            spec = spec_for(test_binding, tmp_path / "gone", "ret", "0")
            result = await Execution(spec, spawner=pool).run()
            return result, len(pool.ready())
        finally:
            await pool.close()
            await zygote.close()

    result, ready = run(go())
    assert result.error is not None and result.error.code == ErrorCode.CHILD_START
    assert "no such folder" in result.error.message
    assert ready == 1 and not result.spare


def test_a_working_directory_the_spare_cannot_enter_is_child_start(
    test_binding: Binding, tmp_path: Path
) -> None:
    # Removed between the robot's check and the child's chdir: the spare refuses its $/setup,
    # and the request is not run.
    workdir = tmp_path / "vanishing"
    workdir.mkdir()

    async def go() -> ExecutionResult:
        zygote, pool = await full_pool(test_binding)
        spare = pool.ready()[0]
        real_take = pool.take_spare

        def take_then_remove(spec: ExecutionSpec) -> Any:
            taken = real_take(spec)
            workdir.rmdir()
            return taken

        pool.take_spare = take_then_remove  # type: ignore[method-assign]
        try:
            spec = spec_for(test_binding, workdir, "ret", "0")
            result = await Execution(spec, RecordingDispatcher(), spawner=pool).run()
            assert result.pid == (spare.child.pid if spare.child else None)
            return result
        finally:
            await pool.close()
            await zygote.close()

    result = run(go())
    assert result.spare and result.ret_val == TaskRetVal.MechanismFail
    assert result.error is not None and result.error.code == ErrorCode.CHILD_START
    assert "cannot enter the working directory" in result.error.message


def test_closing_the_pool_kills_every_spare_without_waiting(
    test_binding: Binding, tmp_path: Path
) -> None:
    async def go() -> tuple[list[int], float]:
        zygote, pool = await full_pool(test_binding, 3)
        try:
            pids = [s.child.pid for s in pool.ready() if s.child is not None]
            started = time.monotonic()
            await pool.close()
            return pids, time.monotonic() - started
        finally:
            await zygote.close()

    pids, elapsed = run(go())
    assert len(pids) == 3 and all(gone(pid) for pid in pids)
    assert elapsed < 1.5


def test_closing_the_pool_does_not_wait_for_a_spare_being_prepared(
    test_binding: Binding, tmp_path: Path
) -> None:
    mute = tmp_path / "mute-python"  # a child that never answers $/hello
    mute.write_text("#!/bin/sh\nexec sleep 60\n")
    mute.chmod(0o755)

    async def go() -> tuple[int, float]:
        zygote = Zygote()
        pool = SparePool(
            zygote.spawn, {"test": test_binding}, {"test": 1}, python=str(mute), prepare_timeout=30
        )
        pool.start()
        try:
            await until(lambda: pool.preparing is not None and pool.preparing.child is not None)
            assert pool.preparing is not None and pool.preparing.child is not None
            pid = pool.preparing.child.pid
            started = time.monotonic()
            await pool.close()
            return pid, time.monotonic() - started
        finally:
            await zygote.close()

    pid, elapsed = run(go())
    assert gone(pid) and elapsed < 1.5


def test_reconfiguring_ends_the_spares_of_a_binding_that_changed(
    test_binding: Binding, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    upgraded = Binding(
        test_binding.name,
        test_binding.suffixes,
        test_binding.methods,
        test_binding.distribution,
        "99.0",
        test_binding.prepare,
    )

    async def go() -> tuple[int, SparePool, list[int], ExecutionResult]:
        zygote, pool = await full_pool(test_binding)
        try:
            old = pool.ready()[0]
            assert old.child is not None
            pool.configure({"test": upgraded}, {"test": 1})
            await until(lambda: gone(old.child.pid) and pool.failed >= 1)
            # The installed binding is not 99.0: such a spare is refused, never used.
            left = [s.child.pid for s in pool.ready() if s.child is not None]
            result = await Execution(
                spec_for(test_binding, tmp_path, "ret", "0"), spawner=pool
            ).run()
            return old.child.pid, pool, left, result
        finally:
            await pool.close()
            await zygote.close()

    old, pool, left, result = run(go())
    assert gone(old) and left == []
    assert [key.version for key in pool.targets] == ["99.0"]
    assert "the child loaded test 0.0.1, the robot 99.0" in caplog.text
    assert result.ret_val == TaskRetVal.Normal and not result.spare


def test_sizes_default_for_the_bindings_in_use_and_follow_robot_yaml() -> None:
    assert spare_sizes(None, ["lua", "js", "test"]) == {"lua": 2, "js": 1, "test": 1}
    assert spare_sizes({"js": 0, "lua": 4}, ["lua", "js"]) == {"lua": 4}
    assert spare_sizes({"go": 1}, []) == {"go": 1}


def test_a_key_is_exactly_what_the_child_is_fixed_to(test_binding: Binding, tmp_path: Path) -> None:
    base = spec_for(test_binding, tmp_path)
    key = SpareKey.of(base)
    assert SpareKey.of(spec_for(test_binding, tmp_path / "elsewhere", "x")) == key
    assert SpareKey.of(spec_for(test_binding, tmp_path, limits=ChildLimits(cpu_seconds=1))) != key
    assert SpareKey.of(spec_for(test_binding, tmp_path, max_message_size=1 << 20)) != key
    assert SpareKey.of(spec_for(test_binding, tmp_path, python="/usr/bin/python3")) != key


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{lua: -1}", "lua: -1 is outside 0 to 16"),
        ("{js: 17}", "js: 17 is outside 0 to 16"),
        ("{lua: two}", "lua: expected a whole number, got 'two'"),
        ("4", "expected a map of binding names to numbers, got 4"),
    ],
)
def test_spare_children_in_robot_yaml_are_checked(tmp_path: Path, value: str, says: str) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text(f"SpareChildren: {value}\n")
    with pytest.raises(ConfigError) as raised:
        load_robot(tmp_path, {})
    problem = raised.value.problems[0]
    assert problem.key == "SpareChildren" and says in problem.message
    assert "e.g. {lua: 2, js: 1}" in problem.hint


def test_spare_children_in_robot_yaml_are_read(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text("SpareChildren: {lua: 4, js: 0}\n")
    assert load_robot(tmp_path, {}).config.spare_children == {"lua": 4, "js": 0}
    (tmp_path / "conf" / "robot.yaml").write_text("Alias: ';'\n")
    assert load_robot(tmp_path, {}).config.spare_children is None


def test_the_refill_waits_for_the_taken_spare_to_finish_its_command(
    test_binding: Binding, tmp_path: Path
) -> None:
    # Preparing a spare costs CPU that a command still answering needs: the refill starts when
    # the taken spare's execution has ended (or after REFILL_QUIET for a long one).
    async def go() -> tuple[float, float, float]:
        zygote, pool = await full_pool(test_binding)
        started: list[float] = []
        real_make = pool._make

        async def make(key: SpareKey) -> Any:
            started.append(time.monotonic())
            return await real_make(key)

        pool._make = make  # type: ignore[method-assign]
        try:
            spare = pool.ready()[0]
            assert spare.child is not None
            exited: list[float] = []
            spare.child.exited.add_done_callback(lambda _: exited.append(time.monotonic()))
            taken = time.monotonic()
            result = await Execution(
                spec_for(test_binding, tmp_path, "sleep", "0.1"), spawner=pool
            ).run()
            assert result.spare
            assert await pool.wait_full(60)
            return taken, exited[0], started[0]
        finally:
            await pool.close()
            await zygote.close()

    taken, exited, refill = run(go())
    assert exited - taken >= 0.1
    assert refill >= exited  # not while the command ran


def test_the_refill_waits_while_executions_wait_for_a_child_slot(test_binding: Binding) -> None:
    # While commands queue for a slot, a spare made now would only serve the next of them, at
    # more cost than a fork: the pool makes none until the queue has drained.
    queued = [True]

    async def go() -> tuple[int, bool, int]:
        zygote = Zygote(preload=["burrow_testbinding.behaviours"])
        pool = SparePool(
            zygote.spawn,
            {test_binding.name: test_binding},
            {test_binding.name: 1},
            busy=lambda: queued[0],
        )
        pool.start()
        try:
            await asyncio.sleep(4 * REFILL_QUIET)  # long enough to have made one
            made_meanwhile = pool.made
            queued[0] = False
            return made_meanwhile, await pool.wait_full(60), pool.made
        finally:
            await pool.close()
            await zygote.close()

    made_meanwhile, full, made = run(go())
    assert made_meanwhile == 0
    assert full and made == 1


def test_a_spare_outlives_a_killed_zygote_and_the_refill_uses_a_new_one(
    test_binding: Binding, tmp_path: Path
) -> None:
    async def go() -> tuple[ExecutionResult, int, int | None, int]:
        zygote, pool = await full_pool(test_binding)
        try:
            old = zygote.pid
            assert old is not None
            os.kill(old, signal.SIGKILL)
            await until(lambda: zygote.pid != old)
            result = await Execution(
                spec_for(test_binding, tmp_path, "ret", "3"), spawner=pool
            ).run()
            assert await pool.wait_full(60)
            return result, old, zygote.pid, zygote.started
        finally:
            await pool.close()
            await zygote.close()

    result, old, new, started = run(go())
    assert result.spare and result.ret_val == 3, result.error  # served by the orphaned spare
    assert result.exit_status is None  # its zygote is gone: nobody can know it
    assert new is not None and new != old and started == 2
