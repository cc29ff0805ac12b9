"""Find one distribution's entry point by reading its metadata directly: the child's fast path.

`importlib.metadata` costs about 30 ms to import and a full entry-point scan about as much
again, several times the interpreter's own start-up; a one-shot child pays that on every
execution. The parent, which scanned once, tells the child which distribution supplies its
binding, and the child reads just that distribution's `entry_points.txt` from `sys.path`. A
binding that is not installed in the child's environment is therefore still refused.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable


def normalize(distribution: str) -> str:
    """Normalise a distribution name the way wheel `.dist-info` folders spell it."""
    # PEP 503 runs of -_. become one separator; without `re`, which costs the child ~5 ms.
    parts = distribution.lower().replace("-", "_").replace(".", "_").split("_")
    return "_".join(part for part in parts if part)


class FoundEntryPoint:
    """An entry point read from one distribution's metadata."""

    __slots__ = ("distribution", "name", "value", "version")

    def __init__(self, distribution: str, version: str, name: str, value: str) -> None:
        self.distribution = distribution
        self.version = version
        self.name = name
        self.value = value


def _dist_info_dirs(distribution: str, paths: Iterable[str]) -> Iterable[tuple[str, str]]:
    wanted = normalize(distribution)
    for entry in paths:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # zip files and missing folders hold no installed distributions here
        for folder in names:
            if not folder.endswith(".dist-info"):
                continue
            dist, _, version = folder[: -len(".dist-info")].partition("-")
            if normalize(dist) == wanted:
                yield os.path.join(entry or ".", folder), version


def read_entry_points(text: str, group: str) -> dict[str, str]:
    """Parse the `[group]` section of an `entry_points.txt` into name -> value."""
    found: dict[str, str] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def find_entry_point(
    distribution: str, group: str, name: str, paths: Iterable[str] | None = None
) -> FoundEntryPoint | None:
    """Return entry point `name` of `group` declared by `distribution`, or None."""
    for folder, version in _dist_info_dirs(distribution, sys.path if paths is None else paths):
        try:
            with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        value = read_entry_points(text, group).get(name)
        if value is not None:
            return FoundEntryPoint(distribution, version, name, value)
    return None
