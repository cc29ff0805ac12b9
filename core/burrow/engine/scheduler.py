"""Scheduled jobs: `ScheduledJobs` entries with a cron expression or `@init` (at start-up)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from croniter import croniter

from burrow.engine.catalog import TaskKind

if TYPE_CHECKING:
    from burrow.engine.config.schema import ScheduledJob
    from burrow.engine.robot import Robot

log = logging.getLogger("burrow.scheduler")


class Scheduler:
    """Starts each scheduled job at its times, as an automatic pipeline."""

    def __init__(self, robot: Robot, clock: Callable[[], float] = time.time) -> None:
        self._robot = robot
        self._clock = clock  # wall-clock seconds; injectable so tests need not wait a minute
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Run `@init` jobs now and schedule the rest."""
        loop = asyncio.get_running_loop()
        for entry in self._robot.config.scheduled_jobs:
            if entry.schedule.strip() == "@init":
                self._fire(entry)
            else:
                self._tasks.append(loop.create_task(self._every(entry)))

    def stop(self) -> None:
        """Stop scheduling."""
        for task in self._tasks:
            task.cancel()

    async def _every(self, entry: ScheduledJob) -> None:
        zone = ZoneInfo(self._robot.config.time_zone) if self._robot.config.time_zone else None
        times = croniter(entry.schedule, datetime.fromtimestamp(self._clock(), zone))
        while True:
            due = times.get_next(float)
            await asyncio.sleep(max(0.0, due - self._clock()))
            self._fire(entry)

    def _fire(self, entry: ScheduledJob) -> None:
        from burrow.engine.pipeline import TaskRun

        task = self._robot.catalog.get(entry.name)
        if task is None or task.kind is not TaskKind.JOB or task.disabled:
            why = task.disabled if task is not None and task.disabled else "no such job"
            log.error("scheduled job %r not started: %s", entry.name, why)
            return
        channel = task.job.channel if task.job is not None else ""
        self._robot.start_pipeline(
            TaskRun(task, "", list(entry.arguments)),
            self._robot.automatic_message(channel),
            automatic=True,
            trigger="init" if entry.schedule == "@init" else "scheduled",
        )
