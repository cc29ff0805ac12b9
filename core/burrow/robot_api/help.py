"""GetHelpMetadata: the help of the plugin commands the user may run, as JSON text.

The shape is upstream's (https://github.com/lnxjedi/gopherbot/blob/main/bot/help_metadata_api.go),
so a help or fallback extension written for Gopherbot reads it unchanged:

    {"context": {bot_name, bot_alias, user, channel, direct, threaded, protocol, raw_query,
                 normalized_query},
     "visible_here": [entry...],   # commands the user can run where the message came from
     "browseable": [entry...],     # commands the user can run somewhere
     "ranked_here": [{plugin, command, score, visible_here}...],       # only with a query
     "ranked_browseable": [...]}

An entry is `{plugin, command, usage, summary, details, examples, keywords, scope, channels,
all_channels, private_ok, private_required, visible_here, plugin_summary}`, sorted by plugin
and command; empty fields are left out, as upstream's `omitempty`. A plugin is browseable when
it is enabled and the user passes its `Users` and `RequireAdmin`; a command is visible here
when the plugin takes part in matching in this place (docs/configuration.md) and the place
suits the command's private rules. A command needing authorization for a group (`AuthRequire`)
the authorizer's `_usergroups` says the user is not in is left out (engine/help_groups.py).
Ranking scores each command against the query as upstream does (exact command 100, plugin 95,
keyword 92, ..., one-typo matches, shared words).
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any

from burrow.engine.catalog import TaskDef
from burrow.engine.help_groups import UserGroups
from burrow.engine.policy import MessageContext, PluginPolicy, plugin_available
from burrow.robot_api.api import Result, TaskApi, robot_method

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_TOO_MANY_CHANNELS = 4
_STOP_WORDS = frozenset(
    "a an and are be do for get help i in is it me my of on please say tell the to what whats "
    "with you your".split()
)


# -- scoring (upstream's scoreHelpCommandMatch) -----------------------------------------------


def _phrase(text: str) -> str:
    return " ".join(text.strip().lower().replace("-", " ").split())


def _singular(token: str) -> str:
    if token.endswith("ies") and len(token) > 3:
        return token[:-3] + "y"
    if token.endswith("es") and len(token) > 3:
        return token[:-2]
    if token.endswith("s") and len(token) > 2:
        return token[:-1]
    return token


def _same(a: str, b: str) -> bool:
    return a == b or _singular(a) == _singular(b)


def _within_one_edit(a: str, b: str) -> bool:
    """Whether two different words of 4+ letters are one insertion, deletion or change apart."""
    a, b = a.strip().lower(), b.strip().lower()
    if not a or not b or _same(a, b) or " " in a or " " in b or len(a) < 4 or len(b) < 4:
        return False
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _search_tokens(entry: dict[str, Any]) -> list[str]:
    haystack = " ".join(
        [
            entry["plugin"],
            entry["command"],
            " ".join(entry.get("keywords", [])),
            entry.get("usage", ""),
            entry.get("summary", ""),
            " ".join(entry.get("examples", [])),
        ]
    )
    return list(dict.fromkeys(_TOKEN.findall(_phrase(haystack))))


def _meaningful(term: str) -> list[str]:
    tokens = _TOKEN.findall(_phrase(term))
    return list(dict.fromkeys(t for t in tokens if len(t) >= 3 and t not in _STOP_WORDS))


def score(entry: dict[str, Any], term: str) -> int:
    """How well a help entry matches a query: 0 (not at all) to 100 (the command itself)."""
    query = _phrase(term)
    if not query:
        return 0
    command, plugin = _phrase(entry["command"]), _phrase(entry["plugin"])
    keywords = [_phrase(k) for k in entry.get("keywords", []) if _phrase(k)]
    tokens = _search_tokens(entry)
    best = 0

    def at_least(value: int, when: bool = True) -> None:
        nonlocal best
        if when and value > best:
            best = value

    at_least(100, _same(query, command))
    at_least(95, _same(query, plugin))
    for keyword in keywords:
        at_least(92 if _same(query, keyword) else 72 if query in keyword else 0)
    at_least(70, any(_same(query, t) for t in tokens))
    at_least(84, query in command)
    at_least(80, query in plugin)
    at_least(65, query in _phrase(entry.get("usage", "")))
    at_least(62, query in _phrase(entry.get("summary", "")))
    at_least(74, query in _phrase(" ".join(entry.get("examples", []))))
    at_least(88, any(_within_one_edit(query, t) for t in _TOKEN.findall(command)))
    at_least(84, any(_within_one_edit(query, t) for t in _TOKEN.findall(plugin)))
    at_least(82, any(_within_one_edit(query, k) for k in keywords))
    at_least(78, any(_within_one_edit(query, t) for t in tokens))
    words = _TOKEN.findall(query)
    if not words or not tokens:
        return best
    known = set(tokens) | {_singular(t) for t in tokens}
    hits = sum(1 for w in words if w in known or _singular(w) in known)
    at_least(40 + hits, hits > 0)
    meaningful = _meaningful(query)
    if meaningful:
        found = [w for w in meaningful if w in known or _singular(w) in known]
        first_hit = meaningful[0] in found
        command_words = _TOKEN.findall(command)
        command_first = bool(command_words) and (
            _same(meaningful[0], command_words[0]) or command_words[0].startswith(meaningful[0])
        )
        if found and (first_hit or command_first or len(found) == len(meaningful)):
            candidate = 60 + 4 * len(found)
            candidate += 8 * first_hit + 8 * command_first + 4 * (len(found) == len(meaningful))
            at_least(min(candidate, 89))
    return best


def _ranked(entries: list[dict[str, Any]], term: str, here: bool) -> list[dict[str, Any]]:
    scored = [(score(e, term), e) for e in entries]
    scored = [(s, e) for s, e in scored if s > 0]
    scored.sort(key=lambda pair: (-pair[0], pair[1]["plugin"], pair[1]["command"]))
    return [
        {
            "plugin": e["plugin"],
            "command": e["command"],
            "score": s,
            "visible_here": here or e["visible_here"],
        }
        for s, e in scored
    ]


# -- collecting -------------------------------------------------------------------------------


def _may_use(policy: PluginPolicy, user: str, admin: bool) -> bool:
    """The plugin's RequireAdmin and Users (glob patterns) admit the user."""
    if policy.require_admin and not admin:
        return False
    return not policy.users or any(fnmatchcase(user, pattern) for pattern in policy.users)


