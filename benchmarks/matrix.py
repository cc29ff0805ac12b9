"""The Matrix connector: message in -> reply out through a real Synapse, beside the test connector.

    .venv/bin/python benchmarks/matrix.py [--runs 100] [--users 4] [--messages 50] [--json PATH]

Starts a Synapse homeserver on loopback (as tests/matrix does: generated configuration,
SQLite, raised rate limits) and a robot with `burrow run` on the `matrix` connector. A person
sends a command to #general and long-polls /sync until the robot's answer arrives: that is one
sample, for the built-in `ping` (no child) and a trivial Lua command (`echo`, one one-shot
child). The same two commands go through an in-process robot on the test connector in the same
run, and every figure is shown beside the same-run baseline of spawning `python -I -S -c pass`.
Then `--users` people each send `--messages` commands at once, without waiting for answers:
the table says how many were answered, answered twice, and lost. Not part of benchmarks/run.py:
starting Synapse and 500 messages take about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import BASELINE_LABEL, spawn_baseline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "matrix"))

from matrix_client import Person  # noqa: E402 - the tests' own Matrix client and server
from matrix_robot import LUA_PLUGIN, Robot  # noqa: E402
from synapse_server import Synapse  # noqa: E402

from burrow.connectors.testing import TestConnector  # noqa: E402
from burrow.engine.robot import Robot as InProcessRobot  # noqa: E402

COMMANDS = {"ping": (";ping", "PONG"), "lua": (";echo hi", "hi")}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _test_connector(root: Path, runs: int) -> dict[str, list[float]]:
    """The same commands through an in-process robot on the test connector."""
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "ext" / "mx.lua").write_text(LUA_PLUGIN)
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n  mx: {Path: ext/mx.lua}\n"
    )
    robot = InProcessRobot(root, state_dir=root / "state", environ=dict(os.environ))
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    samples: dict[str, list[float]] = {}
    try:
        for name, (command, answer) in COMMANDS.items():
            times = []
            for _ in range(runs + 2):
                start = time.perf_counter()
                await connector.inject("alice", command, "general")
                sent = await connector.next_sent(30)
                assert sent is not None and sent.text == answer, sent
                times.append(time.perf_counter() - start)
                await asyncio.sleep(0.01)
            samples[name] = times[2:]
    finally:
        await robot.stop(grace=5)
    return samples


def _through_synapse(person: Person, robot: Robot, room: str, runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {}
    person.sync()
    for name, (command, answer) in COMMANDS.items():
        times = []
        for i in range(runs + 2):
            start = time.perf_counter()
            person.send(room, command)
            want = i + 1

            def answered(seen: Any, answer: str = answer) -> bool:
                return seen.sender == robot.account.user_id and seen.body.endswith(answer)

            person.wait_for(answered, count=want, timeout=60)
            times.append(time.perf_counter() - start)
            time.sleep(0.01)
        samples[name] = times[2:]
        person.seen.clear()
    return samples


def _burst(synapse: Synapse, robot: Robot, room: str, users: int, messages: int) -> dict[str, Any]:
    """`users` people send `messages` commands each, at once; count the answers."""
    people = [Person(synapse.url, synapse.register(f"burst{n}")) for n in range(users)]
    for person in people:
        person.join(room)
    observer = people[0]
    observer.sync()
    expected = {f"burst{n}: m{n}-{i}" for n in range(users) for i in range(messages)}
    errors: list[Exception] = []

    def talk(n: int, person: Person) -> None:
        try:
            for i in range(messages):
                person.send(room, f";echo m{n}-{i}")
        except Exception as exc:  # noqa: BLE001 - counted and shown in the results
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=talk, args=(n, p)) for n, p in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_in = time.perf_counter() - start

    def mine(seen: Any) -> bool:
        return seen.sender == robot.account.user_id and seen.body in expected

    try:
        observer.wait_for(mine, count=len(expected), timeout=180)
    except AssertionError:
        pass
    last = time.perf_counter() - start
    # Anything late or doubled shows up in the next seconds.
    answers = Counter(s.body for s in observer.quiet_for(mine, 3.0))
    return {
        "users": users,
        "messages_each": messages,
        "sent": users * messages - len(errors),
        "answered": len(answers),
        "duplicated": sum(count - 1 for count in answers.values()),
        "lost": len(expected - set(answers)),
        "send_errors": [repr(e) for e in errors],
        "seconds_to_send": round(sent_in, 3),
        "seconds_to_last_answer": round(last, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/matrix.json"))
    args = parser.parse_args()
    base = spawn_baseline(min(args.runs, 50))
    with tempfile.TemporaryDirectory() as tmp:
        local = asyncio.run(_test_connector(Path(tmp) / "test-robot", args.runs))
        synapse = Synapse(Path(tmp) / "synapse")
        synapse.start()
        try:
            alice = Person(synapse.url, synapse.register("alice"))
            room = alice.create_room("general")
            robot = Robot(Path(tmp) / "robot", synapse.url, synapse.register("burrowbot"))
            robot.start()
            try:
                remote = _through_synapse(alice, robot, room, args.runs)
                burst = _burst(synapse, robot, room, args.users, args.messages)
            finally:
                robot.stop()
        finally:
            synapse.stop()
    base_ms = statistics.median(base) * 1000
    rows = [(BASELINE_LABEL, base)]
    for name, label in (("ping", "built-in ping"), ("lua", "trivial Lua command (echo)")):
        rows.append((f"test connector: {label}", local[name]))
        rows.append((f"matrix via Synapse: {label}", remote[name]))
    width = max(len(label) for label, _ in rows) + 2
    print(f"{'message in -> reply out':<{width}} {'p50 ms':>9} {'p99 ms':>9} {'p50 x base':>11}")
    results = []
    for label, values in rows:
        p50, p99 = statistics.median(values) * 1000, _percentile(values, 0.99) * 1000
        print(f"{label:<{width}} {p50:>9.2f} {p99:>9.2f} {p50 / base_ms:>11.2f}")
        results.append(
            {
                "measure": label,
                "samples": len(values),
                "median_ms": round(p50, 3),
                "p99_ms": round(p99, 3),
                "ratio_to_baseline": round(p50 / base_ms, 3),
            }
        )
    print(
        f"\n{burst['users']} users x {burst['messages_each']} messages at once: "
        f"{burst['answered']} answered, {burst['duplicated']} duplicated, {burst['lost']} lost; "
        f"sent in {burst['seconds_to_send']:.1f} s, last answer after "
        f"{burst['seconds_to_last_answer']:.1f} s"
    )
    print(f"(runs={args.runs}, Python {sys.version.split()[0]})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"runs": args.runs, "results": results, "burst": burst}, indent=2) + "\n"
    )
    print(f"wrote {args.json}")
    return 0 if burst["lost"] == 0 and burst["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
