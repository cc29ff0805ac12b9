"""`python -m burrow_go build [ROBOT_DIR]`: build every Go extension of a robot into the cache.

Run it as the account (and with the HOME) the robot's children have, before starting the
robot or after editing, so that no extension is built at the robot's start or at a command:
each program is built under the cache's lock, as a child would build it. It prints one line
per extension (`built`, `cached`, or its compile error at file:line) and exits 1 if any
cannot be built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from burrow_go.build import BuildError, Located, NoToolchain

KINDS = (("external_plugins", "plugin"), ("external_jobs", "job"), ("external_tasks", "task"))


def go_extensions(robot_dir: Path) -> list[tuple[str, str, Path]]:
    """(name, kind, path) of every `.go` extension robot.yaml declares."""
    from burrow.engine.config.loader import load_robot

    loaded = load_robot(robot_dir, os.environ)
    found = []
    for key, kind in KINDS:
        for name, spec in getattr(loaded.config, key).items():
            if spec.path.suffix == ".go":
                found.append((name, kind, spec.path))
    return found


def build_all(robot_dir: Path) -> int:
    """Build each extension; print what happened; 0 if all are built."""
    from burrow.engine.config.loader import ConfigError

    try:
        extensions = go_extensions(robot_dir)
    except ConfigError as exc:
        print(f"burrow_go: {robot_dir}: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name, kind, path in extensions:
        started = time.monotonic()
        try:
            located = Located(str(path.resolve()), kind)
            was_built = located.built()
            located.build()
        except NoToolchain as exc:
            print(f"burrow_go: {exc}", file=sys.stderr)
            return 2
        except (BuildError, OSError) as exc:
            failed += 1
            print(f"{kind} {name}: FAILED: {exc}")
            continue
        took = time.monotonic() - started
        print(f"{kind} {name}: {'cached' if was_built else f'built in {took:.1f} s'}")
    if not extensions:
        print(f"{robot_dir}: no Go extensions")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m burrow_go", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build every Go extension of a robot")
    build.add_argument("robot_dir", nargs="?", default=".", type=Path)
    args = parser.parse_args(argv)
    return build_all(args.robot_dir)


if __name__ == "__main__":
    sys.exit(main())
