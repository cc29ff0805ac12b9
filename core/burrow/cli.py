"""The `burrow` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from burrow import __version__


def _cmd_bindings(args: argparse.Namespace) -> int:
    from burrow.bindings.registry import SELECT_ENV, BindingRegistry

    registry = BindingRegistry.discover()
    if args.json:
        print(
            json.dumps(
                {
                    "bindings": [
                        {
                            "name": b.name,
                            "distribution": b.distribution,
                            "version": b.version,
                            "suffixes": list(b.suffixes),
                            "methods": sorted(b.methods),
                        }
                        for b in registry.bindings.values()
                    ],
                    "errors": [vars(e) for e in registry.errors],
                },
                indent=2,
            )
        )
        return 0
    if not registry.bindings and not registry.errors:
        print(f"no bindings loaded (installed ones may be filtered by {SELECT_ENV})")
    rows = [("NAME", "DISTRIBUTION", "VERSION", "SUFFIXES", "METHODS")]
    rows += [
        (b.name, b.distribution, b.version, " ".join(b.suffixes), " ".join(sorted(b.methods)))
        for b in registry.bindings.values()
    ]
    if registry.bindings:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print(
                "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
            )
    for error in registry.errors:
        source = error.distribution or "?"
        print(f"failed to load binding {error.entry_point!r} ({source}): {error.error}")
    return 0


# What the robot keeps in its state folder, and whether each is a folder.
_STATE_ENTRIES = {
    "logs": True,
    "robot.log": False,
    "terminal_history": False,
    "config-cache.sqlite3": False,
}
_FIX_ACCESS = (
    "let the robot's user write there (or fix the file system), or give --state another folder"
)


def _state_problem(state_dir: Path) -> str | None:
    """Why the robot cannot keep its state in `state_dir` (created if missing), or None."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it exists and is not a folder — give --state a folder (created if missing)"
    except NotADirectoryError:
        blocker = next((p for p in state_dir.parents if p.exists() and not p.is_dir()), None)
        where = f"{blocker} is a file" if blocker else "a part of the path is a file"
        return f"{where}, so no folder can be made under it — give --state another folder"
    except OSError as error:
        return f"it cannot be created: {error.strerror} — {_FIX_ACCESS}"
    try:
        for name, folder in _STATE_ENTRIES.items():
            entry = state_dir / name
            if entry.exists() and entry.is_dir() != folder:
                wrong, right = ("file", "folder") if folder else ("folder", "file")
                what = f"{entry} is a {wrong}, but the robot keeps its {name} {right} there"
                return f"{what} — move it away"
        # Write as the robot will: a file of its own, and robot.log.
        with tempfile.TemporaryFile(dir=state_dir):
            pass
        with (state_dir / "robot.log").open("a", encoding="utf-8"):
            pass
    except OSError as error:
        return f"it cannot be written: {error.strerror} — {_FIX_ACCESS}"
    return None


def _setup_logging(state_dir: Path, verbose: bool) -> None:
    handlers: list[logging.Handler] = [
        logging.FileHandler(state_dir / "robot.log", encoding="utf-8")
    ]
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handlers.append(console)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )


