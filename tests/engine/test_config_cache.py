"""The configuration cache: a restart with unchanged extensions runs no `_get_config` child.

Real robots load real extension files (the test binding's YAML scripts, and Lua) in real
children, with the cache in a real SQLite file of the state folder. Children are counted by a
robot whose spawner counts before handing each start to the real one; at load, every child is
a `_get_config` child.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.engine.catalog import Catalog
from burrow.engine.config_cache import CACHE_FILE
from burrow.engine.robot import Robot
from burrow.runner.process import ChildProcess, SpawnedChild, Spawner
from support import run


class CountingRobot(Robot):
    """A robot that counts the children it starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.children = 0

    @property
    def spawner(self) -> Spawner:
        real = self.zygote.spawn if self.zygote is not None else SpawnedChild.spawn

        async def spawn(*args: Any, **kwargs: Any) -> ChildProcess:
            self.children += 1
            return await real(*args, **kwargs)

        return spawn


def script(command: str) -> str:
    """A test-binding extension whose default configuration has the one command `command`."""
    return f"config: |\n  Commands: [{{Command: {command}, Regex: '{command}'}}]\n"


def write_robot(root: Path, extensions: dict[str, str]) -> None:
    """A robot whose plugins are `extensions` (file name under ext/ -> content)."""
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "ext").mkdir(exist_ok=True)
    lines = ["ExternalPlugins:"]
    for file, content in extensions.items():
        (root / "ext" / file).write_text(content)
        lines.append(f"  {Path(file).stem}: {{Path: ext/{file}}}")
    (root / "conf" / "robot.yaml").write_text("\n".join(lines) + "\n")


def start(root: Path, **options: Any) -> tuple[int, Catalog]:
    """Load the robot in `root` (state in root/state); the children it ran, and its catalog."""

    async def load() -> tuple[int, Catalog]:
        robot = CountingRobot(root, state_dir=root / "state", **options)
        await robot.load()
        await robot.stop()
        return robot.children, robot.catalog

    return run(load())


def commands(catalog: Catalog, name: str) -> list[str]:
    """The commands a plugin of the catalog routes."""
    task = catalog.get(name)
    assert task is not None and task.routes is not None, catalog.problems()
    return [c.command for c in task.routes.commands]


def cache_rows(root: Path) -> dict[str, str]:
    """Task name -> cached default configuration, read straight from the file."""
    with sqlite3.connect(root / "state" / CACHE_FILE) as conn:
        return dict(conn.execute("SELECT name, config FROM default_config").fetchall())


@pytest.fixture
def robot_dir(tmp_path: Path) -> Path:
    root = tmp_path / "robot"
    write_robot(root, {"alpha.test": script("one"), "beta.test": script("two")})
    return root


def test_an_unchanged_restart_runs_no_configuration_child(robot_dir: Path) -> None:
    cold_children, cold = start(robot_dir)
    assert cold_children == 2
    assert set(cache_rows(robot_dir)) == {"alpha", "beta"}

    children, cached = start(robot_dir)

    assert children == 0
    assert commands(cached, "alpha") == commands(cold, "alpha") == ["one"]
    assert commands(cached, "beta") == ["two"]
    assert cached.problems() == cold.problems() == {}


def test_a_lua_extension_is_cached_too(tmp_path: Path) -> None:
    root = tmp_path / "robot"
    lua = 'if arg[1] == "_configure" then return "Commands: [{Command: hi, Regex: hi}]" end\n'
    write_robot(root, {"hello.lua": lua})

    assert start(root)[0] == 1
    children, catalog = start(root)

    assert children == 0
    assert commands(catalog, "hello") == ["hi"]


def test_an_edited_file_is_asked_again_and_only_it(
    robot_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start(robot_dir)
    (robot_dir / "ext" / "alpha.test").write_text(script("uno"))

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir)

    assert children == 1
    assert commands(catalog, "alpha") == ["uno"]
    assert commands(catalog, "beta") == ["two"]
    assert "plugin 'alpha': the cached default configuration is stale (changed: file sha256)" in (
        caplog.text
    )
    assert "default configurations: 1 from the cache, 1 asked (0 new, 1 changed" in caplog.text
    assert start(robot_dir)[0] == 0  # the new answer was kept


def test_a_change_under_lib_asks_every_extension_again(robot_dir: Path) -> None:
    (robot_dir / "lib").mkdir()
    (robot_dir / "lib" / "shared.lua").write_text("return {}\n")
    assert start(robot_dir)[0] == 2
    assert start(robot_dir)[0] == 0

    (robot_dir / "lib" / "shared.lua").write_text("return {changed = true}\n")

    assert start(robot_dir)[0] == 2


