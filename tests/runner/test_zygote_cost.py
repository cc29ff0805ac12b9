"""What a child forked from the zygote does not have to pay for (docs/architecture.md, "Zygote").

A fork copies each page of the zygote it writes to, and a page is written as soon as Python
touches an object on it; these tests hold the zygote and its children to what keeps that
work small.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

LUA = ["--binding", "lua", "--distribution", "burrowbot-lua"]


@pytest.mark.parametrize("preload", ["burrow_lua.runtime", "burrow_testbinding"])
def test_the_zygote_does_not_import_threading(preload: str) -> None:
    # `threading` registers a handler that every fork runs at once (os.register_at_fork); in
    # a child of the Lua zygote it cost about a hundred copied pages.
    code = (
        "import sys\n"
        "from burrow.runner import zygote_main\n"
        f"assert zygote_main.load([{preload!r}], None) is None\n"
        f"zygote_main._before_fork({LUA!r})\n"
        "print(sorted(m for m in ('threading', 'queue') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