def _scope(task: TaskDef) -> str:
    settings = task.plugin
    channels = settings.channels if settings is not None else []
    if channels:
        if len(channels) > _TOO_MANY_CHANNELS:
            return "channels: (many)"
        return "channels: " + ", ".join(channels)
    if settings is None or settings.all_channels:
        return "all channels"
    return "channel scoped"


async def _entries(api: TaskApi) -> list[dict[str, Any]]:
    robot, m = api.robot, api.pipeline.message
    groups = UserGroups(api.pipeline)  # the authorizer's `_usergroups` (engine/help_groups.py)
    admin = robot.is_admin(m.user) if m.user else False
    here = MessageContext(m.user, m.channel, hidden=m.hidden, is_admin=admin)
    out: list[dict[str, Any]] = []
    for task in sorted(robot.catalog.plugins(), key=lambda t: t.name):
        policy = task.policy
        if task.disabled or policy is None or not _may_use(policy, m.user, admin):
            continue
        available = plugin_available(policy, here)
        settings = task.plugin
        matchers = settings.commands if settings is not None else []
        names = [mt.command for mt in matchers]
        if settings is None and task.routes is not None:  # a built-in command
            names = [c.command for c in task.routes.commands]
        by_command: dict[str, dict[str, Any]] = {}
        for name in names:
            command = name.strip().lower()
            if command and command not in by_command and not await groups.hides(policy, name):
                by_command[command] = {"plugin": task.name, "command": command}
        for matcher in matchers:
            entry = by_command.get(matcher.command.strip().lower())
            if entry is None:
                continue
            for key, value in (
                ("usage", matcher.usage),
                ("summary", matcher.summary),
                ("details", matcher.details),
            ):
                if value.strip() and key not in entry:
                    entry[key] = value.strip()
            for key, values in (("examples", matcher.examples), ("keywords", matcher.keywords)):
                merged = list(dict.fromkeys([*entry.get(key, []), *values]))
                if merged:
                    entry[key] = merged
        description = task.spec.description.strip() if task.spec is not None else ""
        for command, entry in by_command.items():
            allows = (
                policy.require_all_commands_private
                or command in policy.required_private_commands
                or "*" in policy.allowed_private_commands
                or command in policy.allowed_private_commands
            )
            requires = (
                policy.require_all_commands_private or command in policy.required_private_commands
            )
            visible = available and (allows if here.private else not requires)
            entry.setdefault("usage", f"(alias) {command}")
            entry["scope"] = _scope(task)
            if settings is not None and settings.channels:
                entry["channels"] = list(settings.channels)
            if settings is not None and settings.all_channels:
                entry["all_channels"] = True
            if allows:
                entry["private_ok"] = True
            if requires:
                entry["private_required"] = True
            entry["visible_here"] = visible
            summary = description or entry.get("summary", "")
            if summary:
                entry["plugin_summary"] = summary
            out.append(entry)
    return out


async def help_metadata(api: TaskApi, query: str) -> dict[str, Any]:
    """The metadata GetHelpMetadata answers, as a JSON-ready dict."""
    robot, m = api.robot, api.pipeline.message
    alias, name = robot.config.alias, robot.name
    normalized = query.strip()
    if alias and normalized.startswith(alias):
        normalized = normalized[len(alias) :].strip()
    lowered = normalized.lower()
    for separator in (",", ":", " "):
        if lowered.startswith(name.lower() + separator):
            normalized = normalized[len(name) + 1 :].strip()
            lowered = normalized.lower()
    if lowered.startswith(f"@{name.lower()} "):
        normalized = normalized[len(name) + 2 :].strip()
    context = {
        "bot_name": name,
        "bot_alias": alias,
        "user": m.user,
        "channel": m.channel,
        "direct": m.channel == "",
        "threaded": m.threaded,
        "protocol": m.protocol,
        "raw_query": query.strip(),
        "normalized_query": normalized,
    }
    browseable = await _entries(api)
    visible = [e for e in browseable if e["visible_here"]]
    result: dict[str, Any] = {
        "context": {k: v for k, v in context.items() if v != "" or k in ("direct", "threaded")},
        "visible_here": visible,
        "browseable": browseable,
    }
    if normalized:
        ranked_here = _ranked(visible, normalized, here=True)
        ranked_browseable = _ranked(browseable, normalized, here=False)
        if ranked_here:
            result["ranked_here"] = ranked_here
        if ranked_browseable:
            result["ranked_browseable"] = ranked_browseable
    return result


@robot_method("GetHelpMetadata", str)
async def _get_help_metadata(api: TaskApi, options: dict[str, Any], query: str) -> Result:
    return {"string": json.dumps(await help_metadata(api, query), ensure_ascii=False)}
