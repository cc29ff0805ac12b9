"""The hand-over, frame by frame: the Python child becomes the Go program mid-session."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from burrow_go.build import program_for

from burrow.bindings.registry import BindingRegistry
from burrow.rpc.codec import Notification, Request, Response, encode
from burrow.runner.execution import ExecutionSpec, RobotCall, run_execution
from support import run

GO_CHILD = ("--binding", "go", "--distribution", "burrowbot-go")

PLUGIN = """\
package main

import "github.com/lnxjedi/gopherbot/robot"

var cfg = []byte(`{}`)

func Configure() *[]byte { return &cfg }

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	r.Say("param=%s", r.GetParameter("X"))
	return robot.Normal
}
"""


def plugin(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "session.go"
    path.write_text(PLUGIN)
    return str(path), program_for(str(path), "plugin")  # built before the child looks


def run_params(path: str) -> list[dict[str, object]]:
    return [{"path": path, "name": "session", "kind": "plugin", "args": ["x"], "bot": {}}]


def test_the_program_continues_the_session_the_python_child_began(raw_child, tmp_path) -> None:
    path, program = plugin(tmp_path)
    child = raw_child(*GO_CHILD)
    pid = child.hello().result["pid"]
    child.send(Request(7, "go_run", run_params(path)))
    first = child.receive()
    # The same process, now the program: it numbers its own requests from 0.
    assert os.readlink(f"/proc/{pid}/exe") == program
    assert first == Request(0, "robot_call", [{"method": "GetParameter", "args": ["X"]}])
    child.send(Response(0, None, {"string": "forty-two"}))
    said = child.receive()
    assert isinstance(said, Request) and said.msgid == 1
    assert said.params[0]["method"] == "Say" and said.params[0]["args"] == ["param=forty-two"]
    child.send(Response(1, None, {"ret_val": 0}))
    assert child.receive() == Response(7, None, {"ret_val": 0})
    assert child.request(8, "$/shutdown", {}).result == {"ok": True}
    assert child.wait() == 0


def test_a_cancel_half_read_before_the_exec_is_waited_for_and_honoured(raw_child, tmp_path) -> None:
    path, _ = plugin(tmp_path)
    child = raw_child(*GO_CHILD)
    child.hello()
    cancel = encode(Notification("$/cancel", [{"msgid": 3}]))
    child.send_bytes(encode(Request(3, "go_run", run_params(path))) + cancel[:5])
    time.sleep(0.3)  # the child holds the request and half a frame
    child.send_bytes(cancel[5:])
    answer = child.receive()
    assert isinstance(answer, Response) and answer.msgid == 3
    assert answer.error is not None and answer.error["code"] == "canceled"  # nothing ran
    child.close_stdin()
    assert child.wait() == 0


def test_a_frame_over_the_size_limit_ends_the_program_with_status_2(raw_child, tmp_path) -> None:
    path, _ = plugin(tmp_path)
    child = raw_child(*GO_CHILD)
    child.request(0, "$/hello", {"versions": [1], "max_message_size": 4096})
    child.send(Request(1, "go_run", run_params(path)))
    call = child.receive()
    assert isinstance(call, Request) and call.method == "robot_call"
    child.send(Response(call.msgid, None, {"string": "x" * 5000}))
    assert child.wait() == 2
    assert "exceeds the size limit" in child.stderr()


CONCURRENT = """\
package main

import (
	"fmt"
	"sync"

	"github.com/lnxjedi/gopherbot/robot"
)

var cfg = []byte(`{}`)

func Configure() *[]byte { return &cfg }

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				name := fmt.Sprintf("P%d_%d", g, i)
				if r.GetParameter(name) != name {
					mu.Lock()
					wrong++
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	r.Say("wrong answers: %d", wrong)
	return robot.Normal
}
"""


class Echo:
    """Answers GetParameter with the name asked for, after a turn of the event loop."""

    def __init__(self) -> None:
        self.said: list[str] = []

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        await asyncio.sleep(0)
        if call.method == "Say":
            self.said.append(call.args[0])
            return {"ret_val": 0}
        return {"string": call.args[0]}


def test_robot_calls_from_several_goroutines_each_get_their_own_answer(
    tmp_path: Path, registry: BindingRegistry
) -> None:
    path = tmp_path / "concurrent.go"
    path.write_text(CONCURRENT)
    program_for(str(path), "plugin")
    params = {"path": str(path), "name": "c", "kind": "plugin", "args": ["x"], "bot": {}}
    spec = ExecutionSpec(registry.bindings["go"], "go_run", params, workdir=tmp_path, timeout=30)
    echo = Echo()
    result = run(run_execution(spec, echo))
    assert result.error is None, result.error
    assert echo.said == ["wrong answers: 0"]
