"""The terminal connector: chat with the robot from a shell, as any user, in any channel.

Lines starting with `|` are connector commands:
  |c<channel>   switch channel (`|c` alone: direct messages with the robot)
  |u<user>      switch user
  |t[<id>]      toggle threading, or join thread <id>
  |h            this help
  |q            quit (so does Ctrl-D)
A line starting with `/` is a hidden command (`/;ping`). On a terminal you get line editing
and history (kept in the robot's state folder); with piped input, lines are read as they come.

Who you may be and where: `ProtocolConfig.terminal.Users` and `Channels` in robot.yaml; with
no `Users`, the robot's `UserRoster` (anyone, if that is empty too); with no `Channels`, any.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from burrow.connectors.base import Connector, ConnectorHost, IncomingMessage, OutgoingMessage
from burrow.constants import RetVal

HELP = __doc__.split("\n\n", 1)[1] if __doc__ else ""


class TerminalConnector(Connector):
    """Reads lines from stdin, prints what the robot says to stdout."""

    protocol = "terminal"
    supports_hidden = True

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ):
        super().__init__(config)
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self.user = str(config.get("StartUser") or "")
        self.channel = str(config.get("StartChannel", "general"))
        self.thread = ""
        self._ids = itertools.count(1)
        self._stopped = asyncio.Event()
        self._history = config.get("HistoryFile")
        self.users: list[str] = []
        self.channels: list[str] = []

    def _names(self, key: str) -> list[str]:
        values = self.config.get(key) or []
        return [str(v.get("UserName", "")) if isinstance(v, dict) else str(v) for v in values]

    async def run(self, host: ConnectorHost) -> None:
        """Read lines until EOF or `|q`."""
        self.users = self._names("Users") or [u.name for u in host.identity.users]
        self.channels = self._names("Channels")
        if not self.user:
            self.user = self.users[0] if self.users else "alice"
        self._print(
            f"Terminal connector: you are {self.user} in #{self.channel or '(dm)'}; '|h' for help."
        )
        reader = self._interactive() if self._stdin.isatty() else self._piped()
        async for line in reader:
            if self._stopped.is_set() or not await self._handle(host, line):
                return

    async def _piped(self) -> AsyncIterator[str]:
        # A daemon thread, not the loop's executor: a readline blocked on an open pipe would
        # otherwise keep asyncio.run() waiting for the executor after the robot has stopped.
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            for line in iter(self._stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="terminal-stdin", daemon=True).start()
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            while True:
                line = asyncio.ensure_future(lines.get())
                await asyncio.wait({line, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not line.done():
                    line.cancel()
                    return
                text = line.result()
                if text is None:
                    return
                yield text
        finally:
            stopped.cancel()

    async def _interactive(self) -> AsyncIterator[str]:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.patch_stdout import patch_stdout

        history = FileHistory(str(self._history)) if self._history else InMemoryHistory()
        session: PromptSession[str] = PromptSession(history=history)
        with patch_stdout():
            while not self._stopped.is_set():
                try:
                    line = await session.prompt_async(self._prompt())
                except (EOFError, KeyboardInterrupt):
                    return
                yield line

    def _prompt(self) -> str:
        where = f"#{self.channel}" if self.channel else "(dm)"
        thread = f"({self.thread})" if self.thread else ""
        return f"{self.user}@{where}{thread}> "

    async def _handle(self, host: ConnectorHost, line: str) -> bool:
        if line.startswith("|"):
            return self._command(line[1:])
        hidden = line.startswith("/")
        text = line[1:] if hidden else line
        if not text.strip():
            return True
        message_id = f"{next(self._ids):04x}"
        threaded = bool(self.thread) and bool(self.channel)
        await host.incoming(
            IncomingMessage(
                protocol=self.protocol,
                user=self.user,
                user_id=f"u-{self.user}",
                text=text,
                channel=self.channel,
                channel_id=f"c-{self.channel}" if self.channel else "",
                message_id=message_id,
                thread_id=self.thread if threaded else message_id,
                threaded=threaded,
                hidden=hidden,
            )
        )
        return True

    def _command(self, command: str) -> bool:
        verb, arg = command[:1], command[1:].strip()
        if verb == "q":
            return False
        if verb == "c":
            channel = arg.lstrip("#")
            if channel and self.channels and channel not in self.channels:
                self._print(f"(no channel #{channel}; channels: {', '.join(self.channels)})")
                return True
            self.channel, self.thread = channel, ""
            self._print(f"(now in {'#' + self.channel if self.channel else 'direct messages'})")
        elif verb == "u":
            if arg and self.users and arg not in self.users:
                self._print(f"(no user {arg}; users: {', '.join(self.users)})")
                return True
            if arg:
                self.user = arg
            self._print(f"(you are now {self.user})")
        elif verb == "t":
            self.thread = arg if arg else ("" if self.thread else f"{next(self._ids):04x}")
            self._print(f"(thread {self.thread})" if self.thread else "(threading off)")
        else:
            self._print(HELP)
        return True

    async def send(self, message: OutgoingMessage) -> RetVal:
        """Print what the robot says."""
        to = f"@{message.user} " if message.user and message.channel else ""
        if message.channel:
            where = f"#{message.channel}" + (f"({message.thread_id})" if message.threaded else "")
        else:
            where = f"(dm:{message.user})"
        text = f"{where}: {to}{message.text}"
        self._print(f"({text})" if message.hidden else text)
        return RetVal.Ok

    def _print(self, text: str) -> None:
        print(text, file=self._stdout, flush=True)

    async def stop(self) -> None:
        """Stop reading."""
        self._stopped.set()


def history_file(state_dir: Path) -> Path:
    """Where the terminal keeps its line history."""
    return state_dir / "terminal_history"
