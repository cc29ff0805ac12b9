"""The hostile harness: a real robot on the test connector, running hostile Lua or JS.

`HostileRobot` (the fixture `h` of conftest.py) writes a robot folder with extensions in one
language (`h.plugin(...)`, `h.job(...)`), starts the real robot (real children forked by its
zygote, real lupa or V8, the real SQLite brain) and offers the three checks of every case:

- `await h.alive(within=...)`: alice's `;ping` (in another channel) is answered within the
  bound; with `during="name"` the hostile pipeline must still be running when PONG arrives;
- `await h.told(...)`, `await h.failures(...)`: what bob was told (the clear error or refusal);
- `h.leaks()`: after the robot stopped, what it left behind: child processes (anything whose
  parent is this process, or whose process group or session is that of a child seen while
  the robot ran), descriptors of this process beyond those open before the case, and the
  datum seeded into the brain before the case that is no longer on disk as written.
  `h.play(script)` runs a case and asserts that `h.leaks()` is empty, so no case can forget.

The robot's environment carries a canary variable and a real `BURROW_ENCRYPTION_KEY`, neither
of which an extension may ever see.
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from burrow.brain.registry import discover_brains
from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.robot import Robot
from support import run

T = TypeVar("T")

LANGUAGES = ("lua", "js")
SUFFIX = {"lua": ".lua", "js": ".js"}

CANARY_NAME = "HOSTILE_CANARY"
CANARY = "canary-5e3b1f-do-not-leak"

# Every hostile plugin runs under these timeouts unless a case says otherwise.
KILL_SECONDS = 2.0
TIMEOUTS = "TimeOuts: {Warn: 500ms, Kill: 2s}\n"

# How long a flood of work in the robot may delay another user's ping.
ALIVE_WITHIN = 2.5

SEED_NAMESPACE, SEED_KEY = "keeper", "seed"
SEED = {"written": "before the case", "items": [1, 2, 3], "nested": {"ok": True}}

ROBOT_YAML = """\
BotInfo: {UserName: burrow, FullName: Burrow Robot, Email: burrow@example.com}
Alias: ";"
AdminUsers: [alice]
AdminContact: "Alice <alice@example.com>"
UserRoster:
  - {UserName: alice, UserID: U001, Email: alice@example.com, FullName: Alice Admin}
  - {UserName: bob, UserID: U002, Email: bob@example.com, FullName: Bob User}
DefaultChannels: [general, random]
DefaultJobChannel: jobs
"""

LUA_TEMPLATE = """\
if arg[1] == "_configure" then
  return {configure}
