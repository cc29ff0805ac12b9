"""Spare children: one-shot children started before their request, so a request starts at once.

A spare is an ordinary child (a zygote fork running `burrow.child`) that has already done
everything that does not depend on a request: it dropped to its account (`--user`) before it
read a byte, answered `$/hello` — setting its resource limits and loading its binding — and
ran the binding's `prepare` hook, which sets up the language runtime (a Lua state with its
sandbox and library; V8's isolate, context and bridge). It has run no extension code and holds
no secret: it was started with the pass-through environment only, in `/`. The request brings
the rest over the child's own pipe (`$/setup`: environment and working directory, applied
before the execution request is read), never through the zygote; and the spare still serves
exactly one execution and exits.

Because the account and the limits are set before the runtime exists, they cannot come with
the request: spares are kept per `SpareKey` — binding (and its version), account, limits,
message-size limit and interpreter — and an execution takes one only for exactly its own key.
Anything else (no spare ready, another key, a missing working directory) starts a child as
before. The pool refills in the background, one spare at a time, and not while executions
wait for a child slot (`busy`); it is ended (every spare killed) by `close`, which never
waits for a spare to finish preparing.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burrow.bindings.spec import Binding
from burrow.rpc.codec import DEFAULT_MAX_MESSAGE_SIZE, Notification, Request
from burrow.rpc.errors import ErrorCode, RpcError, describe_exception, shown
from burrow.rpc.parent_session import AsyncRequestHandler, AsyncSession, NotificationHandler
from burrow.runner.environment import child_environment
from burrow.runner.execution import ExecutionSpec, check_hello, child_argv, hello_params
from burrow.runner.limits import ChildLimits
from burrow.runner.privsep import ChildIdentity
from burrow.runner.process import ChildProcess, Spawner, wait_any

__all__ = ["DEFAULT_SPARES", "SpareChild", "SpareKey", "SparePool", "spare_sizes"]

log = logging.getLogger(__name__)

# Spares per binding that the robot's extensions use, unless robot.yaml says otherwise
# (`SpareChildren`). A Lua spare holds about 15 MiB, a JavaScript one about 50 MiB
# (docs/operations.md, "Spare children").
DEFAULT_SPARES = {"lua": 2, "js": 1}
DEFAULT_OTHER = 1
SPARE_CWD = Path("/")  # where a spare waits: readable by any account, and nobody's folder
PREPARE_TIMEOUT = 30.0  # fork, hello and prepare of one spare; it delays no request
RETRY_FIRST, RETRY_MAX = 1.0, 60.0  # seconds before trying again after a spare failed
# How long a refill waits for the executions of taken spares to end first: preparing a spare
# takes CPU (a JavaScript one tens of milliseconds), which a command still answering needs.
REFILL_QUIET = 0.25


def spare_sizes(configured: Mapping[str, int] | None, in_use: Iterable[str]) -> dict[str, int]:
    """How many spares to keep per binding: the defaults for the bindings in use, then what
    robot.yaml sets (for any binding); 0 keeps none."""
    sizes = {name: DEFAULT_SPARES.get(name, DEFAULT_OTHER) for name in in_use}
    sizes.update(configured or {})
    return {name: size for name, size in sizes.items() if size > 0}


@dataclass(frozen=True)
class SpareKey:
    """What a spare is fixed to before its request: an execution takes only its own key."""

    binding: str
    distribution: str
    version: str
    identity: ChildIdentity | None
    limits: ChildLimits
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    python: str = sys.executable

    @classmethod
    def of(cls, spec: ExecutionSpec) -> SpareKey:
        """The key of the spares that may serve `spec`."""
        binding = spec.binding
        return cls(
            binding.name,
            binding.distribution,
            binding.version,
            spec.identity,
            spec.limits,
            spec.max_message_size,
            spec.python,
        )


class SpareChild:
    """One spare: a started child, its session, its `$/hello` answer; adopted once."""

    def __init__(self, key: SpareKey) -> None:
        self.key = key
        self.child: ChildProcess | None = None
        self.session: AsyncSession | None = None
        self.hello: dict[str, Any] = {}
        self.adopted = False
        self.ready_at = 0.0  # time.monotonic() when it answered its hello
        self._on_request: AsyncRequestHandler = self._refuse
        self._on_notification: NotificationHandler = self._idle_notification
        self._on_stderr_line: Callable[[str], None] | None = self._idle_stderr

    @property
    def usable(self) -> bool:
        """Still waiting for its request, as far as the robot knows."""
        return (
            self.child is not None
            and not self.child.has_exited
            and self.session is not None
            and self.session.closed is None
            and not self.adopted
        )

    def adopt(
        self,
        on_request: AsyncRequestHandler,
        on_notification: NotificationHandler,
        on_stderr_line: Callable[[str], None] | None,
    ) -> AsyncSession:
        """Hand the child to its execution: its requests, notifications and stderr go there."""
        assert self.session is not None and not self.adopted
        self.adopted = True
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_stderr_line = on_stderr_line
        return self.session

    # What the child's pipes and session call; routed to the pool until adoption.

    def feed(self, data: bytes) -> None:
        """Bytes from the child's stdout."""
        if self.session is not None:
            self.session.feed(data)

    async def serve(self, request: Request) -> Any:
        """A request from the child."""
        return await self._on_request(request)

    def notified(self, notification: Notification) -> None:
        """A notification from the child."""
        self._on_notification(notification)

    def stderr_line(self, line: str) -> None:
        """A line of the child's stderr."""
        if self._on_stderr_line is not None:
            self._on_stderr_line(line)

    async def _refuse(self, request: Request) -> Any:
        raise RpcError(ErrorCode.INVALID_STATE, "a spare child has no execution to serve yet")

    def _idle_notification(self, notification: Notification) -> None:
        log.debug("spare %s: %s", self._pid, shown(notification.params, 200))

    def _idle_stderr(self, line: str) -> None:
        # A healthy spare writes nothing while it waits: anything here is worth seeing, quoted
        # (repr escapes line breaks and control characters) and cut, as any child's text.
        log.warning("spare %s (%s): %r", self._pid, self.key.binding, line[:8192])

    @property
    def _pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    async def end(self) -> None:
        """Kill the child (it ran nothing) and drop its pipes."""
        if self.session is not None:
            self.session.close(RpcError(ErrorCode.CHILD_EXIT, "the spare was ended"))
        if self.child is not None:
            await self.child.close()  # SIGKILL to its group, then the pipes
            await self.child.wait(1.0)  # so a zygote closed next does not count it as running


