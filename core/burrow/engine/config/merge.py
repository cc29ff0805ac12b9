"""Gopherbot's configuration merge: an overlay document laid over a base document.

Used to lay the robot's ``conf/plugins/NAME.yaml`` over the default configuration an extension
returns from ``_configure``. Maps merge recursively, scalars and lists replace, and a key
``Append<Key>`` whose value is a list appends that list to ``<Key>`` instead of replacing it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from burrow.engine.config.schema import KeyPath

__all__ = ["Origins", "merge_config", "merge_with_origins"]

Origins = list[tuple[KeyPath, KeyPath]]
"""Pairs (path in the merged document, path in the overlay) for every value the overlay supplied."""

# `Append` must be followed by a capitalised key, so a Config key like `Appendix` is left alone.
_APPEND = re.compile(r"Append([A-Z].*)", re.DOTALL)


def merge_config(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new document: ``overlay`` laid over ``base`` by Gopherbot's merge rules."""
    merged, _ = merge_with_origins(base, overlay)
    return merged


def merge_with_origins(
    base: Mapping[str, Any], overlay: Mapping[str, Any]
) -> tuple[dict[str, Any], Origins]:
    """Merge like ``merge_config`` and also say which merged paths came from the overlay."""
    # Origins let an error in the merged document point at the file and line that caused it.
    origins: Origins = []
    return _merge(base, overlay, (), origins), origins


def _merge(
    base: Mapping[str, Any], overlay: Mapping[str, Any], path: KeyPath, origins: Origins
) -> dict[str, Any]:
    """Merge one level of two mappings, recording overlay origins under ``path``."""
    merged = copy.deepcopy(dict(base))
    appends: list[tuple[str, str, list[Any]]] = []
    for key, value in overlay.items():
        target = _APPEND.fullmatch(key) if isinstance(key, str) else None
        if target is not None and isinstance(value, list):
            # Appends wait until <Key> itself has been merged, whatever the key order.
            appends.append((key, target.group(1), value))
            continue
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value, (*path, key), origins)
        elif value is None and key in merged:
            # An empty value in the overlay never erases what the base provides.
            continue
        else:
            merged[key] = copy.deepcopy(value)
            origins.append(((*path, key), (*path, key)))
    for append_key, key, items in appends:
        current = merged.get(key)
        if isinstance(current, list):
            merged[key] = current + copy.deepcopy(items)
            origins.extend(
                ((*path, key, len(current) + index), (*path, append_key, index))
                for index in range(len(items))
            )
        else:
            merged[key] = copy.deepcopy(items)
            origins.append(((*path, key), (*path, append_key)))
    return merged
