"""Fixtures of the hostile suite: `h`, a HostileRobot (hostile_support.py) in each language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_support import CANARY, CANARY_NAME, LANGUAGES, HostileRobot

from burrow.brain.secrets import generate_key


@pytest.fixture(params=LANGUAGES)
def h(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HostileRobot]:
    """A hostile robot in each language (parametrize `h` indirectly to pick one)."""
    monkeypatch.setenv(CANARY_NAME, CANARY)
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", generate_key())
    yield HostileRobot(tmp_path / "robot", request.param)
