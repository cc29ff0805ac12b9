"""Go jobs and tasks, a Go panic, and what a Go program holds and inherits, through a real robot."""

from __future__ import annotations

import re

import pytest

from burrow.runner.environment import PASSED_THROUGH
from conftest import GoHarness

JOB = """\
package main

import "github.com/lnxjedi/gopherbot/robot"

var cfg = []byte(``)

func Configure() *[]byte { return &cfg }

func JobHandler(r robot.Robot, args ...string) robot.TaskRetVal {
	r.Say("job %s got %q", r.GetMessage().User, args)
	r.SetParameter("FROM_JOB", "set by the job")
	if r.AddTask("gotask", "one", "two words") != robot.Ok {
		return robot.Fail
	}
	return robot.Normal
}
"""

TASK = """\
package main

import "github.com/lnxjedi/gopherbot/robot"

func TaskHandler(r robot.Robot, args ...string) robot.TaskRetVal {
	r.Say("task got %q and %s", args, r.GetParameter("FROM_JOB"))
	return robot.Normal
}
"""


def test_a_go_job_runs_and_adds_a_go_task_to_its_pipeline(harness: GoHarness) -> None:
    harness.go("job", "gojob", JOB)
    harness.go("task", "gotask", TASK)
    (harness.root / "conf" / "jobs" / "gojob.yaml").write_text("Quiet: true\n")
    said = harness.play(lambda h: h.texts("alice", ";run job gojob a b", n=4))
    # A job asked for by name is announced, as upstream: "Starting job ...", "Finished job ..."
    assert said[0].startswith("Starting job 'gojob")
    assert said[3].startswith("Finished job 'gojob'") and "status: normal" in said[3]
    assert said[1:3] == [
        'job alice got ["a" "b"]',
        'task got ["one" "two words"] and set by the job',
    ]


PANICS = """\
package main

import "github.com/lnxjedi/gopherbot/robot"

var cfg = []byte(`Commands: [{Regex: 'panic now', Command: panic}]`)

func Configure() *[]byte { return &cfg }

func deeper(m map[string]int) {
	m["boom"] = 1
}

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	if command == "_init" { // run at the robot's start, as Gopherbot does
		return robot.Normal
	}
	r.Say("about to panic")
	deeper(nil)
	return robot.Normal
}
"""


def test_a_go_panic_reaches_the_user_at_its_line(harness: GoHarness) -> None:
    harness.go("plugin", "panicky", PANICS)
    said = harness.play(lambda h: h.texts("alice", ";panic now", n=2))
    assert said == [
        "about to panic",
        "Sorry, 'panicky' failed with MechanismFail: extension_error: "
        "panicky.go:10: panic: assignment to entry in nil map",
    ]


ISOLATION = """\
package main

import (
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/lnxjedi/gopherbot/robot"
)

var cfg = []byte(`Commands: [{Regex: 'isolation', Command: iso}]`)

func Configure() *[]byte { return &cfg }

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	if command == "_init" { // run at the robot's start, as Gopherbot does
		return robot.Normal
	}
	entries, _ := os.ReadDir("/proc/self/fd")
	var own []string
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		own = append(own, e.Name()+"="+target)
	}
	r.Say("own %s", strings.Join(own, " "))
	out, err := exec.Command("/bin/sh", "-c", "ls /proc/$$/fd; true").Output()
	r.Say("inherited %s %v", strings.Join(strings.Fields(string(out)), " "), err)
	ignored, _ := exec.Command("grep", "SigIgn", "/proc/self/status").Output()
	r.Say("ignored %s", strings.Join(strings.Fields(string(ignored)), " "))
	env := os.Environ()
	sort.Strings(env)
	r.Say("env %s", strings.Join(env, " "))
	return robot.Normal
}
"""


def test_a_go_program_holds_the_protocol_alone_and_has_only_its_granted_environment(
    harness: GoHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROBOT_ONLY_SECRET", "hunter2")  # in the robot's environment
    harness.go("plugin", "iso", ISOLATION, settings="Parameters: [{Name: GRANTED, Value: granted}]")
    harness.go(
        "plugin",
        "other",
        ISOLATION.replace("isolation", "unrelated"),
        settings="Parameters: [{Name: NOT_YOURS, Value: other}]",
    )
    own, inherited, ignored, env = harness.play(lambda h: h.texts("alice", ";isolation", n=4))
    fds = dict(entry.split("=", 1) for entry in own.removeprefix("own ").split())
    kinds = sorted(re.sub(r"\[\d+\]|/proc/\d+/.*", "", target) for target in fds.values())
    # fd 0 /dev/null, 1 and 2 the task log, the two protocol pipes; the rest is Go's own
    # (the folder it reads, its poller): no session memfd, no file or socket of the robot's.
    assert fds["0"] == "/dev/null"
    assert fds["1"] == fds["2"] and fds["1"].startswith("pipe:")
    assert kinds.count("pipe:") == 4, fds
    assert set(kinds) <= {"/dev/null", "pipe:", "anon_inode:", ""}, fds
    # What the extension starts gets stdin, stdout and stderr only.
    assert inherited == "inherited 0 1 2 <nil>"
    # ... and no signal ignored (the Python child ignored SIGPIPE and SIGXFSZ before the exec).
    assert ignored == "ignored SigIgn: 0000000000000000"
    names = {entry.split("=", 1)[0] for entry in env.removeprefix("env ").split()}
    assert "GRANTED" in names
    assert "ROBOT_ONLY_SECRET" not in names and "NOT_YOURS" not in names
    # Nothing but what every child gets: the pass-through variables, the engine's GOPHER_*
    # and the task's parameters (no GOROOT, GOCACHE..., no PYTHON*, no BURROW_*).
    others = {n for n in names if not n.startswith("GOPHER_")} - {"GRANTED"}
    assert others <= set(PASSED_THROUGH), others
