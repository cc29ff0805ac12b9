"""Fixtures for the brain tests: unopened providers of every kind Burrow ships."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from burrow.brain import EncryptedBrain, MemoryBrain, SecretBox, SqliteBrain, generate_key
from burrow.brain.provider import BrainProvider

KINDS = ["memory", "sqlite", "encrypted-sqlite"]


def _maker(kind: str, tmp_path: Path) -> Callable[[], BrainProvider]:
    """A function making unopened providers of `kind` that all share one store."""
    shared = MemoryBrain()
    key = generate_key()

    def make() -> BrainProvider:
        if kind == "memory":
            return shared
        sqlite = SqliteBrain(tmp_path / "state" / "brain.sqlite3")
        if kind == "sqlite":
            return sqlite
        return EncryptedBrain(sqlite, SecretBox([key]))

    return make


@pytest.fixture(params=KINDS)
def make_brain(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], BrainProvider]:
    """Unopened providers of each kind; two made by one test see the same stored data."""
    return _maker(request.param, tmp_path)


@pytest.fixture
def make_sqlite(tmp_path: Path) -> Callable[[], BrainProvider]:
    """Unopened SQLite providers on one file under tmp_path."""
    return _maker("sqlite", tmp_path)
