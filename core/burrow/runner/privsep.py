"""Privilege separation: children of unprivileged pipelines run as an unprivileged account.

When the robot runs as root and robot.yaml names an account (`PrivSep: {User: nobody}`), the
parent gives each child of an unprivileged pipeline that account's uid and gid
(`ExecutionSpec.identity`); the child drops to it — setgroups([]), setgid, setuid, in that
order — before it reads a byte from the parent, then checks that setuid(0) fails. Before the
robot takes any work, `self_check` starts probe children through every way a child can start
and refuses to run unless each one reports exactly that identity. See docs/security.md,
"Privilege separation".
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burrow.rpc.codec import Request
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.rpc.parent_session import AsyncSession
from burrow.runner.environment import child_environment
from burrow.runner.process import ChildProcess, SpawnedChild, Spawner

__all__ = [
    "ChildIdentity",
    "PrivSepError",
    "identity_problems",
    "probe",
    "resolve_account",
    "self_check",
]

PROBE_TIMEOUT = 30.0  # a probe scans every binding, as nobody, on a possibly loaded machine


class PrivSepError(Exception):
    """Privilege separation cannot be set up or does not hold; the robot must not run."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class ChildIdentity:
    """The account a child drops to: its uid and gid, and no supplementary groups."""

    uid: int
    gid: int
    name: str = ""

    @property
    def argument(self) -> str:
        """The child's `--user` argument."""
        return f"{self.uid}:{self.gid}"

    def __str__(self) -> str:
        who = f"{self.name} " if self.name else ""
        return f"{who}(uid {self.uid}, gid {self.gid})"


def resolve_account(user: str, group: str = "") -> ChildIdentity:
    """Look up `user` (a name or a uid) and `group` (default: the user's primary group)."""
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise PrivSepError(
            f"there is no account {user!r}", "name an existing unprivileged account, e.g. nobody"
        ) from None
    gid = entry.pw_gid
    if group:
        try:
            gid = grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
        except (KeyError, OverflowError):
            raise PrivSepError(
                f"there is no group {group!r}", "name an existing group, or leave Group out"
            ) from None
    if entry.pw_uid == 0:
        raise PrivSepError(f"{user!r} is root (uid 0)", "name an unprivileged account, e.g. nobody")
    if gid == 0:
        raise PrivSepError(
            f"the group of {user!r} is root's (gid 0)", "name an unprivileged Group, e.g. nogroup"
        )
    return ChildIdentity(entry.pw_uid, gid, entry.pw_name)


def identity_problems(
    hello: Any, identity: ChildIdentity, bindings: Collection[str] = ()
) -> list[str]:
    """What is wrong with a probe's `$/hello` answer for a child meant to run as `identity`."""
    report = hello.get("identity") if isinstance(hello, dict) else None
    if not isinstance(report, dict):
        return ["the child did not report its identity"]
    problems = []
    uids = [report.get(key) for key in ("uid", "euid", "suid")]
    gids = [report.get(key) for key in ("gid", "egid", "sgid")]
    if uids != [identity.uid] * 3:
        problems.append(f"its real/effective/saved uids are {uids}, not {identity.uid}")
    if gids != [identity.gid] * 3:
        problems.append(f"its real/effective/saved gids are {gids}, not {identity.gid}")
    if report.get("groups") != []:
        problems.append(f"it keeps the supplementary groups {report.get('groups')!r}")
    if report.get("regained_root") is not False:
        problems.append("setuid(0) did not fail in it")
    if report.get("no_new_privs") is not True:
        problems.append("it can still gain privileges through a setuid program (no_new_privs)")
    loaded = hello.get("bindings") if isinstance(hello, dict) else None
    errors = hello.get("binding_errors") or {} if isinstance(hello, dict) else {}
    for name in sorted(bindings):
        if not isinstance(loaded, dict) or name not in loaded:
            why = errors.get(name, "not found") if isinstance(errors, dict) else "not found"
            problems.append(f"it cannot load the {name!r} binding: {why}")
    return problems


async def probe(
    identity: ChildIdentity,
    workdir: Path,
    spawner: Spawner | None = None,
    python: str = sys.executable,
    timeout: float = PROBE_TIMEOUT,
) -> dict[str, Any]:
    """Start a child as `identity` in `workdir` and return its `$/hello` answer.

    The child loads every installed binding (no `--binding`), so the answer also says whether
    the account can read them. Raises PrivSepError when the child does not answer.
    """
    argv = [python, "-I", "-m", "burrow.child", "--user", identity.argument]
    session: AsyncSession | None = None

    def feed(data: bytes) -> None:
        if session is not None:
            session.feed(data)

    async def refuse(request: Request) -> None:
        raise RpcError(ErrorCode.METHOD_NOT_FOUND, "a probe serves nothing")

    try:
        child: ChildProcess = await (spawner or SpawnedChild.spawn)(
            argv, env=child_environment(), cwd=workdir, on_stdout=feed
        )
    except RpcError as exc:
        raise PrivSepError(f"a child could not start: {exc.message}") from None
    session = AsyncSession(child.write, on_request=refuse, on_notification=lambda n: None)
    hello = asyncio.ensure_future(session.request("$/hello", [{"versions": [1]}]))
    exited = asyncio.ensure_future(child.wait())
    try:
        await asyncio.wait({hello, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not hello.done() or hello.exception() is not None:
            await child.wait(1.0)  # let the last of stderr arrive
            status = child.returncode
            how = "did not answer" if status is None else f"exited with status {status}"
            tail = child.stderr.tail(600).strip()
            raise PrivSepError(f"a child started as {identity} {how}: {tail or 'no stderr'}")
        answer: dict[str, Any] = hello.result()
        try:
            await asyncio.wait_for(session.request("$/shutdown", [{}]), 5.0)
        except (RpcError, TimeoutError):
            pass  # the answer is what matters; the child is stopped below either way
        return answer
    finally:
        hello.cancel()
        exited.cancel()
        session.close(RpcError(ErrorCode.CHILD_EXIT, "the probe is over"))
        child.close_stdin()
        if not await child.wait(5.0):
            await child.stop(2.0)
        await child.close()


async def self_check(
    identity: ChildIdentity,
    workdir: Path,
    spawners: Sequence[Spawner | None],
    bindings: Collection[str] = (),
    python: str = sys.executable,
) -> None:
    """Refuse (PrivSepError) unless a child started each way as `identity` really is it."""
    if os.geteuid() != 0:
        raise PrivSepError(
            f"PrivSep needs the robot to run as root to start children as {identity}; "
            f"it runs as uid {os.geteuid()}",
            "start the robot as root, or remove PrivSep",
        )
    for spawner in spawners:
        hello = await probe(identity, workdir, spawner, python)
        problems = identity_problems(hello, identity, bindings)
        report = hello.get("identity")
        if isinstance(report, dict) and report.get("cwd_readable") is False:
            # Only here: a pipeline may still choose a folder of its own for its children.
            problems.append(f"it cannot read its working directory {workdir}")
        if problems:
            how = "forked by the zygote" if spawner is not None else "started as an interpreter"
            raise PrivSepError(
                f"a child {how} as {identity}: " + "; ".join(problems),
                f"make the Python environment, the bindings and {workdir} readable by "
                f"{identity.name or identity.uid}",
            )
