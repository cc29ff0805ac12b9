#!/usr/bin/env python3
"""Acceptance: Gopherbot's Lua, JavaScript and Go test robots, run unchanged by `burrow transcript`.

Reads a mirror of Gopherbot's repository at run time (nothing of it is kept in this project),
translates each test robot's configuration to Burrow's format (docs/configuration.md), copies
its extensions byte for byte, runs the real `burrow transcript` on the robot's suites exactly as
they are in the mirror, and prints per suite the cases passed, failed and skipped, with each
failing case's differences. See tests/upstream/README.md.

    .venv/bin/python tests/upstream/run_upstream.py [--mirror PATH] [--work DIR]

Without a mirror it says so and exits 0: there is nothing to accept against.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MIRROR = Path(
    os.environ.get("BURROW_GOPHERBOT_MIRROR", "/work/.mirror/lnxjedi+gopherbot/repo")
)
DEFAULT_ROBOTS = ("luafull", "jsfull", "gofull")
SUITES = "integration/suites/data"
STUB = """\
-- Written by tests/upstream/run_upstream.py. It stands in for a Gopherbot task that Burrow has
-- no binding for (a shell script): it does nothing, and a case that runs it is reported as
-- skipped, not failed.
local cmd = arg and arg[1] or ""
if cmd == "_configure" then
  return "{}"
end
return 0
"""
STUB_PATH = "upstream-stubs/stub.lua"


class Mirror:
    """A bare git mirror of Gopherbot, read at its HEAD."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True
        ).stdout

    def exists(self) -> bool:
        """Whether the mirror is there and readable."""
        try:
            self._git("rev-parse", "HEAD")
        except (OSError, subprocess.CalledProcessError):
            return False
        return True

    def commit(self) -> str:
        """The commit read."""
        return self._git("rev-parse", "--short", "HEAD").decode().strip()

    def files(self, folder: str) -> list[str]:
        """The paths under `folder`."""
        out = self._git("ls-tree", "-r", "--name-only", "HEAD", "--", folder)
        return out.decode().split()

    def read(self, path: str) -> bytes:
        """A file's bytes."""
        return self._git("show", f"HEAD:{path}")


# -- Go templates to ${VAR} ------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}")
_ENV = re.compile(r'env\s+"([A-Za-z_][A-Za-z0-9_]*)"(?:\s*\|\s*default\s+"([^"}]*)")?$')
_DEFINE = re.compile(r"(\$[A-Za-z_][A-Za-z0-9_]*)\s*:=\s*(.+)$")


def translate_template(text: str, where: str) -> str:
    """Gopherbot's `{{ env "X" | default "y" }}` and `$var` actions as Burrow's `${X:-y}`.

    Go's `env` is empty when a variable is unset, so a bare `env "X"` becomes `${X:-}`. Any
    other action is an error naming the file and line: translate it by hand.
    """
    variables: dict[str, str] = {}

    def expression(body: str, line: int) -> str:
        found = _ENV.match(body)
        if found is not None:
            return f"${{{found.group(1)}:-{found.group(2) or ''}}}"
        if body in variables:
            return variables[body]
        raise SystemExit(f"{where}:{line}: template action {{{{ {body} }}}} is not translated")

    out = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):

        def action(match: re.Match[str], number: int = number) -> str:
            if match.group(1) or match.group(3):
                raise SystemExit(f"{where}:{number}: whitespace-trimming actions not translated")
            body = match.group(2)
            defined = _DEFINE.match(body)
            if defined is not None:
                variables[defined.group(1)] = expression(defined.group(2).strip(), number)
                return ""
            return expression(body, number)

        out.append(_ACTION.sub(action, line))
    return "".join(out)


# -- the robot --------------------------------------------------------------------------------


@dataclass
class Robot:
    """A translated test robot."""

    name: str
    folder: Path
    notes: list[str] = field(default_factory=list)
    stubs: set[str] = field(default_factory=set)  # tasks standing in for shell scripts
    suffixes: tuple[str, ...] = ()


def _burrow_keys() -> set[str]:
    from burrow.engine.config.schema import RobotConfig

    return {f.alias or name for name, f in RobotConfig.model_fields.items()}


def _builtin_plugins() -> set[str]:
    from burrow.engine.builtins import builtin_tasks

    return set(builtin_tasks())


