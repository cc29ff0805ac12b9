"""What the test binding does.

An extension file with content is a *script* (YAML), so engine tests can write real extensions
without a language interpreter:

    config: |                  # the default configuration `_get_config` answers
      Commands: [{Command: echo, Regex: 'echo (.*)'}]
    commands:                  # steps per command (args[0]); "*" for any other
      echo:
        - [Say, "you said {args[1]}"]     # a robot call; str.format with args, bot, cwd, env
        - {call: [GetParameter, X], as: p}          # keep the result as {p[string]}
        - {call: [Say, "{p[string]}"], options: {threaded: true}}
        - {call: [UpdateDatum, n, "{c[lock_token]}", "=c['datum'] + 1"]}  # "=" evaluates
        - {print: "to the task log", times: 3}     # stdout, which the child sends to stderr
        - {sleep: 0.5}
        - {return: 1}                               # the TaskRetVal (default 0)
        - {behave: [identity]}        # run a behaviour below with these args; its answer ends it

Without a script, the command (args[0]) of the execution request chooses a transport behaviour:

_init                    answer Normal (the robot's start-up call, Robot.initialize_plugins)
echo                     answer with the params it received
calls N [METHOD]         make N robot calls (default Say), timing each; answer the results
call METHOD ARG...       one robot call; answer its result (or its error code)
print                    write to fd 1 through print(), os.write and a subprocess, then answer
sleep SECONDS            sleep, then answer
crash                    write to stderr and abort (SIGABRT)
exit STATUS              write to stderr and exit with STATUS without answering
grandchild               spawn a sleeping grandchild, log its pid, then hang
oom                      allocate memory until the limit stops it
raise                    raise an exception
ret N                    answer ret_val N
env                      answer the child's environment
fds                      answer the child's open descriptors
cwd                      answer the working directory
big BYTES                answer a result of about BYTES bytes
hang                     ignore SIGTERM and $/cancel and spin until SIGKILL
garbage                  write an undecodable frame to the parent, then hang
modules                  answer which start-up-heavy modules the child had imported
inherited                answer how many objects the collector holds frozen (a zygote's)
identity                 answer (and Say) the uids, gids and groups, and whether setuid(0) works
open N                   open /dev/null N times; answer how many opened and why it stopped
spawn N                  start N sleeping subprocesses; answer how many started and why not
"""

from __future__ import annotations

import sys

# Taken before this module's own imports (typing among them) to see what the child loaded.
_MODULES_AT_IMPORT = frozenset(sys.modules)

import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from burrow.child.context import ExecutionContext  # noqa: E402
from burrow.rpc.errors import RpcError  # noqa: E402


