"""burrow.child.main.replace_environ: the environment a child (or a spare at `$/setup`) becomes."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, os, subprocess, sys, time
from burrow.child.main import replace_environ
replace_environ(json.loads(sys.argv[1]))
seen = subprocess.run(["/usr/bin/env", "-0"], capture_output=True, check=True).stdout
c_env = dict(e.split("=", 1) for e in seen.decode().split("\\0") if e)
print(json.dumps({"os": dict(os.environ), "c": c_env, "tz": time.tzname[0]}))
"""


def _replace(env: dict[str, str], parent: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", CODE, json.dumps(env)],
        env=parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_the_new_environment_is_the_whole_environment_in_python_and_in_c() -> None:
    parent = {"PATH": "/usr/bin:/bin", "SECRET": "from the zygote", "LANG": "C.UTF-8"}
    env = {"PATH": "/bin", "GOPHER_CHANNEL": "général", "EMPTY": ""}
    answer = _replace(env, parent)
    assert answer["os"] == env
    assert answer["c"] == env  # what getenv and a subprocess see


def test_a_changed_tz_takes_effect() -> None:
    answer = _replace({"TZ": "EST5"}, {"TZ": "UTC0"})
    assert answer["tz"] == "EST"