end
local gopherbot = require "gopherbot_v1"
local ret, task, log = gopherbot.ret, gopherbot.task, gopherbot.log
local bot = gopherbot.Robot:new()
local command = arg[1]; if command == "_init" then return task.Normal end
{body}
"""

JS_TEMPLATE = """\
const {{ Robot, ret, task, log, fmt }} = require("gopherbot_v1")();
function main(command, ...args) {{
  if (command === "_configure") return {configure};
  if (command === "_init") return task.Normal; const bot = new Robot();
{body}
}}
main(...process.argv.slice(2));
"""


def source(lang: str, body: str, configure: str, configure_expr: str | None = None) -> str:
    """An extension in `lang` answering `_configure` with the YAML `configure`, `_init` with
    Normal (the upstream way), else running `body`.

    `configure_expr`, an expression in `lang`, replaces `configure` (for answers that YAML
    text in a literal cannot express).

    Lua's body runs at chunk level with `bot`, `ret`, `task`, `log` and `command` in scope; a
    JavaScript body is the body of `main(command, ...args)` with `bot`, `ret`, `task`, `log`,
    `fmt` in scope (its `return` is the task's result).
    """
    body = textwrap.dedent(body).strip("\n")
    if lang == "lua":
        answer = configure_expr or _lua_string(configure)
        return LUA_TEMPLATE.format(configure=answer, body=body)
    answer = configure_expr or json.dumps(configure)
    return JS_TEMPLATE.format(configure=answer, body=textwrap.indent(body, "  "))


def _lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[\n{text}]{'=' * level}]"


def commands_yaml(*commands: str | tuple[str, str]) -> str:
    """`Commands:` for a plugin; a bare name matches itself, a pair is (command, regex)."""
    lines = ["Commands:"]
    for entry in commands:
        command, regex = (entry, entry) if isinstance(entry, str) else entry
        lines.append(f"  - {{Command: {command}, Regex: {json.dumps(regex)}}}")
    return "\n".join(lines) + "\n"


# -- processes and descriptors -----------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int, int, str]]:
    """Every process: pid -> (parent pid, process group, session, state)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        found[int(entry)] = (int(fields[1]), int(fields[2]), int(fields[3]), fields[0])
    return found


def _descendants(table: dict[int, tuple[int, int, int, str]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def fd_count() -> int:
    """How many descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


# -- the harness ---------------------------------------------------------------------------------


class HostileRobot:
    """A robot folder with extensions in one language, run on the test connector."""

    def __init__(self, root: Path, lang: str) -> None:
        self.root = root
        self.lang = lang
        for folder in ("conf/plugins", "conf/jobs", "ext", "lib"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.robot_yaml = ROBOT_YAML
        self.declared: dict[str, list[str]] = {"ExternalPlugins": [], "ExternalJobs": []}
        self.robot: Robot | None = None
        self.connector: TestConnector | None = None
        self._mark = 0
        self._seen_pids: set[int] = set()
        self._seen_groups: set[int] = set()  # process groups and sessions of children
        self._fds_before: int | None = None
        self._children_before: set[int] = set()  # this process's children before the case
        self._played = False
        self.load_seconds = 0.0  # how long the robot took to load (configuration, catalog)

    # -- writing the robot ---------------------------------------------------------------------

    @property
    def suffix(self) -> str:
        return SUFFIX[self.lang]

    @property
    def state(self) -> Path:
        return self.root / "state"

    def path(self, name: str) -> Path:
        """The file of extension `name`."""
        return self.root / "ext" / f"{name}{self.suffix}"

    def plugin(
        self,
        name: str,
        body: str = "",
        *,
        commands: tuple[str | tuple[str, str], ...] | None = None,
        configure: str | None = None,
        configure_expr: str | None = None,
        conf: str = TIMEOUTS,
    ) -> None:
        """Declare plugin `name` (default: command `name` matching itself), under `conf`.

        `configure` is the YAML of its default configuration (`commands` by default);
        `configure_expr` an expression in the plugin's language that computes it.
        """
        if configure is None:
            configure = commands_yaml(*(commands or (name,)))
        self._declare("ExternalPlugins", name, source(self.lang, body, configure, configure_expr))
        if conf:
            (self.root / "conf" / "plugins" / f"{name}.yaml").write_text(conf)

    def job(self, name: str, body: str, *, conf: str = "Quiet: true\n" + TIMEOUTS) -> None:
        """Declare job `name` (no default configuration of its own)."""
        self._declare("ExternalJobs", name, source(self.lang, body, "{}\n"))
        (self.root / "conf" / "jobs" / f"{name}.yaml").write_text(conf)

    def _declare(self, section: str, name: str, text: str) -> None:
        self.path(name).write_text(text)
        self.declared[section].append(f"  {name}: {{Path: ext/{name}{self.suffix}}}")

    def write(self) -> None:
        text = self.robot_yaml
        for section, lines in self.declared.items():
            if lines:
                text += f"{section}:\n" + "\n".join(lines) + "\n"
        (self.root / "conf" / "robot.yaml").write_text(text)

    # -- running it ------------------------------------------------------------------------------

    def play(self, script: Callable[[HostileRobot], Awaitable[T]]) -> T:
        """Start the robot, seed the brain, run `script`, stop; then assert nothing leaked."""
        self._fds_before = fd_count()
        me = os.getpid()
        self._children_before = {pid for pid, row in _processes().items() if row[0] == me}

        async def main() -> T:
            sampler = asyncio.get_running_loop().create_task(self._sample_children())
            try:
                await self.start()
                await self._seed()
                return await script(self)
            finally:
                if self.robot is not None:
                    await self.robot.stop(grace=2.0)
                sampler.cancel()
                await asyncio.gather(sampler, return_exceptions=True)

        result = run(main())
        self._played = True
        problems = self.leaks()
        assert not problems, "the hostile case left things behind:\n" + "\n".join(problems)
        return result

    async def start(self) -> Robot:
        self.write()
        self.robot = Robot(self.root, state_dir=self.state)
        started = time.monotonic()
        await self.robot.load()
        self.load_seconds = time.monotonic() - started
        self.connector = TestConnector({})
        await self.robot.start({"test": self.connector}, primary="test")
        # As Gopherbot's test start-up: the plugins' `_init` pipelines end before a case plays.
        assert await self.robot.plugins_initialized(30.0), "the plugins' _init did not end"
        return self.robot

    async def _seed(self) -> None:
        assert self.robot is not None and self.robot.datums is not None
        checkout = await self.robot.datums.checkout(SEED_NAMESPACE, SEED_KEY, True, owner="seed")
        stored = await self.robot.datums.update(SEED_NAMESPACE, SEED_KEY, checkout.token, SEED)
        assert int(stored) == 0, stored

    async def _sample_children(self) -> None:
        """Remember every process descended from this one while the robot runs."""
        me = os.getpid()
        ours = {os.getpgid(0), os.getsid(0)}
        while True:
            table = _processes()
            for pid in _descendants(table, me):
                self._seen_pids.add(pid)
                _, group, session, _ = table[pid]
                self._seen_groups.update({group, session} - ours)
            await asyncio.sleep(0.02)

    # -- talking ---------------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        assert self.connector is not None
        return self.connector.sent

    async def hostile(self, user: str, text: str, channel: str = "general") -> None:
        """`user` sends `text`; later `told` and `said` look only at what came after it."""
        self._mark = len(self.sent)
        await self.send(user, text, channel)

    @property
    def mark(self) -> int:
        """Index in `sent` of the first message after the last `hostile` command."""
        return self._mark

    async def send(self, user: str, text: str, channel: str = "general") -> None:
        """`user` sends `text`, without moving where `told` and `said` start."""
        assert self.connector is not None
        await self.connector.inject(user, text, channel)

    async def first(
        self, where: Callable[[SentMessage], bool], since: int, within: float
    ) -> SentMessage | None:
        """The first message sent from index `since` on that satisfies `where`, or None."""
        deadline = time.monotonic() + within
        cursor = since
        while True:
            sent = self.sent
            while cursor < len(sent):
                if where(sent[cursor]):
                    return sent[cursor]
                cursor += 1
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.01)

    async def told(self, user: str = "bob", channel: str = "general", within: float = 15.0) -> str:
        """The first message addressed to `user` in `channel` since the hostile command."""
        found = await self.first(
            lambda m: m.user == user and m.channel == channel, self._mark, within
        )
        assert found is not None, f"{user} was told nothing within {within} s: {self.said()[-5:]}"
        return found.text

    async def failures(
        self, names: list[str], user: str = "bob", within: float = 15.0
    ) -> dict[str, str]:
        """For each plugin of `names`, the "Sorry, 'name' ..." that `user` was told."""
        found = {}
        for name in names:
            message = await self.first(
                lambda m, name=name: m.user == user and m.text.startswith(f"Sorry, '{name}' "),
                self._mark,
                within,
            )
            assert message is not None, f"{user} was never told why {name} failed: {self.sent}"
            found[name] = message.text
        return found

    def said(self, channel: str = "general") -> list[str]:
        """Every message sent to `channel` since the hostile command."""
        return [m.text for m in self.sent[self._mark :] if m.channel == channel]

    def running(self, name: str) -> bool:
        """Whether a pipeline started by `name` is running."""
        assert self.robot is not None
        return any(p.starter.task.name == name for p in self.robot.pipelines.values())

    async def wait_running(self, name: str, within: float = 10.0, settle: float = 0.3) -> None:
        """Wait until `name`'s child is running, then `settle` seconds more."""
        assert self.robot is not None
        deadline = time.monotonic() + within
        while not any(
            p.starter.task.name == name and p.execution is not None and p.execution.pid
            for p in self.robot.pipelines.values()
        ):
            assert time.monotonic() < deadline, f"{name} never started a child"
            await asyncio.sleep(0.01)
        await asyncio.sleep(settle)

    async def alive(self, within: float = ALIVE_WITHIN, during: str | None = None) -> float:
        """alice's `;ping` in #random is answered PONG within `within` s; returns the delay.

        With `during`, that plugin's pipeline must have a running child when alice asks and
        still be running when PONG comes back.
        """
        assert self.connector is not None
        if during is not None:
            await self.wait_running(during)
        since = len(self.sent)
        started = time.monotonic()
        await self.connector.inject("alice", ";ping", "random")
        pong = await self.first(
            lambda m: m.channel == "random" and m.user == "alice", since, within + 10
        )
        elapsed = time.monotonic() - started
        assert pong is not None and pong.text == "PONG", pong
        assert elapsed < within, f"alice waited {elapsed:.2f} s for PONG (bound {within} s)"
        if during is not None:
            assert self.running(during), f"{during} ended before PONG; the case proves nothing"
        return elapsed

    # -- what is left afterwards ---------------------------------------------------------------

    def pipeline_logs(self) -> dict[str, str]:
        """Each pipeline log file's name and text."""
        folder = self.state / "logs"
        return {p.name: p.read_text(errors="replace") for p in sorted(folder.glob("*.log"))}

    def log_of(self, name: str) -> tuple[Path, str]:
        """The log file of the (one) pipeline started by `name`, and its text (its start-up
        `_init` pipeline's is another)."""
        found = [
            p
            for p in sorted((self.state / "logs").glob("pipeline-*.log"))
            if "started by " in (head := p.read_text(errors="replace").split("\n", 1)[0])
            and f": {name}" in head
            and not head.endswith(f"{name} _init")
        ]
        assert len(found) == 1, f"expected one pipeline log of {name}: {found}"
        return found[0], found[0].read_text(errors="replace")

    def leaks(self) -> list[str]:
        """What the robot left behind once stopped: processes, descriptors, lost brain data."""
        assert self._fds_before is not None, "leaks() is for after play()"
        problems = []
        me = os.getpid()
        for pid, (ppid, group, session, state) in _processes().items():
            if pid in self._children_before:
                continue
            if ppid == me:
                problems.append(f"process {pid} (state {state}) is still a child of the test")
            elif state != "Z" and (pid in self._seen_pids or {group, session} & self._seen_groups):
                problems.append(f"process {pid} of a child's group {group} still runs")
        if not self._seen_pids:
            problems.append("no child process was ever seen: the sampler did not work")
        fds = fd_count()
        if fds != self._fds_before:
            problems.append(f"descriptors: {self._fds_before} before the case, {fds} after")
        stored = self.stored(SEED_NAMESPACE, SEED_KEY)
        if stored != SEED:
            problems.append(f"the datum seeded before the case is now {stored!r}")
        return problems

    def stored(self, namespace: str, key: str) -> Any:
        """A datum as the brain's file holds it, read once the robot has stopped."""
        assert self._played and self.robot is not None and self.robot.brain is None

        async def read() -> bytes | None:
            brain = discover_brains().create("sqlite", {}, self.state)
            await brain.open()
            try:
                return await brain.get(f"{namespace}:{key}")
            finally:
                await brain.close()

        raw = run(read())
        return None if raw is None else json.loads(raw)
