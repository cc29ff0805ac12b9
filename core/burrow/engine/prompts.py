"""Prompting: extensions waiting for a user's next message, keyed by where it must come from.

A waiter is keyed by (protocol, user, channel, thread). A message from that place is consumed
by the waiters before any routing: the first waiter gets it, any others get RetryPrompt and
prompt again. `-` interrupts (Interrupted), `=` asks for the default (UseDefaultValue).
Waiters end with Interrupted when their pipeline is killed or the robot stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from burrow.constants import RetVal
from burrow.engine.matching import compile_command
from burrow.engine.patterns import Pattern

PromptKey = tuple[str, str, str, str]  # protocol, user (lower-cased), channel, thread

# Gopherbot's stock reply matchers; their labels start with a capital, plugins' never do.
# Like every reply matcher they are RE2 (compile_command), so `\w` and `\d` are ASCII, as in Go.
STOCK_REPLIES: dict[str, str] = {
    "Email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "Domain": r"[a-zA-Z0-9]+(?:[-.][a-zA-Z0-9]+)*\.[a-zA-Z]{2,}",
    "OTP": r"\d{6}",
    "IPAddr": r"(?:\d{1,3}\.){3}\d{1,3}",
    "SimpleString": r"[-\w .,_'\"?!]+",
    "YesNo": r"(?i:yes|no|y|n)",
}


def prompt_key(protocol: str, user: str, channel: str, thread: str) -> PromptKey:
    """The key of a waiter or of a heard message."""
    return (protocol, user.lower(), channel, thread)


def reply_pattern(label: str, plugin_matchers: Iterable[tuple[str, str]]) -> Pattern | None:
    """The anchored RE2 pattern for a ReplyMatcher label: the plugin's own first, then stock.

    A plugin's matchers were checked when its configuration loaded, so this does not raise.
    """
    for matcher_label, regex in plugin_matchers:
        if matcher_label == label:
            return compile_command(regex)
    stock = STOCK_REPLIES.get(label)
    return compile_command(stock) if stock is not None else None


@dataclass
class _Waiter:
    owner: object  # the pipeline waiting
    future: asyncio.Future[tuple[str, RetVal]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ReplyWaiters:
    """Every pending prompt of the robot."""

    def __init__(self) -> None:
        self._waiting: dict[PromptKey, list[_Waiter]] = {}

    def __contains__(self, key: PromptKey) -> bool:
        return bool(self._waiting.get(key))

    async def wait(self, key: PromptKey, owner: object, timeout: float) -> tuple[str, RetVal]:
        """Wait for the next message at `key`: (text, Ok), or ("", why not)."""
        waiter = _Waiter(owner)
        self._waiting.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
        except TimeoutError:
            return "", RetVal.TimeoutExpired
        finally:
            waiters = self._waiting.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._waiting.pop(key, None)

    def deliver(self, key: PromptKey, text: str) -> bool:
        """Give a heard message to the waiters at `key`; True if it was consumed."""
        waiters = self._waiting.pop(key, [])
        if not waiters:
            return False
        first, rest = waiters[0], waiters[1:]
        first.future.set_result((text, RetVal.Ok))
        for other in rest:
            other.future.set_result(("", RetVal.RetryPrompt))
        return True

    def interrupt(self, owner: object | None = None) -> None:
        """End the waits of `owner` (or every wait) with Interrupted."""
        for waiters in list(self._waiting.values()):
            for waiter in [w for w in waiters if owner is None or w.owner is owner]:
                if not waiter.future.done():
                    waiter.future.set_result(("", RetVal.Interrupted))


def judge_reply(text: str, pattern: Pattern) -> tuple[str, RetVal]:
    """What a prompt returns for the text a user answered with."""
    stripped = text.strip()
    if stripped == "-":
        return "", RetVal.Interrupted
    if stripped == "=":
        return "", RetVal.UseDefaultValue
    if pattern.fullmatch(text) is None:
        return "", RetVal.ReplyNotMatched
    return stripped, RetVal.Ok
