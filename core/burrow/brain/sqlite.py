"""The default brain: one SQLite file in the robot's state folder, one row per key.

Every call runs on one dedicated worker thread that owns the connection, so the event loop
never waits on the disk and the calls are applied in the order they were made. The database
uses WAL journaling with `synchronous=FULL`: a write is acknowledged only after its commit has
reached the disk, so it survives the robot being killed and, on a disk that honours fsync, a
power cut.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from burrow.brain.provider import BrainError, check_config_keys

__all__ = ["DEFAULT_FILENAME", "SqliteBrain"]

DEFAULT_FILENAME = "brain.sqlite3"

T = TypeVar("T")

# Stamped into the file header so that a database of another application is recognised and
# refused rather than silently given a new table.
_APPLICATION_ID = int.from_bytes(b"BRRW", "big")
_SCHEMA_VERSION = 1
_SCHEMA = "CREATE TABLE IF NOT EXISTS brain (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)"
_UPSERT = (
    "INSERT INTO brain (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# Files this process has open as a brain. The lock file's POSIX lock keeps other processes
# out, but POSIX locks do not conflict within one process, so this set does that part.
_open_here: set[str] = set()
_open_here_guard = threading.Lock()


def _explain(path: Path, error: sqlite3.Error, doing: str = "") -> BrainError:
    """Turn an SQLite error into a `BrainError` that names the file and what to do."""
    name = getattr(error, "sqlite_errorname", "") or ""
    what = f"{doing}: " if doing else ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return BrainError(
            f"{path}: {what}the database is locked by another process ({error}); stop whatever "
            "holds it (another robot, or an sqlite3 shell with an open transaction) and retry"
        )
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return BrainError(
            f"{path}: {what}not a usable SQLite database ({error}); if it is this robot's "
            "brain, restore it from a backup, otherwise move it aside and start again to "
            "create an empty brain"
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return BrainError(
            f"{path}: {what}cannot be opened for reading and writing ({error}); check that it "
            "is a regular file and that the robot's user may read and write it and its folder"
        )
    if name.startswith("SQLITE_FULL"):
        return BrainError(f"{path}: {what}the disk is full ({error}); free some space")
    return BrainError(f"{path}: {what}{error}")


def _after_prefix(prefix: str) -> str | None:
    """The least string above every string starting with `prefix`, if one can be written.

    SQLite compares text as UTF-8 bytes, which orders like code points, so the keys starting
    with `prefix` are exactly those in [prefix, prefix with its last character incremented).
    """
    if not prefix:
        return None
    last = ord(prefix[-1])
    if last >= 0x10FFFF or 0xD7FF <= last < 0xE000:  # no next character, or a surrogate
        return None
    return prefix[:-1] + chr(last + 1)


class SqliteBrain:
    """The `sqlite` provider: a WAL-mode SQLite file written with `synchronous=FULL`."""

    name = "sqlite"

    def __init__(
        self, path: Path, *, busy_timeout: float = 5.0, check_on_open: bool = True
    ) -> None:
        self._path = Path(path).absolute()
        self._busy_timeout = busy_timeout
        self._check_on_open = check_on_open
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], state_dir: Path) -> SqliteBrain:
        """The factory registered as `sqlite`: `BrainConfig.Path`, relative to the state folder."""
        check_config_keys(cls.name, config, {"Path"})
        raw = config.get("Path", DEFAULT_FILENAME)
        if not isinstance(raw, str) or not raw.strip():
            raise BrainError("BrainConfig.Path: must be a non-empty file path")
        return cls(Path(state_dir) / Path(raw).expanduser())

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # --- the worker thread -----------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        executor = self._executor
        if executor is None:
            raise BrainError(f"{self._path}: the brain is not open")
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BrainError(f"{self._path}: the brain is not open")
        return self._conn

    def _lock_file(self) -> None:
        """Take the robot's exclusive claim on the brain, or say who holds it."""
        lock_path = self._path.with_name(self._path.name + ".lock")
        key = str(self._path)
        with _open_here_guard:
            if key in _open_here:
                raise BrainError(f"{self._path}: already open in this process")
            _open_here.add(key)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            _open_here.discard(key)
            raise BrainError(
                f"{lock_path}: cannot create the brain's lock file ({error.strerror}); check "
                "that the robot's user may write to that folder"
            ) from None
        # A POSIX record lock (not flock): it is not inherited by forked children, so a
        # lingering child can never keep a dead robot's claim alive.
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            _open_here.discard(key)
            raise BrainError(
                f"{self._path}: in use by another robot (pid {holder}); stop it, or give this "
                "robot its own BrainConfig.Path"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock_file(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the POSIX lock
            self._lock_fd = None
            _open_here.discard(str(self._path))

    def _open_sync(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BrainError(
                f"{self._path.parent}: cannot create the brain's folder ({error.strerror})"
            ) from None
        self._lock_file()
        try:
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.Error as error:
            self._unlock_file()
            raise _explain(self._path, error) from None
        try:
            self._prepare(conn)
        except BaseException as error:
            conn.close()
            self._unlock_file()
            if isinstance(error, sqlite3.Error):
                raise _explain(self._path, error) from None
            raise
        self._conn = conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check that the file is a Burrow brain (or new), then set it up for durable writes."""
        # The first read of the header is where "file is not a database" surfaces.
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if app_id not in (0, _APPLICATION_ID) or (app_id == 0 and tables - {"brain"}):
            raise BrainError(
                f"{self._path}: an SQLite database of another application, not a Burrow brain; "
                "point BrainConfig.Path at a new file"
            )
        if version > _SCHEMA_VERSION:
            raise BrainError(
                f"{self._path}: written by a newer Burrow (brain schema {version}, this one "
                f"knows {_SCHEMA_VERSION}); upgrade Burrow or restore an older backup"
            )
        if self._check_on_open:
            lines = "\n".join(row[0] for row in conn.execute("PRAGMA quick_check(3)"))
            if lines != "ok":
                problems = [line for line in lines.splitlines() if not line.startswith("***")]
                raise BrainError(
                    f"{self._path}: the database is damaged ({'; '.join(problems[:3])}); "
                    "restore it from a backup, or move it aside to start with an empty brain"
                )
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise BrainError(
                f"{self._path}: the file system does not support SQLite's WAL journal "
                f"(got {mode!r}); put the brain on a local disk"
            )
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA application_id={_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _close_sync(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        finally:
            self._conn = None
            self._unlock_file()

    def _get_sync(self, key: str) -> bytes | None:
        try:
            row = (
                self._connection()
                .execute("SELECT value FROM brain WHERE key = ?", (key,))
                .fetchone()
            )
        except sqlite3.Error as error:
            raise _explain(self._path, error, f"reading {key!r}") from None
        return None if row is None else bytes(row[0])

    def _write_sync(self, items: Mapping[str, bytes]) -> None:
        conn = self._connection()
        try:
            # One transaction per call: the commit (and its fsync) is the acknowledgement.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, ((k, bytes(v)) for k, v in items.items()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise _explain(self._path, error, f"writing {', '.join(map(repr, items))}") from None

    def _delete_sync(self, key: str) -> None:
        try:
            self._connection().execute("DELETE FROM brain WHERE key = ?", (key,))
        except sqlite3.Error as error:
            raise _explain(self._path, error, f"deleting {key!r}") from None

    def _keys_sync(self, prefix: str) -> list[str]:
        conn = self._connection()
        try:
            upper = _after_prefix(prefix)
            if not prefix:
                rows = conn.execute("SELECT key FROM brain ORDER BY key")
            elif upper is not None:
                # A range on the primary key (no scan, and unlike LIKE no _ or % wildcards).
                rows = conn.execute(
                    "SELECT key FROM brain WHERE key >= ? AND key < ? ORDER BY key",
                    (prefix, upper),
                )
            else:
                rows = conn.execute(
                    "SELECT key FROM brain WHERE substr(key, 1, ?) = ? ORDER BY key",
                    (len(prefix), prefix),
                )
            return [row[0] for row in rows]
        except sqlite3.Error as error:
            raise _explain(self._path, error, f"listing keys under {prefix!r}") from None

    # --- the provider interface ------------------------------------------------------------

    async def open(self) -> None:
        """Open (creating if needed) and check the file, or raise `BrainError` saying why not."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="burrow-brain")
        try:
            await self._call(self._open_sync)
        except BaseException:
            executor, self._executor = self._executor, None
            # If the open was cancelled it still finishes on the worker: undo it there.
            executor.submit(self._close_sync)
            executor.shutdown(wait=False)
            raise

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None."""
        return await self._call(self._get_sync, key)

    async def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key`; returns once the commit is on disk."""
        await self._call(self._write_sync, {key: value})

    async def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store every item in one transaction."""
        if items:
            await self._call(self._write_sync, dict(items))

    async def delete(self, key: str) -> None:
        """Remove `key` if present."""
        await self._call(self._delete_sync, key)

    async def keys(self, prefix: str = "") -> list[str]:
        """Stored keys starting with `prefix`, sorted."""
        return await self._call(self._keys_sync, prefix)

    async def close(self) -> None:
        """Finish queued calls, close the file and release the robot's claim on it."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            executor.shutdown(wait=False)
