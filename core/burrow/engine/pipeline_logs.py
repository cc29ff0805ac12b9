"""The state folder's pipeline logs: one file per pipeline, the newest `PipelineLogs` kept.

Every pipeline — a command, a job, a plugin's start-up `_init` — writes its own log,
`logs/pipeline-<id>.log` (docs/operations.md). Two things follow from one file per pipeline:

- **Bounded.** A robot that answers a command a minute would otherwise leave half a million
  files a year. Once the folder holds `keep` logs, a new pipeline's log is the oldest one,
  renamed and cut to a placeholder: the folder never holds more than `keep` (plus the logs of
  pipelines still running, which are never taken).
- **Cheap.** Creating a file allocates an inode, the dearest thing a trivial command did in
  the robot: 0.3-0.5 ms of CPU on the ext4 volume measured (docs/performance.md). A reused
  log is cut to one placeholder byte (a line break), which the pipeline's first line
  overwrites (`Pipeline._write_log` writes at its own offset), and renamed: about 0.1 ms in
  all. Not to nothing: ext4 flushes a file cut to nothing and written again at its close
  (its `auto_da_alloc` guard for files rewritten in place), 0.2 ms more per pipeline.

Pipeline ids continue across restarts of the same state folder: the first pipeline of a new
start takes the id after the highest one in `logs/`, so that a log is never appended to a
previous run's log of the same id, and an id (the `WID` of `ps`) names one pipeline only.
"""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_KEEP = 1000  # robot.yaml `PipelineLogs`
MIN_KEEP = 10

_NAME = re.compile(r"pipeline-([1-9][0-9]{0,17})\.log")


def log_name(pipeline_id: int) -> str:
    """The file name of a pipeline's log."""
    return f"pipeline-{pipeline_id}.log"


class PipelineLogs:
    """Pipeline ids, and the log file of each, in one folder."""

    def __init__(self, folder: Path, keep: int = DEFAULT_KEEP) -> None:
        self.folder = folder
        self.keep = max(MIN_KEEP, keep)
        # The logs in the folder, oldest (lowest id) first.
        self._kept: deque[int] = deque()
        self._next = 1

    def scan(self) -> None:
        """Find the logs a previous run left: ids continue after the highest, and the oldest
        beyond `keep` are deleted (once, after an upgrade or a lower `PipelineLogs`)."""
        try:
            names = os.listdir(self.folder)
        except OSError as exc:
            log.warning("cannot list the pipeline logs in %s: %s", self.folder, exc)
            names = []
        found = sorted(int(m.group(1)) for m in map(_NAME.fullmatch, names) if m is not None)
        excess, found = found[: -self.keep], found[-self.keep :]
        for pipeline_id in excess:
            try:
                os.unlink(self.folder / log_name(pipeline_id))
            except OSError:
                pass  # gone already, or not ours to delete: it is only not reused
        if excess:
            log.info("deleted %d old pipeline logs (PipelineLogs: %d)", len(excess), self.keep)
        self._kept = deque(found)
        self._next = max(self._next, found[-1] + 1 if found else 1)

    def path(self, pipeline_id: int) -> Path:
        """Where pipeline `pipeline_id` logs."""
        return self.folder / log_name(pipeline_id)

    def new(self, running: Callable[[int], bool]) -> int:
        """A new pipeline id, its log file ready: absent (created at the first line) or a
        reused log holding one placeholder line break (overwritten by the first line).

        The oldest log is reused when `keep` exist, unless its pipeline is still running
        (`running(id)`): the logs of running pipelines are never taken.
        """
        pipeline_id = self._next
        self._next += 1
        target = self.path(pipeline_id)
        while len(self._kept) >= self.keep:
            oldest = self._kept[0]
            if running(oldest):
                break  # more running pipelines than `keep`: this one gets a new file
            self._kept.popleft()
            source = self.path(oldest)
            try:
                _placeholder(source)
                os.replace(source, target)
                break
            except FileNotFoundError:
                continue  # deleted by hand: take the next
            except OSError as exc:
                log.warning("cannot reuse the pipeline log %s: %s", source, exc)
                break
        self._kept.append(pipeline_id)
        return pipeline_id


def _placeholder(path: Path) -> None:
    """Cut a log to one line break: what is left once its first line is written is that
    line alone, and a pipeline that never logs leaves an empty line, never an old log."""
    # Never through a symbolic link: what is cut here must be a log of this folder.
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.ftruncate(fd, 1)
        os.pwrite(fd, b"\n", 0)
    finally:
        os.close(fd)
