"""The operating-system limits a child puts on itself before any extension code runs.

The parent sends them in `$/hello` (`limits`); the child applies them with setrlimit before it
loads a binding, in both start modes (a new interpreter, or a fork of the zygote), and a child
cannot raise them again: the hard limit is set too. See docs/security.md, "Resource limits".
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

__all__ = ["ChildLimits", "cpu_limit_message"]


@dataclass(frozen=True)
class ChildLimits:
    """Per-child limits; None or 0 leaves the robot's own limit in place."""

    cpu_seconds: int | None = None  # RLIMIT_CPU: SIGXCPU at N s of CPU, SIGKILL one second later
    memory_bytes: int | None = None  # RLIMIT_DATA (not RLIMIT_AS: V8 reserves address space)
    open_files: int | None = None  # RLIMIT_NOFILE
    processes: int | None = None  # RLIMIT_NPROC: per user, and never enforced for root

    def to_hello(self) -> dict[str, int]:
        """The `limits` map of `$/hello`: only the limits that are set."""
        fields = {
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_bytes,
            "open_files": self.open_files,
            "processes": self.processes,
        }
        return {name: value for name, value in fields.items() if value}


def cpu_limit_message(status: int | None, limits: ChildLimits) -> str | None:
    """Say so when a child's exit status shows it was stopped by its CPU limit."""
    if limits.cpu_seconds and status == -signal.SIGXCPU:
        return f"CPU limit of {limits.cpu_seconds} s reached (the child was killed by SIGXCPU)"
    return None
