"""Go plugins compiled and run end to end through the real robot on the test connector."""

from __future__ import annotations

from pathlib import Path

from conftest import GoHarness, builds

HELLO = (Path(__file__).parents[2] / "conf" / "extensions" / "hello.go").read_text()

API = """\
package main

import (
	"fmt"

	"github.com/lnxjedi/gopherbot/robot"
)

var cfg = []byte(`
Commands:
- {Regex: '(?i:api)', Command: api}
Config:
  Answer: 42
`)

func Configure() *[]byte { return &cfg }

type conf struct{ Answer int }

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	if command == "_init" { // run at the robot's start, as Gopherbot does
		return robot.Normal
	}
	var c conf
	ret := r.GetTaskConfig(&c)
	r.Reply("config %s answer=%d", ret, c.Answer)
	r.Say("param=%s", r.GetParameter("GREETING"))
	var missing conf
	ret = r.GetTaskConfig(missing)
	r.Say("%s %v %s %s", ret, robot.Success, robot.Failed, fmt.Sprint(robot.DatumLockExpired))
	r.Fixed().Say("fixed")
	return robot.Normal
}
"""


def test_hello_go_answers_its_commands_and_keeps_a_datum(harness: GoHarness) -> None:
    harness.go("plugin", "hello-go", HELLO)

    async def script(h: GoHarness) -> None:
        await h.send("alice", ";go hello")
        [hello] = await h.replies(1)
        assert hello.text.split(",")[0] in ("Hello", "Howdy", "Hi there")
        assert "Alice! (from Go, go1." in hello.text
        await h.send("alice", ";go remember the milk")
        assert (await h.replies(1))[0].text == 'I\'ll remember "the milk" for a while.'
        await h.send("alice", ";go recall")
        assert (await h.replies(1))[0].text == 'You asked me to remember "the milk".'
        for expected in (1, 2):
            await h.send("bob", ";go count")
            assert (await h.replies(1))[0].text == f"The count is now {expected}."

    harness.play(script)


def test_robot_api_config_parameters_and_retval_names(harness: GoHarness) -> None:
    harness.go("plugin", "api", API, settings='Parameters: [{Name: GREETING, Value: "hi there"}]')

    async def script(h: GoHarness) -> None:
        await h.send("alice", ";api")
        sent = await h.replies(4)
        assert [s.text for s in sent] == [
            "config Ok answer=42",
            "param=hi there",
            "InvalidConfigPointer Success Failed DatumLockExpired",
            "fixed",
        ]
        assert sent[3].format == 1  # Fixed
        assert sent[0].user == "alice"

    harness.play(script)


def test_a_restart_reuses_the_build_and_an_edit_rebuilds(harness: GoHarness) -> None:
    path = harness.go("plugin", "api", API.replace("api", "cached"))

    async def ask(h: GoHarness) -> str:
        await h.send("alice", ";cached")
        return (await h.replies(1))[0].text

    first = harness.play(ask)
    before = len(builds())
    assert harness.play(ask) == first  # same source, a new robot: no build
    assert len(builds()) == before
    path.write_text(path.read_text().replace("config %s", "edited %s"))
    assert harness.play(ask).startswith("edited Ok")
    assert len(builds()) == before + 1
