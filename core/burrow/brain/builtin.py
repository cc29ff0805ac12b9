"""The providers shipped with Burrow, registered through the same hook as any plugin's."""

from __future__ import annotations

from burrow.brain.memory import MemoryBrain
from burrow.brain.registry import RegisterBrain
from burrow.brain.sqlite import SqliteBrain

__all__ = ["register_brains"]


def register_brains(register: RegisterBrain) -> None:
    """Register `sqlite` (the default, durable) and `memory` (for tests)."""
    register("sqlite", SqliteBrain.from_config)
    register("memory", MemoryBrain.from_config)
