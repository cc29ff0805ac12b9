"""The explicit, minimal environment a child starts with; nothing else passes."""

from __future__ import annotations

import os
from collections.abc import Mapping

# Copied from the robot's environment when set there. Everything else (credentials, tokens,
# PYTHON*, LD_PRELOAD, the robot's own BURROW_* settings) stays in the parent.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def child_environment(
    extra: Mapping[str, str] | None = None, parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Build a child's environment: the pass-through variables plus what the engine grants."""
    source = os.environ if parent is None else parent
    env = {name: source[name] for name in PASSED_THROUGH if name in source}
    env.setdefault("PATH", DEFAULT_PATH)
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not isinstance(value, str) or "=" in name or not name:
            raise ValueError(f"invalid environment entry {name!r}")
        env[name] = value
    return env
