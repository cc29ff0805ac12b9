"""Long-term memory: JSON datums checked out under short-lived, FIFO-queued locks.

The semantics are Gopherbot's (`bot/brain.go`). A read-write checkout returns a random lock
token; whoever holds the token may update the datum once, which stores it and passes the lock
on. Other read-write checkouts of the same key wait in arrival order. A lock lives for
`lock_lifetime` seconds from when it was granted; then it passes to the next waiter, or, with
nobody waiting, becomes free while remembering its token, so that a late update still succeeds
when nobody else has claimed the datum in the meantime (no update can have been lost).

The locks live in the parent's memory, on its event loop: a child that dies holding one delays
others by at most one lifetime, and `release_owner` frees a finished pipeline's locks at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from burrow.brain.provider import BrainError, BrainProvider
from burrow.constants import RetVal

__all__ = ["DEFAULT_LOCK_LIFETIME", "Checkout", "Datums", "datum_key"]

log = logging.getLogger(__name__)

# Upstream's lock lasts one to two ticks of a one-second ticker; two seconds is its upper bound.
DEFAULT_LOCK_LIFETIME = 2.0

# Go's \w is ASCII-only; re.ASCII keeps the same keys valid in both robots.
_FULL_KEY = re.compile(r"[\w:-]+\Z", re.ASCII)


class Checkout(NamedTuple):
    """What `CheckoutDatum` answers; unpacks as `(ret_val, exists, token, datum)`."""

    ret_val: RetVal
    exists: bool
    token: str
    datum: Any


@dataclass(eq=False)
class _Waiter:
    future: asyncio.Future[str | None]  # the granted token, or None when abandoned
    owner: str


@dataclass(eq=False)
class _Lock:
    """The lock state of one datum key while anyone holds, awaits or may still update it."""

    token: str
    owner: str
    held: bool = True  # False: expired with nobody waiting; `token` may still update once
    committing: bool = False  # an update with this token is being written
    timer: asyncio.TimerHandle | None = None
    waiters: deque[_Waiter] = field(default_factory=deque)


def datum_key(namespace: str, key: str) -> str | None:
    """The full key `namespace:key`, or None when it is not a valid datum key.

    `key` itself may not contain `:`, so an extension can never name a datum of another
    namespace (or of its own namespace's extensions, `ns:ext:key`).
    """
    if not namespace or not key or ":" in key:
        return None
    full = f"{namespace}:{key}"
    return full if _FULL_KEY.match(full) else None


def _encode(datum: Any) -> bytes:
    # allow_nan=False: NaN and Infinity are not JSON, and Go's decoder would refuse them.
    return json.dumps(datum, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class Datums:
    """The robot's long-term memory over any `BrainProvider`, with Gopherbot's locking."""

    def __init__(
        self, brain: BrainProvider, *, lock_lifetime: float = DEFAULT_LOCK_LIFETIME
    ) -> None:
        self._brain = brain
        self._lifetime = lock_lifetime
        self._locks: dict[str, _Lock] = {}
        self._closed = False

    # --- lock bookkeeping (synchronous: nothing else runs between these steps) -------------

    def _grant(self, key: str, lock: _Lock | None, owner: str) -> str:
        """Give the lock on `key` to `owner` with a fresh token and a fresh lifetime."""
        token = secrets.token_hex(8)
        if lock is None:
            lock = self._locks[key] = _Lock(token, owner)
        else:
            if lock.timer is not None:
                lock.timer.cancel()
            lock.token, lock.owner, lock.held, lock.committing = token, owner, True, False
        lock.timer = asyncio.get_running_loop().call_later(self._lifetime, self._expire, key, token)
        return token

    def _pass_on(self, key: str, lock: _Lock) -> None:
        """Hand the lock to the first live waiter, or forget it when nobody waits."""
        if lock.timer is not None:
            lock.timer.cancel()
            lock.timer = None
        while lock.waiters:
            waiter = lock.waiters.popleft()
            if not waiter.future.done():  # a cancelled checkout no longer wants it
                waiter.future.set_result(self._grant(key, lock, waiter.owner))
                return
        del self._locks[key]

    def _expire(self, key: str, token: str) -> None:
        """The lock with `token` outlived its lifetime: pass it on, or mark it free."""
        lock = self._locks.get(key)
        if lock is None or lock.token != token or not lock.held or lock.committing:
            return
        log.debug("datum lock on %s (owner %r) expired", key, lock.owner)
        lock.timer = None
        if any(not waiter.future.done() for waiter in lock.waiters):
            self._pass_on(key, lock)
        else:
            lock.waiters.clear()
            lock.held = False

    def _release(self, key: str, token: str) -> None:
        """Release the lock on `key` if `token` still holds it."""
        lock = self._locks.get(key)
        if lock is not None and lock.token == token and not lock.committing:
            self._pass_on(key, lock)

    async def _acquire(self, key: str, owner: str) -> str | None:
        """Wait in line for the lock on `key`; None when the wait was abandoned."""
        lock = self._locks.get(key)
        if lock is None or not lock.held:
            return self._grant(key, lock, owner)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), owner)
        lock.waiters.append(waiter)
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                # Granted in the same instant the caller was cancelled: pass it straight on.
                token = waiter.future.result()
                if token is not None:
                    self._release(key, token)
            elif waiter in lock.waiters:
                lock.waiters.remove(waiter)
            raise

    # --- the Robot API operations ----------------------------------------------------------

    async def checkout(self, namespace: str, key: str, rw: bool, *, owner: str = "") -> Checkout:
        """Read a datum; with `rw`, first wait for its lock and return the lock's token.

        A missing datum is `Ok` with `exists=False` (and, for `rw`, still a token, so the
        caller can create it). A stored value that is not JSON is `DataFormatError`; the lock
        is kept so the caller may overwrite it.
        """
        full = datum_key(namespace, key)
        if full is None:
            return Checkout(RetVal.InvalidDatumKey, False, "", None)
        if self._closed:
            return Checkout(RetVal.BrainFailed, False, "", None)
        token = ""
        if rw:
            granted = await self._acquire(full, owner)
            if granted is None:
                return Checkout(RetVal.Interrupted, False, "", None)
            token = granted
        try:
            raw = await self._brain.get(full)
        except BrainError as error:
            log.error("checking out datum %s: %s", full, error)
            self._release(full, token)
            return Checkout(RetVal.BrainFailed, False, "", None)
        except BaseException:
            self._release(full, token)
            raise
        if raw is None:
            return Checkout(RetVal.Ok, False, token, None)
        try:
            return Checkout(RetVal.Ok, True, token, json.loads(raw))
        except ValueError as error:  # also covers UnicodeDecodeError
            log.error("datum %s is not JSON: %s", full, error)
            return Checkout(RetVal.DataFormatError, False, token, None)

    async def update(self, namespace: str, key: str, token: str, datum: Any) -> RetVal:
        """Store `datum` (any JSON value) if `token` holds the lock, then pass the lock on.

        `DatumNotFound`: no lock entry (never checked out, or already updated or checked in);
        `DatumLockExpired`: someone else has the lock now; an empty token is a no-op `Ok`.
        """
        full = datum_key(namespace, key)
        if full is None:
            return RetVal.InvalidDatumKey
        if not token:
            return RetVal.Ok
        try:
            data = _encode(datum)
        except (TypeError, ValueError) as error:
            log.error("datum %s cannot be stored as JSON: %s", full, error)
            return RetVal.DataFormatError
        lock = self._locks.get(full)
        if lock is None:
            return RetVal.DatumNotFound
        if lock.token != token or lock.committing:
            return RetVal.DatumLockExpired
        # While the write is in flight the lock is held and can neither expire nor be checked
        # in, so newcomers queue and the next owner always reads what this update wrote.
        lock.committing = lock.held = True
        if lock.timer is not None:
            lock.timer.cancel()
            lock.timer = None
        try:
            await self._brain.put(full, data)
        except BrainError as error:
            log.error("updating datum %s: %s", full, error)
            return RetVal.BrainFailed
        finally:
            lock.committing = False
            if self._locks.get(full) is lock and lock.token == token:
                self._pass_on(full, lock)
        return RetVal.Ok

    async def checkin(self, namespace: str, key: str, token: str) -> None:
        """Give the lock back without updating; a stale or empty token is silently ignored."""
        full = datum_key(namespace, key)
        if full is not None and token:
            self._release(full, token)

    async def delete(self, namespace: str, key: str, *, owner: str = "") -> RetVal:
        """Delete a datum under its lock (waiting in line like a checkout); missing is `Ok`."""
        full = datum_key(namespace, key)
        if full is None:
            return RetVal.InvalidDatumKey
        if self._closed:
            return RetVal.BrainFailed
        token = await self._acquire(full, owner)
        if token is None:
            return RetVal.Interrupted
        try:
            await self._brain.delete(full)
        except BrainError as error:
            log.error("deleting datum %s: %s", full, error)
            return RetVal.BrainFailed
        finally:
            self._release(full, token)
        return RetVal.Ok

    async def release_owner(self, owner: str) -> int:
        """Free every lock `owner` (a pipeline id) holds and drop its waits; returns the count.

        Called when a pipeline ends, so a child that died holding a lock costs nobody a wait.
        """
        if not owner:
            raise ValueError("release_owner needs a pipeline id")
        released = 0
        for key, lock in list(self._locks.items()):
            for waiter in [w for w in lock.waiters if w.owner == owner]:
                lock.waiters.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(None)
            if lock.owner == owner and not lock.committing and self._locks.get(key) is lock:
                released += lock.held
                self._pass_on(key, lock)
        return released

    async def close(self) -> None:
        """Stop granting locks: waiters get `Interrupted`, later calls `BrainFailed`."""
        self._closed = True
        for lock in self._locks.values():
            if lock.timer is not None:
                lock.timer.cancel()
            for waiter in lock.waiters:
                if not waiter.future.done():
                    waiter.future.set_result(None)
        self._locks.clear()

    def locked_keys(self) -> dict[str, str]:
        """Each datum key whose lock is held, with its owner (for diagnostics and tests)."""
        return {key: lock.owner for key, lock in self._locks.items() if lock.held}