def _binding_suffixes() -> tuple[str, ...]:
    listed = subprocess.run(
        [sys.executable, "-m", "burrow", "bindings", "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return tuple(s for b in json.loads(listed)["bindings"] for s in b["suffixes"])


def translate_robot(mirror: Mirror, name: str, dest: Path, suffixes: tuple[str, ...]) -> Robot:
    """Write Burrow's configuration of test robot `name` to `dest`, with its extensions."""
    robot = Robot(name, dest, suffixes=suffixes)
    source = f"test/{name}/conf"
    files = set(mirror.files(source))
    robot_file = f"{source}/robot.yaml"
    config = yaml.safe_load(translate_template(mirror.read(robot_file).decode(), robot_file))
    protocol_file = f"{source}/protocols/test.yaml"
    if protocol_file in files:
        text = translate_template(mirror.read(protocol_file).decode(), protocol_file)
        settings = (yaml.safe_load(text) or {}).get("ProtocolConfig") or {}
        config["ProtocolConfig"] = {"test": settings}
        robot.notes.append(f"{protocol_file} → robot.yaml ProtocolConfig.test")
    known = _burrow_keys()
    for key in sorted(set(config) - known):
        del config[key]
        robot.notes.append(f"robot.yaml {key}: dropped (Burrow has no such key)")
    if config.get("Brain") == "mem":
        config["Brain"] = "memory"
        robot.notes.append("robot.yaml Brain: mem → memory")
    for kind in ("ExternalPlugins", "ExternalJobs", "ExternalTasks"):
        for task, spec in (config.get(kind) or {}).items():
            path = spec["Path"]
            if path.endswith(suffixes):
                target = dest / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(mirror.read(path))
            else:
                spec["Path"] = STUB_PATH
                robot.stubs.add(task)
                robot.notes.append(f"{kind}.{task}: {path} has no Burrow binding → a stub")
    if config.get("WorkSpace"):  # Gopherbot's runner makes it too
        (dest / str(config["WorkSpace"])).mkdir(parents=True, exist_ok=True)
    if robot.stubs:
        (dest / STUB_PATH).parent.mkdir(parents=True, exist_ok=True)
        (dest / STUB_PATH).write_text(STUB, encoding="utf-8")
    (dest / "conf" / "plugins").mkdir(parents=True, exist_ok=True)
    (dest / "conf" / "robot.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    declared = set(config.get("ExternalPlugins") or {}) | _builtin_plugins()
    for path in sorted(files):
        if not path.startswith(f"{source}/plugins/") or not path.endswith(".yaml"):
            continue
        plugin = Path(path).stem
        if plugin not in declared:
            robot.notes.append(f"plugins/{plugin}.yaml: dropped (no such plugin in this robot)")
            continue
        text = translate_template(mirror.read(path).decode(), path)
        (dest / "conf" / "plugins" / f"{plugin}.yaml").write_text(text, encoding="utf-8")
    return robot


def disabled_tasks(robot: Robot) -> dict[str, str]:
    """Why Burrow disables each task of the translated robot, after a real start-up load."""
    from burrow.engine.robot import Robot as BurrowRobot

    async def load() -> dict[str, str]:
        with tempfile.TemporaryDirectory(prefix="burrow-upstream-") as state:
            loaded = BurrowRobot(robot.folder, state_dir=Path(state))
            await loaded.load()
            try:
                return loaded.catalog.problems()
            finally:
                await loaded.stop(grace=1.0)

    logging.disable(logging.ERROR)  # the problems are printed below, once
    try:
        return asyncio.run(load())
    finally:
        logging.disable(logging.NOTSET)


# -- the suites -------------------------------------------------------------------------------


def suites_of(mirror: Mirror, robots: list[str], only: list[str]) -> list[tuple[str, str]]:
    """(robot, suite path) for every suite whose config_dir is one of the robots'."""
    found = []
    for path in mirror.files(SUITES):
        if not path.endswith(".yaml"):
            continue
        if only and not any(Path(path).stem.startswith(prefix) for prefix in only):
            continue
        data = yaml.safe_load(mirror.read(path))
        folder = str(data.get("config_dir", "")) if isinstance(data, dict) else ""
        if folder.startswith("test/") and folder[5:] in robots:
            found.append((folder[5:], path))
    return found


@dataclass
class Outcome:
    """One suite's cases, sorted."""

    suite: str
    passed: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def runner_env() -> dict[str, str]:
    """The environment Gopherbot's runner gives every suite, in Burrow's terms.

    It sets an encryption key (GOPHER_ENCRYPTION_KEY) so that EncryptSecret works; Burrow's is
    BURROW_ENCRYPTION_KEY, 32 random bytes in base64 (docs/brain.md). One already set is kept.
    """
    env = dict(os.environ)
    env.setdefault("BURROW_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    return env


def run_suite(robot: Robot, suite_file: Path, out: Path, timeout: str | None) -> Outcome:
    """Run the real `burrow transcript` on one suite and sort its cases."""
    command = [sys.executable, "-m", "burrow", "transcript", str(robot.folder), str(suite_file)]
    command += ["--json", str(out)] + (["--timeout", timeout] if timeout else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=runner_env())
    (out.with_suffix(".txt")).write_text(done.stdout + done.stderr, encoding="utf-8")
    outcome = Outcome(suite_file.stem)
    if done.returncode not in (0, 1) or not out.exists():
        outcome.error = (done.stderr or done.stdout).strip()
        return outcome
    for case in json.loads(out.read_text(encoding="utf-8"))[0]["cases"]:
        if case["passed"]:
            outcome.passed.append(case)
        elif robot.stubs & set(case["tasks"]):
            outcome.skipped.append(case)
        else:
            outcome.failed.append(case)
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Translate, run, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="Gopherbot mirror")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new one in /tmp)")
    parser.add_argument(
        "--robot", action="append", help="test robot (default: luafull, jsfull, gofull)"
    )
    parser.add_argument("--suite", action="append", default=[], help="only suites named so")
    parser.add_argument("--timeout", help="per case, e.g. 5s (default: Gopherbot's 14s)")
    args = parser.parse_args(argv)

    mirror = Mirror(args.mirror)
    if not mirror.exists():
        print(
            f"SKIPPED: no Gopherbot mirror at {args.mirror} (pass --mirror or set "
            "BURROW_GOPHERBOT_MIRROR to a clone of https://github.com/lnxjedi/gopherbot)"
        )
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="burrow-upstream-"))
    work.mkdir(parents=True, exist_ok=True)
    robots = args.robot or list(DEFAULT_ROBOTS)
    suffixes = _binding_suffixes()
    print(f"Gopherbot {mirror.commit()} from {args.mirror}; scratch folder {work}")

    translated = {}
    for name in robots:
        robot = translate_robot(mirror, name, work / name, suffixes)
        translated[name] = robot
        print(f"\n== robot {name} → {robot.folder}")
        for note in robot.notes:
            print(f"   {note}")
        for task, why in sorted(disabled_tasks(robot).items()):
            print(f"   DISABLED {task}: {why}")

    outcomes = []
    (work / "suites").mkdir(exist_ok=True)
    (work / "results").mkdir(exist_ok=True)
    for name, path in suites_of(mirror, robots, args.suite):
        suite_file = work / "suites" / Path(path).name
        suite_file.write_bytes(mirror.read(path))  # unmodified
        outcome = run_suite(
            translated[name], suite_file, work / "results" / f"{suite_file.stem}.json", args.timeout
        )
        outcomes.append(outcome)
        print(
            f"\n== {outcome.suite}: {len(outcome.passed)} passed, {len(outcome.failed)} "
            f"failed, {len(outcome.skipped)} skipped"
        )
        if outcome.error:
            print(f"   ERROR: {outcome.error}")
        for case in outcome.failed:
            print(f"   FAIL {case['title']}")
            for problem in case["problems"]:
                print("        " + problem.replace("\n", "\n        "))
        for case in outcome.skipped:
            stubs = sorted(translated[name].stubs & set(case["tasks"]))
            print(f"   SKIP {case['title']} (needs {', '.join(stubs)})")

    print("\n| suite | passed | failed | skipped |\n|---|---|---|---|")
    for o in outcomes:
        status = " (error)" if o.error else ""
        print(f"| {o.suite}{status} | {len(o.passed)} | {len(o.failed)} | {len(o.skipped)} |")
    print(f"\nTranscripts and JSON results: {work / 'results'}")
    return 1 if any(o.failed or o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