async def _run_robot(robot_dir: Path, state_dir: Path | None, config_cache: bool = True) -> int:
    from burrow.brain import BrainError
    from burrow.connectors import connector_factories
    from burrow.connectors.terminal import history_file
    from burrow.engine.config import ConfigError
    from burrow.engine.robot import Robot

    robot = Robot(robot_dir, state_dir=state_dir, config_cache=config_cache)
    try:
        await robot.load()
    except (ConfigError, BrainError) as exc:
        print(f"burrow: the robot cannot start: {exc}", file=sys.stderr)
        await robot.close_brain()
        return 2
    for name, why in robot.catalog.problems().items():
        print(f"burrow: {name} is disabled: {why}", file=sys.stderr)
    protocol = robot.config.primary_protocol
    factories = connector_factories()
    if protocol not in factories:
        print(
            f"burrow: PrimaryProtocol {protocol!r} has no connector; "
            f"installed: {sorted(factories)}",
            file=sys.stderr,
        )
        return 2
    config = dict(robot.config.protocol_config.get(protocol, {}))
    if protocol == "terminal":
        config.setdefault("HistoryFile", str(history_file(robot.state_dir)))
    elif protocol != "test":
        # Where a connector keeps its own state (a sync position...): docs/connectors.md.
        config["StateFolder"] = str(robot.state_dir)
    try:
        connector = factories[protocol](config)
    except ValueError as exc:  # the connector's word on its ProtocolConfig
        print(f"burrow: the robot cannot start: {exc}", file=sys.stderr)
        await robot.close_brain()
        return 2
    await robot.start({protocol: connector})
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, robot.request_stop)
    await robot.wait_stopped()
    await robot.stop()
    if robot.connector_failure is not None:
        print(f"burrow: the robot stopped: {robot.connector_failure}", file=sys.stderr)
        return 1
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    robot_dir = Path(args.robot_dir)
    state_dir = Path(args.state) if args.state else robot_dir / "state"
    problem = _state_problem(state_dir)
    if problem is not None:
        print(f"burrow: the state folder {state_dir} cannot be used: {problem}", file=sys.stderr)
        return 2
    _setup_logging(state_dir, args.verbose)
    return asyncio.run(_run_robot(robot_dir, state_dir, not args.no_config_cache))


def _cmd_transcript(args: argparse.Namespace) -> int:
    from burrow.engine.config import ConfigError
    from burrow.engine.config.durations import parse_duration
    from burrow.transcript import TranscriptError, as_json, load_suite, play, report

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR)
    status = 0
    runs = []
    for path in map(Path, args.suites):
        try:
            plan = load_suite(path)
            if args.timeout:
                plan.timeout = parse_duration(args.timeout)
                plan.case_timeout = plan.timeout if plan.case_timeout else None
            run = asyncio.run(play(Path(args.robot_dir), plan))
        except (TranscriptError, ConfigError, ValueError) as exc:
            print(f"burrow transcript: {exc}", file=sys.stderr)
            return 2
        text, passed = report(path, run)
        print(text)
        runs.append(as_json(path, run))
        status = status or (0 if passed else 1)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    return status


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"burrow {__version__} (protocol 1, Python {sys.version.split()[0]})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `burrow`."""
    parser = argparse.ArgumentParser(prog="burrow", description="Burrow, a polyglot chatops robot.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start a robot (default: the one in the current folder)")
    run.add_argument(
        "robot_dir",
        nargs="?",
        default=".",
        metavar="ROBOT_DIR",
        help="folder holding conf/robot.yaml (none: embedded defaults)",
    )
    run.add_argument("--state", metavar="DIR", help="state folder (default: ROBOT_DIR/state)")
    run.add_argument(
        "--no-config-cache",
        action="store_true",
        help="ask every extension for its default configuration instead of taking unchanged "
        "ones from STATE/config-cache.sqlite3 (the fresh answers replace the cached ones)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log debug output to stderr")
    run.set_defaults(handler=_cmd_run)

    transcript = commands.add_parser(
        "transcript", help="play conversation transcripts against a robot"
    )
    transcript.add_argument("robot_dir", metavar="ROBOT_DIR")
    transcript.add_argument("suites", nargs="+", metavar="SUITE.yaml")
    transcript.add_argument(
        "--timeout",
        metavar="DURATION",
        help="wait this long for each expected reply (Gopherbot suites: for each case), "
        "e.g. 5s; default 10s (Gopherbot suites: 14s)",
    )
    transcript.add_argument(
        "--json", metavar="FILE", help="also write the results, case by case, as JSON"
    )
    transcript.add_argument("-v", "--verbose", action="store_true")
    transcript.set_defaults(handler=_cmd_transcript)

    bindings = commands.add_parser("bindings", help="list the installed language bindings")
    bindings.add_argument("--json", action="store_true", help="machine-readable output")
    bindings.set_defaults(handler=_cmd_bindings)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `burrow` console script."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
