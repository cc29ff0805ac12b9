"""Builds off the critical path: the robot's start, a command before the build, `build`."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from burrow_go.build import (
    ERROR_FILE,
    UNLOCATED_FAILURE_TTL,
    BuildError,
    Located,
    cache_root,
    static_config,
)

from conftest import GoHarness, builds

PLUGIN = """\
package main

import "github.com/lnxjedi/gopherbot/robot"

var defaultConfig = []byte(`
Commands:
- {Regex: 'slow build', Command: slow}
`)

func Configure() *[]byte {
	return &defaultConfig
}

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	if command == "_init" { // run at the robot's start, as Gopherbot does
		return robot.Normal
	}
	r.Say("built and running: %s %d", command, STAMP)
	return robot.Normal
}
"""


def test_a_build_in_progress_neither_holds_the_start_nor_a_command(harness: GoHarness) -> None:
    # Another process holds the build lock (as a long first build does): the robot's start
    # reads the configuration from the source, a command is told to come back, and once the
    # build can run (in a process of its own, which the robot did not have to wait for) the
    # command answers.
    harness.go("plugin", "slow", PLUGIN.replace("STAMP", str(time.time_ns())))
    os.makedirs(cache_root(), exist_ok=True)
    lock = open(os.path.join(cache_root(), "build.lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    before = len(builds())

    async def script(h: GoHarness) -> list[str]:
        told = await h.texts("alice", ";slow build")
        lock.close()  # the build may run now
        deadline = time.monotonic() + 60
        while len(builds()) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return told + await h.texts("alice", ";slow build")

    try:
        started = time.monotonic()
        first, second = harness.play(script)
    finally:
        lock.close()
    assert first == (
        "slow.go is still being built (the first build of a Go extension compiles Go's "
        "standard library and takes a while); try again in a moment"
    )
    assert second.startswith("built and running: slow ")
    assert len(builds()) == before + 1
    # start (5 s at most for the build) + the first command (3 s) + a warm build + margin
    assert time.monotonic() - started < 30


def test_static_config_is_read_only_when_nothing_can_change_it() -> None:
    source = PLUGIN.replace("STAMP", "1")
    assert static_config(source) == "\nCommands:\n- {Regex: 'slow build', Command: slow}\n"
    assert static_config('var c = []byte("A: 1")\nfunc Configure() *[]byte { return &c }') == (
        "A: 1"
    )
    changed = source + "\nfunc init() { defaultConfig = nil }\n"
    computed = source.replace("return &defaultConfig", "c := []byte(`x`)\n\treturn &c")
    escaped = 'var c = []byte("A:\\t1")\nfunc Configure() *[]byte { return &c }'
    for other in (changed, computed, escaped):
        assert static_config(other) is None, other


def test_the_build_command_builds_every_go_extension_of_a_robot(harness: GoHarness) -> None:
    stamp = time.time_ns()
    harness.go("plugin", "fine", PLUGIN.replace("STAMP", str(stamp)))
    broken = harness.go("plugin", "broken", PLUGIN.replace("STAMP", "undefinedThing"))
    harness.write()

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "burrow_go", "build", str(harness.root)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    first = build()
    assert first.returncode == 1, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("plugin fine: built in "), lines
    assert lines[1].startswith(f"plugin broken: FAILED: {broken}:"), lines
    assert "undefined: undefinedThing" in lines[1]
    again = build()
    assert again.stdout.splitlines()[0] == "plugin fine: cached"
    assert Path(cache_root(), "builds.log").read_text().count(str(harness.root)) == 1


def test_a_compile_error_is_kept_and_another_failure_expires(tmp_path: Path) -> None:
    source = tmp_path / "kept.go"
    source.write_text(PLUGIN.replace("STAMP", "undefinedName"))
    located = Located(str(source), "plugin", str(tmp_path / "cache"))
    with pytest.raises(BuildError) as raised:
        located.build()
    assert raised.value.line is not None and "undefined: undefinedName" in str(raised.value)
    record = Path(located.folder, ERROR_FILE)
    data = json.loads(record.read_text())
    data["time"] -= 10 * UNLOCATED_FAILURE_TTL
    record.write_text(json.dumps(data))
    assert located.failure() is not None  # located in the extension: for good
    data["line"] = None  # say, a compiler killed for memory
    record.write_text(json.dumps(data))
    assert located.failure() is None  # tried again after a while
    data["time"] = time.time()
    record.write_text(json.dumps(data))
    assert located.failure() is not None  # but not at once
