"""Running an execution in each way a child starts: a new interpreter, a zygote fork, a spare."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.spares import SparePool
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher

MODES = ["interpreter", "zygote", "spare"]


async def run_in_mode(
    mode: str,
    spec: ExecutionSpec,
    dispatcher: Any = None,
    on_log: Callable[[int, str], None] | None = None,
    preload: Sequence[str] = (),
    zygote_python: str = sys.executable,
) -> ExecutionResult:
    """Run `spec` in a new interpreter, a zygote fork, or a spare made for exactly its key.

    In spare mode the execution must have run in the spare whenever one could be prepared
    (a spec asking for a broken interpreter gets none, and starts a child as in zygote mode).
    """
    zygote = Zygote(zygote_python, preload) if mode in ("zygote", "spare") else None
    pool: SparePool | None = None
    try:
        spawner: Any = zygote.spawn if zygote is not None else None
        if mode == "spare":
            assert zygote is not None
            pool = SparePool(
                zygote.spawn,
                {spec.binding.name: spec.binding},
                {spec.binding.name: 1},
                [(spec.identity, spec.limits)],
                max_message_size=spec.max_message_size,
                python=spec.python,
                prepare_timeout=min(spec.hello_timeout, 30.0),
            )
            pool.start()
            await pool.wait_full(60)
            spawner = pool
        ready = pool.ready() if pool is not None else []
        result = await Execution(
            spec, dispatcher or RecordingDispatcher(), on_log=on_log, spawner=spawner
        ).run()
        if ready:
            assert result.spare and result.pid == ready[0].child.pid, "the spare was not used"
        else:
            assert not result.spare
        return result
    finally:
        if pool is not None:
            await pool.close()
        if zygote is not None:
            await zygote.close()
