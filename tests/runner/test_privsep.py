"""Privilege separation: children of unprivileged pipelines run as an unprivileged account.

These tests change uids, so they need root (CI runs them as root); elsewhere they skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spare_support import MODES, run_in_mode

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.limits import ChildLimits
from burrow.runner.privsep import ChildIdentity, PrivSepError, resolve_account, self_check
from burrow.runner.spares import SparePool
from burrow.runner.zygote import Zygote
from support import ROOT, RecordingDispatcher, run

ACCOUNT = "nobody"


@pytest.fixture(scope="module")
def account() -> ChildIdentity:
    if os.geteuid() != 0:
        pytest.skip("needs root to change uid")
    try:
        return resolve_account(ACCOUNT)
    except PrivSepError as exc:
        pytest.skip(f"no unprivileged account to test with: {exc}")


@pytest.fixture(scope="module")
def shared_dir() -> Iterator[Path]:
    """A folder the account can read (pytest's own temporary folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="burrow-privsep-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _runs_as(python: str, who: ChildIdentity) -> bool:
    check = "import burrow.child.main, burrow_testbinding"
    try:
        probe = subprocess.run(
            [python, "-I", "-c", check],
            user=who.uid,
            group=who.gid,
            extra_groups=[],
            cwd="/",
            capture_output=True,
            timeout=120,
        )
    except PermissionError:  # the account cannot even execute it
        return False
    return probe.returncode == 0


@pytest.fixture(scope="module")
def python(account: ChildIdentity, shared_dir: Path) -> str:
    """A Python with this environment's packages that the account can run.

    Usually `sys.executable`. An interpreter in a folder only root can enter (a pyenv Python
    under /root) is replaced by a virtual environment of the system's Python of the same
    version that reads this environment's site-packages.
    """
    if _runs_as(sys.executable, account):
        return sys.executable
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for base in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if not os.access(base, os.X_OK):
            continue
        venv = shared_dir / "venv"
        made = subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], timeout=120)
        if made.returncode != 0:
            continue
        shim = str(venv / "bin" / "python")
        where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        site = subprocess.run([shim, "-c", where], capture_output=True, text=True, timeout=60)
        ours = sysconfig.get_paths()["purelib"]
        pth = Path(site.stdout.strip()) / "burrow-tests.pth"
        pth.write_text(f"import site; site.addsitedir({ours!r})\n")
        if _runs_as(shim, account):
            return shim
    pytest.skip(f"{ACCOUNT} cannot run {sys.executable} and there is no Python {version} it can")


def _execute(
    binding: Binding,
    python: str,
    workdir: Path,
    mode: str,
    *args: str,
    identity: ChildIdentity | None,
    limits: ChildLimits | None = None,
) -> ExecutionResult:
    spec = ExecutionSpec(
        binding,
        "test_run",
        {"args": list(args)},
        workdir,
        timeout=60.0,
        python=python,
        identity=identity,
        limits=limits or ChildLimits(),
    )
    # A spare drops to the account when it is forked, long before its request.
    return run(run_in_mode(mode, spec, RecordingDispatcher(), zygote_python=python))


@pytest.mark.parametrize("mode", MODES)
def test_an_unprivileged_child_has_the_accounts_ids_no_groups_and_no_way_back(
    mode: str, account: ChildIdentity, python: str, shared_dir: Path, test_binding: Binding
) -> None:
    result = _execute(test_binding, python, shared_dir, mode, "identity", identity=account)
    assert result.ret_val == TaskRetVal.Normal, (result.error, result.stderr_tail)
    assert result.result is not None
    found: dict[str, Any] = result.result["identity"]
    assert found["uids"] == [account.uid] * 3
    assert found["gids"] == [account.gid] * 3
    assert found["groups"] == []
    assert found["setuid0"] == "refused (Operation not permitted)"
    assert found["no_new_privs"] is True  # no setuid program can give the privileges back


@pytest.mark.parametrize("mode", MODES)
def test_a_child_given_no_account_keeps_the_robots_uid(
    mode: str, account: ChildIdentity, python: str, shared_dir: Path, test_binding: Binding
) -> None:
    # What a privileged pipeline's children get: the parent passes no identity.
    result = _execute(test_binding, python, shared_dir, mode, "identity", identity=None)
    assert result.result is not None
    assert result.result["identity"]["uids"] == [0, 0, 0]
    assert result.result["identity"]["no_new_privs"] is False


@pytest.mark.parametrize("mode", MODES)
def test_the_process_limit_holds_for_an_unprivileged_child(
    mode: str, account: ChildIdentity, python: str, shared_dir: Path, test_binding: Binding
) -> None:
    result = _execute(
        test_binding,
        python,
        shared_dir,
        mode,
        "spawn",
        "40",
        identity=account,
        limits=ChildLimits(processes=8),
    )
    assert result.ret_val == TaskRetVal.Normal, (result.error, result.stderr_tail)
    assert result.result is not None
    assert "Resource temporarily unavailable" in result.result["failure"]
    assert result.result["spawned"] < 8


def test_the_self_check_passes_when_the_drop_holds_in_both_start_modes(
    account: ChildIdentity, python: str, shared_dir: Path
) -> None:
    async def go() -> None:
        zygote = Zygote(python)
        try:
            await self_check(account, shared_dir, [zygote.spawn, None], ["test"], python)
        finally:
            await zygote.close()

    run(go())


def test_the_self_check_refuses_a_working_directory_the_account_cannot_read(
    account: ChildIdentity, python: str, shared_dir: Path
) -> None:
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(PrivSepError, match="cannot read its working directory"):
        run(self_check(account, private, [None], ["test"], python))


