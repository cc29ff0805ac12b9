"""The synchronous bridge's Python side: V8's thread, the request checks that stay on it."""

from __future__ import annotations

import json
import subprocess
import sys

from burrow.constants import TaskRetVal

# V8 starts once per process, with flags fixed for good: each probe runs in its own interpreter.
THREAD_PROBE = """
import json, threading
from burrow_js import _v8

isolate = _v8.Isolate(_v8.check_installation(), ["--single-threaded"], 128 << 20)
local = threading.local()
seen = []

def handler(request):
    # What a thread keeps between calls only while its Python thread state lives on.
    seen.append((threading.get_ident(), getattr(local, "calls", 0)))
    local.calls = getattr(local, "calls", 0) + 1
    return "{}"

isolate.install_bridge(handler)
isolate.eval("for (let i = 0; i < 50; i++) globalThis.__burrow_bridge('x');")
print(json.dumps({"main": threading.get_ident(), "seen": seen}))
"""


def test_v8s_thread_keeps_one_python_thread_state_across_bridge_calls() -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-c", THREAD_PROBE], capture_output=True, text=True, check=True
    )
    probe = json.loads(out.stdout)
    threads = {ident for ident, _ in probe["seen"]}
    assert len(threads) == 1 and probe["main"] not in threads  # served on V8's own thread
    # A thread-local set in one call is there in the next: the callbacks no longer build and
    # tear down a thread state each (which cost most of a bridge call's time in Python).
    assert [calls for _, calls in probe["seen"]] == list(range(50))


def test_nesting_is_refused_past_the_limit_however_the_request_is_written(run_js) -> None:
    run = run_js(
        """
        const { Robot } = require("gopherbot_v1")();
        const bot = new Robot();
        const nest = (n) => { let v = "leaf"; for (let i = 0; i < n; i++) v = [v]; return v; };
        // The request wraps the datum in two levels (the request, its args): 99 arrays around
        // a string is 102 levels in all, the most the bridge takes.
        const attempt = (datum) => {
          try { bot.UpdateDatum({ key: "k", token: "t", datum }); return "sent"; }
          catch (e) { return String(e); }
        };
        out([
          attempt(nest(99)),
          attempt(nest(100)),
          attempt(nest(150)),
          attempt("[".repeat(5000) + "{".repeat(5000)),
        ]);
        """
    )
    assert run.ret_val == TaskRetVal.Normal
    limit, over, deep, brackets = run.outputs[0]
    assert limit == "sent"
    for refused in (over, deep):
        assert "MalformedRequest: a value nests deeper than 100 levels" in refused
    # Brackets inside a string are text, not nesting: the cheap count that skips the walk for
    # shallow requests only ever sends a request to the full check, never refuses one.
    assert brackets == "sent"
    assert [method for method, _, _ in run.calls] == ["UpdateDatum", "UpdateDatum"]
