"""Help filtered by the authorizer's groups: upstream's optional `_usergroups` contract.

A command that needs authorization (`AuthorizedCommands`, `AuthorizeAllCommands`) from a
plugin that names a group (`AuthRequire`) is left out of `help` and `GetHelpMetadata` for a
user who is not in that group, when the plugin's authorizer says which groups the user is in:

    _usergroups <username> <parameter-key>

Success with the parameter set (SetParameter) to a JSON array of group names means the groups
are known; anything else (NotFound, a failure, no parameter, text that is not an array of
strings) means they are not, and nothing is filtered. Group names compare as written or
lowercased, as upstream's (https://github.com/lnxjedi/gopherbot/blob/main/bot/authorize.go).
Each authorizer is asked once per help request, and the call records no event.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import TYPE_CHECKING

from burrow.constants import LogLevel, TaskRetVal
from burrow.engine.catalog import TaskKind

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline
    from burrow.engine.policy import PluginPolicy

__all__ = ["UserGroups"]

_PARAMETER_PREFIX = "GopherbotAuthUsergroups"  # upstream's, so an authorizer sees the same key
_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_requests = itertools.count(1)


def _requires_authorization(policy: PluginPolicy, command: str) -> bool:
    authorized = policy.authorized_commands
    return policy.authorize_all_commands or command in authorized or command.lower() in authorized


class UserGroups:
    """The groups of the pipeline's user, by authorizer, for one help request."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._known: dict[str, frozenset[str] | None] = {}

    async def hides(self, policy: PluginPolicy, command: str) -> bool:
        """Whether `command` of the plugin is left out of this user's help."""
        required = policy.auth_require.strip()
        if not required or not _requires_authorization(policy, command.strip()):
            return False
        authorizer = policy.authorizer or self.pipeline.robot.config.default_authorizer
        groups = await self.of(authorizer)
        if groups is None:
            return False
        return required not in groups and required.lower() not in groups

    async def of(self, authorizer: str) -> frozenset[str] | None:
        """The user's groups by `authorizer`'s `_usergroups` (None: not known), asked once."""
        if authorizer not in self._known:
            self._known[authorizer] = await self._ask(authorizer)
        return self._known[authorizer]

    async def _ask(self, authorizer: str) -> frozenset[str] | None:
        pipeline = self.pipeline
        user = pipeline.message.user.strip()
        task = pipeline.robot.catalog.get(authorizer) if authorizer.strip() else None
        if not user or task is None or task.disabled or task.kind is not TaskKind.PLUGIN:
            return None
        key = f"{_PARAMETER_PREFIX}_{_UNSAFE.sub('_', authorizer)}_{next(_requests)}"
        pipeline.parameters.pop(key, None)
        try:
            ret = await pipeline.run_callback(task, "_usergroups", [user, key], record=False)
        finally:
            payload = pipeline.parameters.pop(key, "").strip()
        if ret != TaskRetVal.Success or not payload:
            return None
        try:
            names = json.loads(payload)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            pipeline.log(
                LogLevel.Warn,
                f"{authorizer}/_usergroups set {key} to {payload[:80]!r}, not a JSON array of "
                "group names; help is not filtered by group",
            )
            return None
        groups = {n.strip() for n in names if n.strip()}
        return frozenset(groups | {n.lower() for n in groups})
