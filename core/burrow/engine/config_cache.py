"""The configuration cache: each extension's default configuration, kept between starts.

Reading a default configuration runs the extension in a `_get_config` child, one per plugin
or job at every start. The answer depends only on what the child is given, so it is kept in
the state folder (`config-cache.sqlite3`) together with those inputs — the extension file's
sha256, the request, the binding's name and version, Burrow's version, the interpreter, the
child's environment, limits and account, the state of the `lib` folders — and reused while
every input is the same (docs/operations.md, "Configuration cache").

The cache never decides whether the robot starts: a row that does not check out (its inputs
changed, or its checksum is wrong) is a miss, an unreadable file is started afresh, and a
file that cannot be written only costs the next start its children. Only successful answers
are kept, so an extension whose `_configure` failed is asked again at the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FILE = "config-cache.sqlite3"
FORMAT = 1  # PRAGMA user_version of the file; another value is a cache of another format

_SCHEMA = """
CREATE TABLE IF NOT EXISTS default_config (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    inputs TEXT NOT NULL,    -- JSON object: everything the answer depends on
    config TEXT NOT NULL,    -- the answer: the YAML text of the default configuration
    checksum TEXT NOT NULL,  -- sha256 over kind, name, inputs and config
    PRIMARY KEY (kind, name)
)
"""

Inputs = Mapping[str, str]
_Key = tuple[str, str]  # (kind, name)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(folders: Iterable[str]) -> str:
    """A digest of every file under `folders`: relative path, size and modification time.

    Cheap enough for a `node_modules` (one stat per file, no reading); an edit, a new file and
    a removed file all change it.
    """
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(f"{folder}\0".encode())
        for parent, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(parent, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # a dangling link: nothing a binding could load either
                relative = os.path.relpath(path, folder)
                digest.update(f"{relative}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _checksum(key: _Key, inputs: str, config: str) -> str:
    return hashlib.sha256("\0".join((*key, inputs, config)).encode()).hexdigest()


def _canonical(inputs: Inputs) -> str:
    return json.dumps(dict(inputs), sort_keys=True, ensure_ascii=False)


def changed_inputs(old: Inputs, new: Inputs) -> str:
    """Which inputs differ, for the log: `binding version '0.1.0' -> '0.2.0', file sha256`."""
    parts = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        short = all(v is not None and len(v) <= 40 for v in (before, after))
        if short and not name.endswith(("sha256", "digest")):
            parts.append(f"{name} {before!r} -> {after!r}")
        else:
            parts.append(name)
    return ", ".join(parts)


@dataclass
class CacheStats:
    """What one start did with the cache."""

    hits: int = 0  # answers taken from the cache
    misses: int = 0  # no row for the task
    stale: int = 0  # a row whose inputs changed
    damaged: int = 0  # a row that did not check out
    stored: int = 0  # fresh answers written


class ConfigCache:
    """The default configurations of one robot's extensions, in its state folder.

    `lookup` during the build of the catalog, `store` or `forget` each task's outcome, then
    `save` once: the fresh answers are written in one transaction, and rows of tasks this start
    did not look up (removed or disabled) are dropped. With `read=False` (`burrow run
    --no-config-cache`) nothing is taken from the cache, but the fresh answers still replace it.
    """

    def __init__(self, state_dir: Path, *, read: bool = True) -> None:
        self.path = state_dir / CACHE_FILE
        self.read = read
        self.stats = CacheStats()
        self._rows: dict[_Key, tuple[str, str, str]] | None = None  # inputs, config, checksum
        self._looked_up: set[_Key] = set()
        self._fresh: dict[_Key, tuple[str, str]] = {}  # inputs, config
        self._forgotten: set[_Key] = set()
        self._replace = False  # the file holds no cache of this format: start a new one

    # -- reading ------------------------------------------------------------------------------

    def _load(self) -> dict[_Key, tuple[str, str, str]]:
        if self._rows is None:
            self._rows = self._read_rows()
        return self._rows

    def _read_rows(self) -> dict[_Key, tuple[str, str, str]]:
        if not self.path.exists():
            return {}
        try:
            conn = self._connect()
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version != FORMAT:
                    log.info(
                        "the configuration cache %s holds no cache of format %s (its "
                        "user_version is %s); it is started afresh",
                        self.path,
                        FORMAT,
                        version,
                    )
                    self._replace = True
                    return {}
                rows = conn.execute(
                    "SELECT kind, name, inputs, config, checksum FROM default_config"
                ).fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self._failed("read", exc)
            return {}
        found: dict[_Key, tuple[str, str, str]] = {}
        for kind, name, inputs, config, checksum in rows:
            if all(isinstance(v, str) for v in (kind, name, inputs, config, checksum)):
                found[(kind, name)] = (inputs, config, checksum)
            else:
                # A row of the wrong types is damage too; `lookup` reports it by task.
                found[(str(kind), str(name))] = ("", "", "")
        return found

    def lookup(self, kind: str, name: str, inputs: Inputs) -> str | None:
        """The cached default configuration of a task if every input is unchanged, else None."""
        key = (kind, name)
        self._looked_up.add(key)
        if not self.read:
            self.stats.misses += 1
            return None
        row = self._load().get(key)
        if row is None:
            self.stats.misses += 1
            log.debug("%s %r: no cached default configuration", kind, name)
            return None
        stored_inputs, config, checksum = row
        if _checksum(key, stored_inputs, config) != checksum:
            self.stats.damaged += 1
            log.warning(
                "%s %r: the cached default configuration is damaged (checksum mismatch); "
                "asking the extension again",
                kind,
                name,
            )
            return None
        wanted = _canonical(inputs)
        if stored_inputs == wanted:
            self.stats.hits += 1
            return config
        self.stats.stale += 1
        try:
            old = json.loads(stored_inputs)
            what = changed_inputs(old, inputs) if isinstance(old, dict) else "its format"
        except ValueError:
            what = "its format"
        log.info(
            "%s %r: the cached default configuration is stale (changed: %s); asking the "
            "extension again",
            kind,
            name,
            what,
        )
        return None

    # -- writing ------------------------------------------------------------------------------

    def store(self, kind: str, name: str, inputs: Inputs, config: str) -> None:
        """Keep a fresh, successful answer (written by `save`)."""
        self._looked_up.add((kind, name))
        self._fresh[(kind, name)] = (_canonical(inputs), config)

    def forget(self, kind: str, name: str) -> None:
        """Drop any row of a task whose configuration could not be read: it is asked again."""
        self._looked_up.add((kind, name))
        self._fresh.pop((kind, name), None)
        self._forgotten.add((kind, name))

    def save(self) -> None:
        """Write the fresh answers and drop rows no longer wanted, in one transaction.

        Does nothing when nothing changed, so a start served wholly from the cache writes
        nothing. A failure is logged, never raised: the robot runs without the cache.
        """
        rows = self._load()  # also without `read`: whether the file is of this format
        if self.read and not self._fresh and not self._replace:
            if all(k in self._looked_up and k not in self._forgotten for k in rows):
                return
        fresh = [
            (*key, inputs, config, _checksum(key, inputs, config))
            for key, (inputs, config) in self._fresh.items()
        ]
        if self._replace:
            self._remove_file()
        try:
            self._write(fresh)
        except sqlite3.Error as exc:
            if not self._failed("written", exc):
                return
            try:  # the damaged file is gone: write a new one
                self._write(fresh)
            except sqlite3.Error as again:
                self._failed("written", again)
                return
        self.stats.stored += len(fresh)
        self._fresh.clear()

    def _write(self, fresh: list[tuple[str, str, str, str, str]]) -> None:
        """One transaction: create the table if needed, drop unwanted rows, write `fresh`."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_SCHEMA)
                conn.execute(f"PRAGMA user_version = {FORMAT}")
                existing = conn.execute("SELECT kind, name FROM default_config").fetchall()
                conn.executemany(
                    "DELETE FROM default_config WHERE kind = ? AND name = ?",
                    [
                        (kind, name)
                        for kind, name in existing
                        if (kind, name) not in self._looked_up or (kind, name) in self._forgotten
                    ],
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO default_config VALUES (?, ?, ?, ?, ?)", fresh
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    def summary(self) -> str:
        """One line for the log."""
        s = self.stats
        return (
            f"default configurations: {s.hits} from the cache, "
            f"{s.misses + s.stale + s.damaged} asked ({s.misses} new, {s.stale} changed, "
            f"{s.damaged} damaged){'' if self.read else ', cache not read'}"
        )

    # -- the file -----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: `save` opens and commits its one transaction itself.
        return sqlite3.connect(self.path, timeout=5.0, isolation_level=None)

    def _failed(self, doing: str, exc: sqlite3.Error) -> bool:
        """Log a failure; remove a file SQLite says is damaged, and then answer True."""
        self._rows = {}
        damaged = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
        if not damaged:
            log.warning(
                "the configuration cache %s cannot be %s (%s); extensions are asked for their "
                "default configuration",
                self.path,
                doing,
                exc,
            )
            return False
        log.warning(
            "the configuration cache %s is damaged (%s); every extension is asked for its "
            "default configuration and the cache is started afresh",
            self.path,
            exc,
        )
        return self._remove_file()

    def _remove_file(self) -> bool:
        """Remove the cache file and its journals; False if one could not be removed."""
        removed = True
        for suffix in ("", "-journal", "-wal", "-shm"):
            try:
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError as error:
                log.warning("cannot remove %s%s: %s", self.path, suffix, error.strerror)
                removed = False
        return removed
