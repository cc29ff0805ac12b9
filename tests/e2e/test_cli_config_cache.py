"""The real `burrow run` with the configuration cache: restarts, `--no-config-cache`, the state.

A Lua plugin answers `;hi` on the terminal connector; robot.log says where each start took
the plugins' default configurations from (docs/operations.md, "Configuration cache").
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from burrow.engine.config_cache import CACHE_FILE
from support import burrow

HELLO = """\
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  return "Commands: [{Command: hi, Regex: '(?i:hi)'}]"
end
gopherbot.Robot:new():Say("hello from lua")
return gopherbot.task.Normal
"""


def _robot(root: Path) -> None:
    (root / "conf").mkdir(parents=True)
    (root / "plugins").mkdir()
    (root / "plugins" / "hello.lua").write_text(HELLO)
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n  hello: {Path: plugins/hello.lua}\n"
    )


def _run(root: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`burrow run` once with `;hi`; its result and the robot.log lines it added."""
    log = root / "state" / "robot.log"
    before = log.read_text() if log.exists() else ""
    result = burrow("run", str(root), *options, stdin=";hi\n")
    assert result.returncode == 0, result.stderr
    assert "hello from lua" in result.stdout, result.stdout + result.stderr
    return result, log.read_text()[len(before) :]


def test_a_restart_takes_the_configuration_from_the_cache_and_the_flag_bypasses_it(
    tmp_path: Path,
) -> None:
    _robot(tmp_path)

    _, first = _run(tmp_path)
    assert "default configurations: 0 from the cache, 1 asked (1 new" in first
    assert (tmp_path / "state" / CACHE_FILE).is_file()

    _, second = _run(tmp_path)
    assert "default configurations: 1 from the cache, 0 asked" in second

    _, bypassed = _run(tmp_path, "--no-config-cache")
    assert "0 from the cache, 1 asked (1 new, 0 changed, 0 damaged), cache not read" in bypassed

    (tmp_path / "plugins" / "hello.lua").write_text(HELLO.replace("(?i:hi)", "(?i:hi|hey)"))
    _, edited = _run(tmp_path)
    assert "plugin 'hello': the cached default configuration is stale (changed: file" in edited
    assert "0 from the cache, 1 asked (0 new, 1 changed, 0 damaged)" in edited


def test_the_help_names_the_flag() -> None:
    result = burrow("run", "--help")
    assert "--no-config-cache" in result.stdout


def test_a_folder_in_place_of_the_cache_file_is_refused_at_start(tmp_path: Path) -> None:
    _robot(tmp_path)
    (tmp_path / "state" / CACHE_FILE).mkdir(parents=True)

    result = burrow("run", str(tmp_path), stdin=";hi\n")

    assert result.returncode == 2
    assert f"{tmp_path / 'state' / CACHE_FILE} is a folder, but the robot keeps its" in (
        result.stderr
    )
    assert "move it away" in result.stderr
