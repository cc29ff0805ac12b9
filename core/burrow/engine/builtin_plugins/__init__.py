"""Upstream Gopherbot's configurable built-in plugins, run in the robot's own process.

Unlike the fixed built-ins of engine/builtins.py (ping, help, admin, jobs), these are
configured exactly like an extension: each has a default configuration (what an extension's
`_configure` would answer), merged under the robot's `conf/plugins/NAME.yaml`, and a model for
its `Config` section, checked when the robot loads (a misfit disables the plugin with the
file, line and key). They are matched, judged by policy and run in pipelines like any plugin.

- `groups` (groups.py): an authorizer; disabled until a robot enables it.
- `builtin-totp` (totp.py): an elevator asking for TOTP codes.
"""

from __future__ import annotations

from burrow.engine.builtin_plugins import groups, totp
from burrow.engine.catalog import TaskDef, TaskKind

__all__ = ["builtin_plugin_tasks"]


def builtin_plugin_tasks() -> list[TaskDef]:
    """A fresh TaskDef of each configurable built-in plugin, to be configured at load."""
    return [
        TaskDef(
            groups.NAME,
            TaskKind.PLUGIN,
            builtin=groups.groups,
            default_config=groups.DEFAULT_CONFIG,
            config_model=groups.GroupsConfig,
        ),
        TaskDef(
            totp.NAME,
            TaskKind.PLUGIN,
            builtin=totp.totp,
            default_config=totp.DEFAULT_CONFIG,
            config_model=totp.TotpConfig,
        ),
    ]