def test_the_self_check_refuses_when_the_account_cannot_load_a_binding(
    account: ChildIdentity, python: str, shared_dir: Path
) -> None:
    with pytest.raises(PrivSepError, match="cannot load the 'missing' binding"):
        run(self_check(account, shared_dir, [None], ["missing"], python))


@pytest.mark.parametrize(
    ("user", "group", "why"),
    [
        ("root", "", "is root"),
        (ACCOUNT, "root", "root's"),
        ("no-such-account-7f3", "", "there is no account"),
        (ACCOUNT, "no-such-group-7f3", "there is no group"),
    ],
    ids=["root", "root-group", "unknown-user", "unknown-group"],
)
def test_accounts_that_would_not_separate_are_refused(user: str, group: str, why: str) -> None:
    with pytest.raises(PrivSepError, match=why):
        resolve_account(user, group)


# --- through the robot ---------------------------------------------------------------------

WHOAMI = """\
config: |
  AllChannels: true
  Commands: [{Command: who, Regex: '%s'}]
commands:
  who:
    - {behave: [identity]}
"""


def _robot(folder: Path, robot_yaml: str) -> Path:
    robot = folder / "robot"
    (robot / "conf").mkdir(parents=True)
    (robot / "ext").mkdir()
    (robot / "conf" / "robot.yaml").write_text(textwrap.dedent(robot_yaml))
    (robot / "ext" / "whoami.test").write_text(WHOAMI % "whoami")
    (robot / "ext" / "rootwho.test").write_text(WHOAMI % "rootwho")
    return robot


def _burrow(
    python: str, robot: Path, stdin: str, **options: Any
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BURROW_BINDINGS"}
    return subprocess.run(
        [python, "-m", "burrow", "run", str(robot)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        **options,
    )


ROBOT_YAML = (
    f"PrivSep: {{User: {ACCOUNT}}}\n"
    "ExternalPlugins:\n"
    "  whoami: {Path: ext/whoami.test}\n"
    "  rootwho: {Path: ext/rootwho.test, Privileged: true}\n"
)


def test_a_robot_runs_unprivileged_pipelines_as_the_account_and_privileged_ones_as_itself(
    account: ChildIdentity, python: str, shared_dir: Path
) -> None:
    robot = _robot(shared_dir / "runs", ROBOT_YAML)
    result = _burrow(python, robot, ";whoami\n;rootwho\n")
    assert result.returncode == 0, result.stderr
    ids = f"[{account.uid}, {account.uid}, {account.uid}]"
    assert f"uids={ids} gids=[{account.gid}, {account.gid}, {account.gid}] groups=[]" in (
        result.stdout
    )
    assert "setuid0=refused (Operation not permitted)" in result.stdout
    assert "uids=[0, 0, 0] gids=[0, 0, 0]" in result.stdout  # rootwho is Privileged


def test_a_robot_not_running_as_root_refuses_privsep(
    account: ChildIdentity, python: str, shared_dir: Path
) -> None:
    robot = _robot(shared_dir / "notroot", ROBOT_YAML)
    (robot / "state").mkdir()
    for folder in (robot, robot / "state"):
        os.chown(folder, account.uid, account.gid)
    result = _burrow(python, robot, "", user=account.uid, group=account.gid, extra_groups=[])
    assert result.returncode == 2
    assert "conf/robot.yaml: PrivSep: PrivSep needs the robot to run as root" in result.stderr


def test_a_robot_with_an_unknown_privsep_account_refuses_to_start(tmp_path: Path) -> None:
    robot = _robot(tmp_path, "PrivSep: {User: no-such-account-7f3}\n")
    result = _burrow(sys.executable, robot, "")
    assert result.returncode == 2
    assert "PrivSep: there is no account 'no-such-account-7f3'" in result.stderr


def test_a_spare_drops_to_the_account_before_its_request_and_enters_folders_as_it(
    account: ChildIdentity, python: str, shared_dir: Path, test_binding: Binding
) -> None:
    private = shared_dir / "root-only"
    private.mkdir(mode=0o700, exist_ok=True)

    async def go() -> tuple[list[str], ExecutionResult, ExecutionResult]:
        zygote = Zygote(python)
        pool = SparePool(
            zygote.spawn,
            {"test": test_binding},
            {"test": 1},
            [(account, ChildLimits())],
            python=python,
        )
        pool.start()
        try:
            assert await pool.wait_full(120)
            spare = pool.ready()[0]
            assert spare.child is not None
            with open(f"/proc/{spare.child.pid}/status") as handle:
                ids = [line for line in handle if line.startswith(("Uid:", "Gid:", "Groups:"))]

            def spec(workdir: Path) -> ExecutionSpec:
                return ExecutionSpec(
                    test_binding,
                    "test_run",
                    {"args": ["identity"]},
                    workdir,
                    timeout=60.0,
                    python=python,
                    identity=account,
                )

            refused = await Execution(spec(private), RecordingDispatcher(), spawner=pool).run()
            assert await pool.wait_full(120)
            served = await Execution(spec(shared_dir), RecordingDispatcher(), spawner=pool).run()
            return ids, refused, served
        finally:
            await pool.close()
            await zygote.close()

    ids, refused, served = run(go())
    uid, gid = str(account.uid), str(account.gid)
    assert ids[0].split()[1:] == [uid] * 4 and ids[1].split()[1:] == [gid] * 4
    assert ids[2].split()[1:] == []
    assert refused.spare and refused.error is not None
    assert refused.error.code == ErrorCode.CHILD_START
    assert "Permission denied" in refused.error.message
    assert served.spare and served.ret_val == TaskRetVal.Normal, served.error
    assert served.result is not None and served.result["identity"]["uids"] == [account.uid] * 3