class SparePool:
    """Spares per binding, for the robot's kinds of children; also a Spawner for the rest.

    Calling the pool starts a child as its spawner would (a zygote fork); `take_spare` hands a
    ready spare to an execution (burrow.runner.execution) and wakes the refill.
    """

    def __init__(
        self,
        spawner: Spawner,
        bindings: Mapping[str, Binding],
        sizes: Mapping[str, int],
        profiles: Sequence[tuple[ChildIdentity | None, ChildLimits]] = ((None, ChildLimits()),),
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        python: str = sys.executable,
        prepare_timeout: float = PREPARE_TIMEOUT,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self._spawner = spawner
        # True while executions wait for a child slot: the refill waits too (`_fill`).
        self._busy = busy
        self._max_message_size = max_message_size
        self._python = python
        self._prepare_timeout = prepare_timeout
        self._targets: dict[SpareKey, int] = {}
        self._bindings: dict[SpareKey, Binding] = {}
        self._ready: dict[SpareKey, collections.deque[SpareChild]] = {}
        self._retry_at: dict[SpareKey, float] = {}
        self._delay: dict[SpareKey, float] = {}
        self._woken: asyncio.Future[None] | None = None  # what the idle refill waits on
        self._changed = asyncio.Event()
        self._filler: asyncio.Task[None] | None = None
        self._spawning = False  # the refill is starting a child: close() lets that end
        self._ending: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Future[None]] = set()  # exits of taken spares still running
        self._quiet: asyncio.Future[None] | None = None  # done when _running empties
        self._closed = False
        self.preparing: SpareChild | None = None  # the spare being made now, if any
        self.made = 0  # spares that became ready
        self.taken = 0  # spares handed to an execution
        self.lost = 0  # ready spares that died while waiting
        self.failed = 0  # spares that could not be made ready
        self.configure(bindings, sizes, profiles)

    # -- configuration ----------------------------------------------------------------------

    def configure(
        self,
        bindings: Mapping[str, Binding],
        sizes: Mapping[str, int],
        profiles: Sequence[tuple[ChildIdentity | None, ChildLimits]] | None = None,
    ) -> None:
        """Keep `sizes[name]` spares of each binding for each (account, limits) profile.

        Spares no longer wanted — a binding removed, another version of it, a profile gone —
        are ended; the rest stay, and the refill makes up the difference.
        """
        if profiles is None:
            profiles = sorted({(k.identity, k.limits) for k in self._targets}, key=repr)
        targets: dict[SpareKey, int] = {}
        owners: dict[SpareKey, Binding] = {}
        for name, size in sizes.items():
            binding = bindings.get(name)
            if binding is None or size <= 0:
                continue
            for identity, limits in profiles:
                key = SpareKey(
                    binding.name,
                    binding.distribution,
                    binding.version,
                    identity,
                    limits,
                    self._max_message_size,
                    self._python,
                )
                targets[key], owners[key] = size, binding
        for key in list(self._ready):
            if key not in targets:
                for spare in self._ready.pop(key):
                    self._end_later(spare)
        for key, ready in self._ready.items():
            while len(ready) > targets[key]:
                self._end_later(ready.pop())
        self._targets, self._bindings = targets, owners
        self._retry_at = {k: v for k, v in self._retry_at.items() if k in targets}
        self._delay = {k: v for k, v in self._delay.items() if k in targets}
        self._wake()
        self._changed.set()

    @property
    def targets(self) -> dict[SpareKey, int]:
        """How many spares the pool keeps, per key."""
        return dict(self._targets)

    def ready(self, binding: str | None = None) -> list[SpareChild]:
        """The spares waiting now (of `binding` only, if given), oldest first."""
        return [
            spare
            for key, spares in self._ready.items()
            if binding is None or key.binding == binding
            for spare in spares
        ]

    # -- the spawner and the hand-off -------------------------------------------------------

    async def __call__(self, argv: Sequence[str], **options: Any) -> ChildProcess:
        """Start a child the ordinary way (when no spare fits): the spawner's, with its
        options (burrow.runner.process.Spawner) passed as they came."""
        return await self._spawner(argv, **options)

    def take_spare(self, spec: ExecutionSpec) -> SpareChild | None:
        """A ready spare for exactly `spec`'s key (the oldest), or None."""
        ready = self._ready.get(SpareKey.of(spec))
        while ready:
            spare = ready.popleft()
            self._wake()
            self._changed.set()
            if spare.usable:
                self.taken += 1
                assert spare.child is not None
                exited = spare.child.exited
                self._running.add(exited)
                exited.add_done_callback(self._taken_exited)
                return spare
            self._end_later(spare)
        return None

    def _taken_exited(self, exited: asyncio.Future[None]) -> None:
        self._running.discard(exited)
        if not self._running and self._quiet is not None and not self._quiet.done():
            self._quiet.set_result(None)

    # -- the refill -------------------------------------------------------------------------

    def _wake(self) -> None:
        """Make the refill look at the pool again."""
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    def start(self) -> None:
        """Start filling the pool in the background."""
        if self._filler is None and not self._closed:
            self._filler = asyncio.get_running_loop().create_task(self._fill())

    def full(self) -> bool:
        """Every key has its spares, or is waiting to retry after a failure."""
        now = time.monotonic()
        return all(
            len(self._ready.get(key, ())) >= size or self._retry_at.get(key, 0.0) > now
            for key, size in self._targets.items()
        )

    async def wait_full(self, timeout: float) -> bool:
        """Wait until `full()`, at most `timeout` seconds; say whether it is."""
        deadline = time.monotonic() + timeout
        while not self.full():
            left = deadline - time.monotonic()
            if left <= 0 or self._closed:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                return self.full()
        return True

    def _next_key(self) -> tuple[SpareKey | None, float | None]:
        """The emptiest key that needs a spare now; else when to look again (None: when woken)."""
        now = time.monotonic()
        best: SpareKey | None = None
        best_share = 1.0
        wake_in: float | None = None
        for key, size in self._targets.items():
            have = len(self._ready.get(key, ()))
            if have >= size:
                continue
            retry = self._retry_at.get(key, 0.0)
            if retry > now:
                wake_in = retry - now if wake_in is None else min(wake_in, retry - now)
                continue
            if have / size < best_share:
                best, best_share = key, have / size
        return best, wake_in

    async def _fill(self) -> None:
        while not self._closed:
            key, wake_in = self._next_key()
            loop = asyncio.get_running_loop()
            if key is None:
                self._woken = loop.create_future()
                try:
                    await wait_any((self._woken,), wake_in)
                finally:
                    self._woken = None
                continue
            if self._running:
                self._quiet = loop.create_future()
                try:
                    await wait_any((self._quiet,), REFILL_QUIET)
                finally:
                    self._quiet = None
            if self._busy is not None and self._busy():
                # Executions wait for a child slot: a spare made now would only serve the
                # next of them, at more cost than a fork for it (its `$/setup` besides), with
                # CPU they need. The pool refills once none waits.
                await asyncio.sleep(REFILL_QUIET)
                continue
            spare = await self._make(key)
            if spare is None:
                continue
            if self._closed or self._targets.get(key, 0) <= len(self._ready.get(key, ())):
                self._end_later(spare)  # reconfigured or closed while it was being made
                continue
            self._ready.setdefault(key, collections.deque()).append(spare)
            assert spare.child is not None
            spare.child.exited.add_done_callback(functools.partial(self._lost_spare, spare))
            self.made += 1
            self._changed.set()

    async def _make(self, key: SpareKey) -> SpareChild | None:
        """Start and prepare one spare; None (and a delay before the next try) if it fails."""
        spare = self.preparing = SpareChild(key)
        template = ExecutionSpec(
            self._bindings[key],
            "",
            {},
            SPARE_CWD,
            limits=key.limits,
            identity=key.identity,
            max_message_size=key.max_message_size,
            python=key.python,
        )
        try:
            # close() does not cancel the refill while it starts a child (milliseconds), so
            # that the child is ended and reaped here rather than left to its zygote.
            self._spawning = True
            try:
                spare.child = child = await self._spawner(
                    child_argv(template),
                    env=child_environment(),  # the pass-through variables only: no secret
                    cwd=SPARE_CWD,
                    on_stdout=spare.feed,
                    on_stderr_line=spare.stderr_line,
                )
            finally:
                self._spawning = False
            if self._closed:
                raise asyncio.CancelledError
            spare.session = AsyncSession(
                child.write,
                on_request=spare.serve,
                on_notification=spare.notified,
                max_size=key.max_message_size,
            )
            hello = await self._hello(spare, child, spare.session)
            check_hello(hello, key.binding, None, key.identity)
            version = hello["bindings"][key.binding].get("version")
            if version != key.version:
                raise RpcError(
                    ErrorCode.CHILD_START,
                    f"the child loaded {key.binding} {version}, the robot {key.version}",
                )
        except asyncio.CancelledError:
            await spare.end()
            raise
        except Exception as exc:  # noqa: BLE001 - a spare that fails never fails a request
            self.failed += 1
            delay = min(RETRY_MAX, self._delay.get(key, RETRY_FIRST / 2) * 2)
            self._delay[key] = delay
            self._retry_at[key] = time.monotonic() + delay
            log.warning(
                "a spare %s child could not be prepared (next try in %g s): %s",
                key.binding,
                delay,
                exc.message if isinstance(exc, RpcError) else describe_exception(exc),
            )
            self._changed.set()
            await spare.end()
            return None
        finally:
            self.preparing = None
        spare.hello = hello
        spare.ready_at = time.monotonic()
        self._delay.pop(key, None)
        self._retry_at.pop(key, None)
        return spare

    async def _hello(
        self, spare: SpareChild, child: ChildProcess, session: AsyncSession
    ) -> dict[str, Any]:
        params = hello_params(spare.key.max_message_size, spare.key.limits, prepare=True)
        _, hello = session.start_request("$/hello", [params])
        try:
            await wait_any((hello, child.exited), self._prepare_timeout)
        finally:
            if not hello.done():
                hello.cancel()  # timed out, or the pool is closing: nobody will read it
        if not hello.cancelled():
            answer = hello.result()
            if not isinstance(answer, dict):
                raise RpcError(ErrorCode.PROTOCOL_ERROR, f"bad $/hello answer: {shown(answer)}")
            return answer
        if child.has_exited:
            await child.wait(1.0)
            raise RpcError(
                ErrorCode.CHILD_EXIT,
                f"it exited with status {child.returncode} during $/hello: "
                f"{child.stderr.tail(300).strip() or 'no stderr'}",
            )
        raise RpcError(
            ErrorCode.TIMEOUT, f"$/hello and prepare took over {self._prepare_timeout:g} s"
        )

    def _lost_spare(self, spare: SpareChild, _: object = None) -> None:
        """A waiting spare exited (killed, crashed): forget it, and refill."""
        if spare.adopted or self._closed:
            return
        ready = self._ready.get(spare.key)
        if ready is not None and spare in ready:
            ready.remove(spare)
            self.lost += 1
            assert spare.child is not None
            log.warning(
                "spare %d (%s) exited while waiting (status %s)",
                spare.child.pid,
                spare.key.binding,
                spare.child.returncode,
            )
            self._end_later(spare)
            self._wake()
            self._changed.set()

    def _end_later(self, spare: SpareChild) -> None:
        task = asyncio.get_running_loop().create_task(spare.end())
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    # -- shutdown ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Kill every spare, including one being prepared; never waits for a spare."""
        self._closed = True
        self._wake()
        self._changed.set()
        if self._filler is not None:
            if self._spawning:  # let the start of a child end first (at most 5 s)
                await wait_any((self._filler,), 5.0)
            self._filler.cancel()
            await asyncio.gather(self._filler, return_exceptions=True)
        spares = [spare for ready in self._ready.values() for spare in ready]
        self._ready.clear()
        await asyncio.gather(
            *(spare.end() for spare in spares), *self._ending, return_exceptions=True
        )
