"""Routing cost: what one heard message costs the robot, by the number of configured commands.

    .venv/bin/python benchmarks/routing.py [--sizes 10,100,1000,10000] [--runs 300]
                                           [--budget 3] [--json PATH]

A robot is loaded on the test connector, then given a catalog of N plugins of one command each
(every tenth also with an ambient matcher; the command regexes rotate through a few realistic
shapes) and the built-ins. Rows, each the median over `--runs` messages (fewer if a cell
exceeds `--budget` seconds), every message text new so that no DFA cache flatters the figure:

- `decide`: the routing decision alone (`burrow.engine.routing.decide`), for an addressed
  command that matches nothing, one that matches, and unaddressed chatter;
- `Robot.route`: the same messages through the robot, effects included (the "Sorry, I don't
  know" reply goes out through the test connector);
- the routing index's build, once per load (this one grows with the catalog, as it must).

Each figure is also shown as a ratio to the figure with the fewest commands, measured in the
same run: per message, routing should stay flat as commands are added. The `Robot.route` rows
run against any version of the engine (the `decide` rows need `burrow.engine.routing`), so a
before/after comparison is this same command with PYTHONPATH pointing at the older tree's
`core` (e.g. from `git archive`).

`section()` (for benchmarks/run.py) shows each figure also as a ratio to the same-run baseline
of spawning `python -I -S -c pass`, and keeps the ratio to the fewest commands in `extra`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _common import Section

from burrow.connectors.base import IncomingMessage
from burrow.connectors.testing import TestConnector
from burrow.engine.builtins import builtin_tasks
from burrow.engine.catalog import Catalog, TaskDef, TaskKind
from burrow.engine.matching import CommandMatcher, MessageMatcher, PluginRoutes
from burrow.engine.policy import PluginPolicy
from burrow.engine.robot import Robot

try:
    from burrow.engine import routing
except ImportError:  # an engine from before routing was a module of its own
    routing = None  # type: ignore[assignment]

ROBOT_YAML = """\
BotInfo: {UserName: burrow}
Alias: ";"
UserRoster: [{UserName: alice}]
"""

# Command regexes of the shapes plugins use; {i} makes each plugin's own.
SHAPES = (
    r"(?i:cmd{i})",
    r"(?i:show\s+cmd{i})\s+(\w+)",
    r"(?i:cmd{i})(?:\s+(.+))?",
    r"(?i:deploy)\s+(\S+)\s+(?i:to)\s+(?i:env{i})",
    r"(?i:remind\s+me\s+in\s+(\d+)\s+(?:minutes?|hours?)\s+to\s+cmd{i})\s+(.*)",
)
WORDS = (
    "alpha beta gamma delta status of the build please show me list add remove deploy "
    "production staging why does this keep failing again today tomorrow"
).split()


async def _unused(pipeline: Any, run: Any) -> int:
    return 0


def synthetic_catalog(n: int) -> Catalog:
    """The built-ins and `n` plugins of one command each; every tenth hears `word<i>` too."""
    tasks = dict(builtin_tasks())
    for i in range(n):
        name = f"p{i:05d}"
        matchers = (MessageMatcher("heard", rf"(?i)\bword{i}\b"),) if i % 10 == 0 else ()
        routes = PluginRoutes(
            name,
            commands=(CommandMatcher("go", SHAPES[i % len(SHAPES)].format(i=i)),),
            message_matchers=matchers,
        )
        channels = frozenset({"ops"}) if i % 7 == 3 else None  # a few are not heard in general
        policy = PluginPolicy(name, channels=channels)
        tasks[name] = TaskDef(name, TaskKind.PLUGIN, builtin=_unused, routes=routes, policy=policy)
    return Catalog(tasks)


def chatter(rng: random.Random, k: int) -> str:
    """A new sentence of ordinary words that no command or matcher takes."""
    return " ".join(rng.choices(WORDS, k=8)) + f" {k}"


def message(text: str) -> IncomingMessage:
    return IncomingMessage(protocol="test", user="alice", text=text, channel="general")


def decider(index: Any, text: Callable[[int], str]) -> Callable[[int], Awaitable[Any]]:
    """`routing.decide` for the k-th message `text(k)`, as a coroutine (to share `timed`)."""
    state = routing.RobotState(hidden_supported=True)

    async def call(k: int) -> Any:
        return routing.decide(message(text(k)), index, state)

    return call


async def timed(call: Callable[[int], Awaitable[object]], runs: int, budget: float) -> list[float]:
    """Seconds per call of `call(k)` for k = 0, 1, ..., at least 3 and at most `runs` times."""
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    for k in range(runs):
        start = time.perf_counter()
        await call(k)
        samples.append(time.perf_counter() - start)
        if k >= 2 and time.perf_counter() > deadline:
            break
    return samples


async def measure(root: Path, sizes: list[int], runs: int, budget: float) -> dict[str, Any]:
    """{measure: {size: samples}} for every row."""
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    robot = Robot(root, state_dir=root / "state", environ={**os.environ, "BURROW_ZYGOTE": "off"})
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    rows: dict[str, dict[int, list[float]]] = {}
    rng = random.Random(1)

    def row(label: str, size: int, samples: list[float]) -> None:
        rows.setdefault(label, {})[size] = samples

    try:
        for size in sizes:
            robot.catalog = synthetic_catalog(size)
            # A plugin of the third shape near the middle of the catalog, heard in general.
            middle = next(i for i in range(size // 2, size) if i % 5 == 2 and i % 7 != 3)
            matched = f";cmd{middle} the widget"
            if routing is not None:
                start = time.perf_counter()
                index = robot.routing_index()
                row("index build, once per load", size, [time.perf_counter() - start])
                unmatched = decider(index, lambda k: f";frobnicate the widget {k}")
                hit = decider(index, lambda k, text=matched: f"{text} {k}")
                heard = decider(index, lambda k: chatter(rng, k))
                assert (await unmatched(0)).reason is routing.Reason.UNKNOWN_COMMAND
                assert (await hit(0)).reason is routing.Reason.COMMAND
                assert (await heard(0)).reason is routing.Reason.CHATTER
                row("decide: addressed, unmatched", size, await timed(unmatched, runs, budget))
                row("decide: addressed, matched", size, await timed(hit, runs, budget))
                row("decide: unaddressed chatter", size, await timed(heard, runs, budget))

            async def route_unmatched(k: int) -> None:
                await robot.route(message(f";frobnicate {chatter(rng, k)}"))

            async def route_chatter(k: int) -> None:
                await robot.route(message(chatter(rng, k)))

            await route_unmatched(0)  # warm up, and check it went where it should
            reply = connector.drain()
            # Upstream's fallback answer to an addressed message that matches nothing.
            assert len(reply) == 1 and reply[0].text.startswith("I couldn't match"), reply
            row(
                "Robot.route: addressed, unmatched",
                size,
                await timed(route_unmatched, runs, budget),
            )
            assert len(connector.drain()) == len(rows["Robot.route: addressed, unmatched"][size])
            row("Robot.route: unaddressed chatter", size, await timed(route_chatter, runs, budget))
            assert not connector.drain()
    finally:
        await robot.stop(grace=2)
    return rows


ROW_KEYS = {
    "index build, once per load": "index_build",
    "decide: addressed, unmatched": "decide.unmatched",
    "decide: addressed, matched": "decide.matched",
    "decide: unaddressed chatter": "decide.chatter",
    "Robot.route: addressed, unmatched": "route.unmatched",
    "Robot.route: unaddressed chatter": "route.chatter",
}


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py: 10 to 10000 commands (10 and 1000 when quick)."""
    logging.getLogger("burrow").setLevel(logging.ERROR)
    sizes, runs, budget = ([10, 1000], 30, 0.3) if quick else ([10, 100, 1000, 10000], 300, 3.0)
    out = Section.start("routing", 30, sizes=sizes, runs=runs, budget_s=budget)
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(Path(tmp) / "robot", sizes, runs, budget))
    for label, by_size in rows.items():
        first = statistics.median(by_size[sizes[0]])
        for n in sizes:
            out.add_time(
                f"{ROW_KEYS.get(label, label)}.{n}",
                f"{label}, {n} commands",
                by_size[n],
                **{f"ratio_to_{sizes[0]}": round(statistics.median(by_size[n]) / first, 3)},
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell at most")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/routing.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(Path(tmp) / "robot", sizes, args.runs, args.budget))
    base = sizes[0]
    width = max(len(label) for label in rows) + 2
    cells = "".join(f"{f'{n} ms':>11}" for n in sizes)
    ratios = "".join(f"{f'{n} x{base}':>11}" for n in sizes[1:])
    print(f"{'measure (median), by commands':<{width}}{cells}{ratios}")
    results: list[dict[str, Any]] = []
    for label, by_size in rows.items():
        medians = {n: statistics.median(s) * 1000 for n, s in by_size.items()}
        line = "".join(f"{medians[n]:>11.4f}" for n in sizes)
        line += "".join(f"{medians[n] / medians[base]:>11.2f}" for n in sizes[1:])
        print(f"{label:<{width}}{line}")
        for n in sizes:
            results.append(
                {
                    "measure": label,
                    "plugins": n,
                    "samples": len(by_size[n]),
                    "median_ms": round(medians[n], 4),
                    f"ratio_to_{base}": round(medians[n] / medians[base], 3),
                }
            )
    print(
        f"(baseline: the same measure with {base} plugins in this run; runs={args.runs}, "
        f"budget={args.budget}s, cpus={os.cpu_count()}, Python {sys.version.split()[0]})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"sizes": sizes, "runs": args.runs, "baseline_plugins": base}
    args.json.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
