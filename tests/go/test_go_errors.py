"""Build errors located in the extension, concurrent builds, and stopping a Go program."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from burrow_go.build import program_for

from burrow.bindings.registry import BindingRegistry
from burrow.runner.execution import ExecutionSpec, run_execution
from conftest import GoHarness, builds
from support import run

HEADER = 'package main\n\nimport "github.com/lnxjedi/gopherbot/robot"\n\n'
CONFIGURE = "var cfg = []byte(`{}`)\n\nfunc Configure() *[]byte { return &cfg }\n\n"


def start_up_warning(harness: GoHarness, name: str, caplog: pytest.LogCaptureFixture) -> str:
    """What the robot logged at start about `name`'s configuration, which it cannot read.

    As upstream, an extension whose configuration cannot be read is not disabled: the robot
    warns at start, and each run of it reports the same error.
    """
    caplog.set_level(logging.WARNING, logger="burrow")

    async def look(h: GoHarness) -> str:
        assert h.robot is not None
        assert h.robot.catalog.tasks[name].disabled == ""
        return "\n".join(r.getMessage() for r in caplog.records if f"'{name}'" in r.getMessage())

    return harness.play(look)


def test_a_wrong_handler_signature_is_reported_at_its_declaration(
    harness: GoHarness, caplog: pytest.LogCaptureFixture
) -> None:
    path = harness.go(
        "plugin",
        "wrong",
        HEADER + CONFIGURE + "func PluginHandler(r robot.Robot) robot.TaskRetVal {\n"
        "\treturn robot.Normal\n}\n",
    )
    reason = start_up_warning(harness, "wrong", caplog)
    assert f"{path.name}:9: PluginHandler has the wrong signature" in reason
    assert "func PluginHandler(r robot.Robot, command string, args ...string)" in reason


def test_a_missing_handler_is_reported(
    harness: GoHarness, caplog: pytest.LogCaptureFixture
) -> None:
    path = harness.go("job", "nojob", HEADER + CONFIGURE + "var _ robot.RetVal\n")
    harness.robot_yaml += "ScheduledJobs: [{Name: nojob, Schedule: '@init'}]\n"
    caplog.set_level(logging.WARNING, logger="burrow")

    async def look(h: GoHarness) -> str:
        await asyncio.sleep(3)  # the @init job runs and fails
        return "\n".join(r.getMessage() for r in caplog.records)

    logged = harness.play(look)
    assert f"{path.name}:1: a Go job must define func JobHandler(" in logged


def test_a_compile_error_names_file_and_line_at_start_and_to_the_user(
    harness: GoHarness, caplog: pytest.LogCaptureFixture
) -> None:
    path = harness.go(
        "plugin",
        "broken",
        HEADER + CONFIGURE + "func PluginHandler(r robot.Robot, command string, args ...string)"
        " robot.TaskRetVal {\n\treturn undefinedThing\n}\n",
    )
    (harness.root / "conf" / "plugins" / "broken.yaml").write_text(
        "Commands: [{Command: go, Regex: 'broken go'}]\n"
    )
    reason = start_up_warning(harness, "broken", caplog)
    assert f"{path.name}:10:9: undefined: undefinedThing" in reason
    told = harness.play(lambda h: h.texts("alice", ";broken go"))
    assert told == [
        "Sorry, 'broken' failed with MechanismFail: extension_error: "
        f"{path.name}:10:9: undefined: undefinedThing"
    ], told


def test_two_concurrent_first_builds_build_once(tmp_path: Path) -> None:
    source = tmp_path / "twice.go"
    source.write_text(
        HEADER + "func TaskHandler(r robot.Robot, args ...string) robot.TaskRetVal {\n"
        f"\treturn robot.Normal // {time.time()}\n}}\n"
    )
    before = len(builds())
    code = f"from burrow_go.build import program_for; print(program_for({str(source)!r}, 'task'))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1]
    assert len(builds()) == before + 1


class Blocking:
    """A Robot API double whose Pause never returns (a robot call the program waits on)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def robot_call(self, call: Any) -> dict[str, Any]:
        self.calls.append(call.method)
        if call.method == "Pause":
            await asyncio.sleep(3600)
        return {"ret_val": 0, "bool": True}


@pytest.mark.parametrize(
    "body", ["for {\n\t}", 'r.Say("waiting")\n\tr.Pause(3600)\n\treturn robot.Normal']
)
def test_a_looping_or_blocked_go_program_is_stopped(
    body: str, tmp_path: Path, registry: BindingRegistry
) -> None:
    source = tmp_path / "stuck.go"
    source.write_text(
        HEADER + CONFIGURE + "func PluginHandler(r robot.Robot, command string, args ...string)"
        f" robot.TaskRetVal {{\n\t{body}\n}}\n"
    )
    params = {"path": str(source), "name": "stuck", "kind": "plugin", "args": ["x"], "bot": {}}
    program = program_for(str(source), "plugin")  # built first: the timeout below is the run's
    spec = ExecutionSpec(registry.bindings["go"], "go_run", params, workdir=tmp_path, timeout=1.5)
    started = time.monotonic()
    robot = Blocking()
    result = run(run_execution(spec, robot))
    if "Pause" in body:
        assert robot.calls == ["Say", "Pause"]  # stopped while blocked in a robot call
    assert result.error is not None and result.error.code == "timeout"
    # The program ended itself at the robot's $/cancel (status 0), before any signal.
    assert result.exit_status == 0
    assert time.monotonic() - started < 8
    # Nothing of the program is left running.
    leftover = subprocess.run(["pgrep", "-f", program], capture_output=True)
    assert leftover.stdout == b""
