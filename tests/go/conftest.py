"""Go extensions through real children, a real toolchain and a real robot.

The build cache is shared by the whole session (the first build compiles Go's standard
library, several seconds); children find it through HOME, which the robot passes through.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from burrow_go.build import cache_root, program_for

from e2e.conftest import RobotHarness

WARM = """\
package main

import (
	"fmt"

	"github.com/lnxjedi/gopherbot/robot"
)

func TaskHandler(r robot.Robot, args ...string) robot.TaskRetVal {
	fmt.Println(args)
	return robot.Normal
}
"""


@pytest.fixture(scope="session", autouse=True)
def go_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A HOME of the session's own, so the Go build cache starts empty and is shared."""
    home = tmp_path_factory.mktemp("gohome")
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME")}
    os.environ["HOME"] = str(home)
    os.environ.pop("XDG_CACHE_HOME", None)
    # Go's own packages compiled once (several seconds), as `python -m burrow_go build` does
    # before a robot starts: the robots below then build each extension in about a second.
    warm = home / "warm.go"
    warm.write_text(WARM)
    program_for(str(warm), "task")
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def builds() -> list[str]:
    """One line per program built in this session's cache (build.py writes builds.log)."""
    log = Path(cache_root()) / "builds.log"
    return log.read_text().splitlines() if log.exists() else []


class GoHarness(RobotHarness):
    """RobotHarness with `.go` extensions."""

    def go(self, kind: str, name: str, source: str, settings: str = "") -> Path:
        path = self.root / "ext" / f"{name}.go"
        path.write_text(textwrap.dedent(source))
        section = {"plugin": "ExternalPlugins", "job": "ExternalJobs", "task": "ExternalTasks"}
        extra = f", {settings}" if settings else ""
        self.declared[section[kind]].append(f"  {name}: {{Path: ext/{name}.go{extra}}}")
        return path


@pytest.fixture
def harness(tmp_path: Path) -> GoHarness:
    return GoHarness(tmp_path / "robot")
