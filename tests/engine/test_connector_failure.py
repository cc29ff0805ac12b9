"""A primary connector that cannot go on stops the robot, and says why (`burrow run` exits 1)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from burrow.connectors.base import Connector, ConnectorError, ConnectorHost, OutgoingMessage
from burrow.constants import RetVal
from burrow.engine.robot import Robot


class _Refused(Connector):
    protocol = "refused"

    def __init__(self, error: Exception) -> None:
        super().__init__({})
        self.error = error

    async def run(self, host: ConnectorHost) -> None:
        raise self.error

    async def send(self, message: OutgoingMessage) -> RetVal:
        return RetVal.Ok


async def _run(tmp_path: Path, error: Exception) -> Robot:
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "robot.yaml").write_text("UserRoster: [{UserName: alice}]\n")
    robot = Robot(tmp_path, state_dir=tmp_path / "state", environ={})
    await robot.load()
    await robot.start({"refused": _Refused(error)}, primary="refused")
    await asyncio.wait_for(robot.wait_stopped(), 10)
    await robot.stop(grace=1)
    return robot


def test_a_connector_error_stops_the_robot_with_its_reason_and_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    robot = asyncio.run(_run(tmp_path, ConnectorError("@bot cannot log in: check the token")))
    assert robot.connector_failure == (
        "the refused connector failed: @bot cannot log in: check the token"
    )
    records = [r for r in caplog.records if "cannot log in" in r.getMessage()]
    assert records and all(r.exc_info is None for r in records)  # the reason, no traceback


def test_an_unexpected_error_is_a_failure_too(tmp_path: Path) -> None:
    robot = asyncio.run(_run(tmp_path, RuntimeError("boom")))
    assert robot.connector_failure == "the refused connector failed: RuntimeError: boom"