def test_a_new_binding_version_asks_its_extensions_again(
    robot_dir: Path, registry: BindingRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    # The upgrade is simulated in the registry the robot is given: the same installed binding
    # reported with another version, which is all the robot knows of an upgrade.
    start(robot_dir, registry=registry)
    installed = registry.bindings["test"]
    assert installed.version == "0.0.1"
    upgraded = Binding(
        installed.name, installed.suffixes, installed.methods, installed.distribution, "0.0.2"
    )
    after_upgrade = BindingRegistry(bindings={**registry.bindings, "test": upgraded})

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir, registry=after_upgrade)

    assert children == 2
    assert commands(catalog, "alpha") == ["one"]
    assert "changed: binding version '0.0.1' -> '0.0.2')" in caplog.text
    assert start(robot_dir, registry=after_upgrade)[0] == 0


def test_a_damaged_entry_is_not_used_and_is_rebuilt(
    robot_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start(robot_dir)
    with sqlite3.connect(robot_dir / "state" / CACHE_FILE) as conn:
        conn.execute(
            "UPDATE default_config SET config = ? WHERE name = 'alpha'",
            ["Commands: [{Command: forged, Regex: forged}]"],
        )

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir)

    assert children == 1
    assert commands(catalog, "alpha") == ["one"]
    assert "plugin 'alpha': the cached default configuration is damaged" in caplog.text
    assert "forged" not in cache_rows(robot_dir)["alpha"]
    assert start(robot_dir)[0] == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_file_is_started_afresh(
    robot_dir: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    start(robot_dir)
    path = robot_dir / "state" / CACHE_FILE
    if damage == "garbage":
        path.write_bytes(b"\x00not a database\xff" * 512)
    else:
        path.write_bytes(path.read_bytes()[:60])  # cut inside SQLite's 100-byte header

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir)

    assert children == 2
    assert commands(catalog, "beta") == ["two"]
    # Garbage is "damaged"; a file cut inside its header reads as holding no cache at all.
    said = "is damaged" if damage == "garbage" else "holds no cache of format 1"
    assert f"the configuration cache {path} {said}" in caplog.text
    assert "started afresh" in caplog.text
    assert set(cache_rows(robot_dir)) == {"alpha", "beta"}
    assert start(robot_dir)[0] == 0


def test_a_cache_cut_short_inside_its_pages_is_started_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "robot"
    # Enough rows for several pages, so the cut leaves a valid header and missing pages.
    write_robot(root, {f"p{n}.test": script(f"c{n}" + "x" * 400) for n in range(40)})
    assert start(root)[0] == 40
    path = root / "state" / CACHE_FILE
    data = path.read_bytes()
    assert len(data) > 4 * 4096
    path.write_bytes(data[: len(data) // 2])

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(root)

    assert children == 40
    assert catalog.problems() == {}
    assert "is damaged" in caplog.text
    assert start(root)[0] == 0


def test_without_the_cache_every_extension_is_asked_and_the_cache_refreshed(
    robot_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start(robot_dir)

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir, config_cache=False)

    assert children == 2
    assert commands(catalog, "alpha") == ["one"]
    assert "0 from the cache, 2 asked (2 new, 0 changed, 0 damaged), cache not read" in (
        caplog.text
    )
    assert start(robot_dir)[0] == 0


def test_a_failed_configuration_is_not_cached_and_is_asked_at_every_start(
    robot_dir: Path,
) -> None:
    (robot_dir / "ext" / "beta.test").write_text("config: [never closed\n")

    children, catalog = start(robot_dir)
    assert children == 2
    beta = catalog.get("beta")  # not disabled, as upstream: it keeps its file's configuration
    assert beta is not None and not beta.disabled and "could not be read" in beta.config_warning
    assert set(cache_rows(robot_dir)) == {"alpha"}

    children, catalog = start(robot_dir)
    assert children == 1  # beta again, alpha from the cache
    beta = catalog.get("beta")
    assert beta is not None and "could not be read" in beta.config_warning


def test_an_extension_that_starts_failing_loses_its_entry(robot_dir: Path) -> None:
    start(robot_dir)
    (robot_dir / "ext" / "beta.test").write_text("config: [never closed\n")
    start(robot_dir)
    assert set(cache_rows(robot_dir)) == {"alpha"}


def test_entries_of_removed_plugins_are_dropped(robot_dir: Path) -> None:
    start(robot_dir)
    write_robot(robot_dir, {"alpha.test": script("one")})  # beta no longer declared

    assert start(robot_dir)[0] == 0
    assert set(cache_rows(robot_dir)) == {"alpha"}


def test_a_cache_that_cannot_be_opened_only_costs_the_children(
    robot_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (robot_dir / "state" / CACHE_FILE).mkdir(parents=True)  # a folder where the file goes

    with caplog.at_level(logging.INFO, logger="burrow"):
        children, catalog = start(robot_dir)

    assert children == 2
    assert catalog.problems() == {}
    assert "cannot be written" in caplog.text
    assert (robot_dir / "state" / CACHE_FILE).is_dir()  # nothing of the robot's was removed