def _script(params: dict[str, Any]) -> dict[str, Any] | None:
    path = params.get("path")
    if not path or not os.path.isfile(path) or os.path.getsize(path) == 0:
        return None
    import yaml

    with open(path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    return loaded if isinstance(loaded, dict) else {}


def _run_script(
    script: dict[str, Any], params: dict[str, Any], ctx: ExecutionContext
) -> dict[str, Any]:
    args = [str(a) for a in params.get("args", [])]
    commands = script.get("commands") or {}
    steps = commands.get(args[0] if args else "", commands.get("*", []))
    saved: dict[str, Any] = {}
    fields = {
        "args": args,
        "bot": params.get("bot", {}),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
    }

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("="):
            return eval(value[1:], {}, {**fields, **saved})  # test-only: "=c['datum'] + 1"
        if isinstance(value, str):
            return value.format(**fields, **saved)
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    for step in steps:
        if isinstance(step, list):
            step = {"call": step}
        if "call" in step:
            method, *call_args = fill(step["call"])
            try:
                result = ctx.robot_call(method, call_args, step.get("options"))
            except RpcError as exc:
                result = {"error": str(exc.code)}
            if "as" in step:
                saved[step["as"]] = result
        elif "print" in step:
            for _ in range(int(step.get("times", 1))):
                print(fill(step["print"]), flush=True)  # fd 1 is stderr in the child: the task log
        elif "sleep" in step:
            time.sleep(float(step["sleep"]))
        elif "fail" in step:
            raise RuntimeError(fill(step["fail"]))
        elif "return" in step:
            return {"ret_val": int(step["return"])}
        elif "behave" in step:
            return run({**params, "path": "", "args": fill(step["behave"])}, ctx)
    return {"ret_val": 0}


def run(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Run a script extension, or dispatch on the command."""
    script = _script(params)
    if script is not None:
        return _run_script(script, params, ctx)
    args = [str(a) for a in params.get("args", [])]
    command, rest = (args[0], args[1:]) if args else ("echo", [])
    answer: dict[str, Any] = {"ret_val": 0}
    if command == "_init":  # the robot's start-up call: nothing to set up
        pass
    elif command == "echo":
        answer["params"] = params
    elif command == "calls":
        method = rest[1] if len(rest) > 1 else "Say"
        timings, results = [], []
        for i in range(int(rest[0])):
            start = time.perf_counter()
            results.append(ctx.robot_call(method, [f"message {i}"]))
            timings.append(time.perf_counter() - start)
        answer.update(results=results, timings=timings)
    elif command == "call":
        try:
            answer["result"] = ctx.robot_call(rest[0], rest[1:])
        except RpcError as exc:
            answer["error_code"] = str(exc.code)
    elif command == "print":
        print("stray print() output")
        sys.stdout.flush()
        os.write(1, b"stray os.write to fd 1\n")
        subprocess.run(["sh", "-c", "echo stray subprocess output"], check=True)
        answer["after"] = ctx.robot_call("Say", ["still in sync"])
    elif command == "sleep":
        time.sleep(float(rest[0]))
    elif command == "crash":
        sys.stderr.write("test binding: about to crash\n")
        sys.stderr.flush()
        os.abort()
    elif command == "exit":
        sys.stderr.write(f"test binding: exiting with {rest[0]}\n")
        sys.stderr.flush()
        os._exit(int(rest[0]))
    elif command == "grandchild":
        grandchild = subprocess.Popen(["sleep", "300"])
        ctx.log(2, f"grandchild {grandchild.pid}")
        time.sleep(300)
    elif command == "oom":
        hog = []
        while True:
            hog.append(bytearray(16 * 1024 * 1024))
    elif command == "raise":
        raise ValueError("the test binding was asked to raise")
    elif command == "ret":
        answer["ret_val"] = int(rest[0])
    elif command == "env":
        answer["env"] = dict(os.environ)
    elif command == "fds":
        answer["fds"] = _fds()
        probe = "import os; print(sorted(int(f) for f in os.listdir('/proc/self/fd')))"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
        answer["subprocess_fds"] = out.stdout.strip()
    elif command == "big":
        answer["blob"] = "x" * int(rest[0])
    elif command == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        ctx.log(2, "hanging")
        while True:
            pass
    elif command == "garbage":
        os.write(ctx._session._wfd, b"\xc1\xc1\xc1 not msgpack")  # test-only reach inside
        time.sleep(300)
    elif command == "modules":
        heavy = ("pluggy", "importlib.metadata", "asyncio", "typing", "dataclasses")
        answer["modules"] = [m for m in heavy if m in _MODULES_AT_IMPORT]
    elif command == "inherited":
        import gc

        answer["frozen"] = gc.get_freeze_count()
    elif command == "cwd":
        answer["cwd"] = os.getcwd()
    elif command == "identity":
        answer["identity"] = _identity()
        ctx.robot_call("Say", [" ".join(f"{k}={v}" for k, v in answer["identity"].items())])
    elif command == "open":
        opened: list[int] = []
        try:
            for _ in range(int(rest[0])):
                opened.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            answer["failure"] = str(exc)
        answer["opened"] = len(opened)
    elif command == "spawn":
        started: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(int(rest[0])):
                started.append(subprocess.Popen(["sleep", "60"]))
        except OSError as exc:
            answer["failure"] = str(exc)
        answer["spawned"] = len(started)
        for process in started:
            process.kill()
            process.wait()
    else:
        answer = {
            "ret_val": 2,
            "error": {"code": "extension_error", "message": f"unknown {command!r}"},
        }
    return answer


def get_config(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Answer the script's configuration, or a fixed one after checking the Robot API is refused."""
    script = _script(params)
    if script is not None:
        return {"config": str(script.get("config") or "")}
    try:
        ctx.robot_call("Say", ["not allowed here"])
        refused = ""
    except RpcError as exc:
        refused = str(exc.code)
    return {"config": f"Help: test binding\nRefused: {refused}\n"}


def _identity() -> dict[str, Any]:
    """Who this process is, and whether it can make itself root."""
    found: dict[str, Any] = {
        "uids": list(os.getresuid()),
        "gids": list(os.getresgid()),
        "groups": sorted(os.getgroups()),
        "no_new_privs": _no_new_privs(),
    }
    try:
        os.setuid(0)
        found["setuid0"] = "succeeded"
    except PermissionError as exc:
        found["setuid0"] = f"refused ({exc.strerror})"
    return found


def _no_new_privs() -> bool:
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        return any(line.split() == ["NoNewPrivs:", "1"] for line in status)


def _fds() -> dict[str, str]:
    """Open descriptors and what they point at, without the one listing them."""
    listing = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        found = {}
        for fd in os.listdir(listing):
            if int(fd) != listing:
                try:
                    found[fd] = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    pass  # the duplicate listdir() made of `listing`, already closed
        return found
    finally:
        os.close(listing)
