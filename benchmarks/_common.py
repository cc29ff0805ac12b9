"""What every benchmark shares: the same-run spawn baseline, sections of rows, the child modes.

These machines are noisy, so no figure stands alone: each is printed as a ratio to a baseline
measured in the same run (spawning `python -I -S -c pass`, the floor of any one-shot child).
A benchmark module's `section(quick)` measures a `Section`: its own baseline first, then its
rows; `benchmarks/run.py` runs them all into one table, and each module's own `main()` prints
its section alone.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from burrow.bindings.spec import Binding
from burrow.engine.pipeline_logs import DEFAULT_KEEP, log_name
from burrow.runner.execution import Execution, ExecutionSpec, RobotCall
from burrow.runner.process import Spawner
from burrow.runner.zygote import Zygote

BASELINE_LABEL = "baseline: spawn `python -I -S -c pass` to exit"


def ensure_bytecode() -> list[str]:
    """Compile Burrow's and the bindings' modules to bytecode, as an installed robot has them.

    A process that starts with PYTHONDONTWRITEBYTECODE set (or from a fresh checkout) would
    otherwise compile every module it imports from source, each time: start-up and first
    commands measured that way say more about the checkout than about the robot.
    """
    import compileall
    import importlib

    compiled = []
    for name in ("burrow", "burrow_lua", "burrow_js", "burrow_testbinding"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        folder = Path(module.__file__ or "").parent
        if compileall.compile_dir(folder, quiet=2, workers=1):
            compiled.append(name)
    return compiled


def settled_state(state_dir: Path, logs: int = DEFAULT_KEEP) -> Path:
    """Give a new state folder the pipeline logs of a robot that has run `logs` pipelines.

    A robot that has run a while keeps its newest `PipelineLogs` logs and gives each new
    pipeline its oldest one, renamed (docs/operations.md, "Pipeline logs"); a brand-new state
    folder has none, so its first `PipelineLogs` pipelines each create a file, which costs the
    robot 0.3-0.5 ms of CPU per command on the measured machine's ext4 (an inode allocated).
    Sections measure the robot operators run, the settled one; `concurrency` also measures a
    burst on a new state folder, beside it.
    """
    folder = state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for pipeline_id in range(1, logs + 1):
        (folder / log_name(pipeline_id)).write_bytes(b"")
    return state_dir


def spawn_baseline(runs: int) -> list[float]:
    """Seconds from spawn to exit of `python -I -S -c pass`, `runs` times."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return times


def report(rows: Sequence[tuple[str, Sequence[float]]], json_path: Path, **meta: Any) -> None:
    """Print `(label, samples in seconds)` rows as median ms and x the first row; write JSON."""
    medians = [(label, statistics.median(samples) * 1000) for label, samples in rows]
    base_ms = medians[0][1]
    width = max(len(label) for label, _ in medians) + 2
    print(f"{'measure (median)':<{width}} {'ms':>9} {'x baseline':>11}")
    results = []
    for label, ms in medians:
        print(f"{label:<{width}} {ms:>9.3f} {ms / base_ms:>11.3f}")
        results.append(
            {
                "measure": label,
                "median_ms": round(ms, 4),
                "ratio_to_baseline": round(ms / base_ms, 4),
            }
        )
    details = ", ".join(f"{k}={v}" for k, v in meta.items())
    print(f"({details}{', ' if details else ''}Python {sys.version.split()[0]})")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    print(f"wrote {json_path}")


class CallArrivals:
    """A Robot API double that answers every call at once and notes when each arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.times.append(time.perf_counter())
        return {"ret_val": 0}


async def whole_executions(
    binding: Binding,
    method: str,
    params: dict[str, Any],
    workdir: Path,
    runs: int,
    mode: str = "fresh",
) -> list[float]:
    """Seconds for complete executions (start, hello, run, shutdown, reap), `runs` times, with
    children started the `mode` way (`CHILD_MODES`). Nothing is run before the first: it is
    the first execution after the mode's machinery was created (see `Children`)."""
    times = []
    async with Children(mode, binding) as children:
        for _ in range(runs):
            await children.ready()
            spec = ExecutionSpec(binding, method, params, workdir)
            start = time.perf_counter()
            result = await Execution(spec, spawner=children.spawner).run()
            times.append(time.perf_counter() - start)
            assert result.ret_val == 0, result.error
            assert mode != "spare" or getattr(result, "spare", False), "no spare was taken"
    return times


# -- how children start ----------------------------------------------------------------------

# fresh: a new interpreter per child; zygote: a fork of the pre-warmed zygote; spare: a child
# that answered $/hello and prepared its binding before the request (burrow.runner.spares).
CHILD_MODES = ("fresh", "zygote", "spare")


def spares_available() -> bool:
    """Whether this engine keeps spare children (burrow.runner.spares and `SpareChildren`)."""
    if importlib.util.find_spec("burrow.runner.spares") is None:
        return False
    from burrow.engine.config.schema import RobotConfig

    return "spare_children" in RobotConfig.model_fields


def child_modes() -> list[str]:
    """The child modes this engine offers, in `CHILD_MODES` order."""
    return [mode for mode in CHILD_MODES if mode != "spare" or spares_available()]


def mode_yaml(mode: str, bindings: Sequence[str]) -> str:
    """robot.yaml lines that make a robot start its children the `mode` way (with the
    environment of `mode_environ`): the zygote mode turns the spares off."""
    if mode == "zygote" and spares_available():
        return "SpareChildren: {" + ", ".join(f"{name}: 0" for name in bindings) + "}\n"
    return ""


def mode_environ(mode: str, environ: dict[str, str]) -> dict[str, str]:
    """The robot's environment for `mode`: `BURROW_ZYGOTE=off` for fresh interpreters."""
    return {**environ, "BURROW_ZYGOTE": "off" if mode == "fresh" else "on"}


class Children:
    """Children of one binding started the `mode` way, outside a robot (async context).

    zygote: a `Zygote` preloading the binding, started lazily by the first child, as the
    robot's is by its first `_get_config` child; spare: the same zygote and a `SparePool` of
    one spare, which `ready()` waits for (as `Robot.start` waits for the first spares).
    """

    def __init__(self, mode: str, binding: Binding) -> None:
        if mode not in child_modes():
            raise ValueError(f"child mode {mode!r} is not offered by this engine")
        self.mode = mode
        self.binding = binding
        self.zygote: Zygote | None = None
        self.pool: Any = None  # a burrow.runner.spares.SparePool in spare mode

    async def __aenter__(self) -> Children:
        if self.mode in ("zygote", "spare"):
            modules = sorted({t.partition(":")[0] for t in self.binding.methods.values()})
            # Told its children's limits (none here, as in these executions' specs), as a
            # robot's zygote is: the JavaScript binding then starts V8 in it once.
            self.zygote = Zygote(preload=modules, limits={})
        if self.mode == "spare":
            from burrow.runner.spares import SparePool

            assert self.zygote is not None
            name = self.binding.name
            self.pool = SparePool(self.zygote.spawn, {name: self.binding}, {name: 1})
            self.pool.start()
        return self

    @property
    def spawner(self) -> Spawner | None:
        """What an `Execution` starts its child with (None: a new interpreter)."""
        if self.pool is not None:
            return self.pool  # type: ignore[no-any-return]
        return self.zygote.spawn if self.zygote is not None else None

    async def ready(self) -> None:
        """Wait (untimed) until a spare is ready, in spare mode."""
        if self.pool is not None:
            assert await self.pool.wait_full(30), "no spare child became ready in 30 s"

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self.zygote is not None:
            await self.zygote.close()


# -- sections: rows of one benchmark, with their own baseline --------------------------------


def median_ms(samples_s: Sequence[float]) -> float:
    """The median of samples in seconds, in milliseconds."""
    return statistics.median(samples_s) * 1000


def percentile(samples: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `samples`, nearest rank; 0.0 for no sample."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass
class Row:
    """One figure: `value` in `unit`, and its ratio to the section's baseline (if it has one).

    Durations are medians (unit ms or µs; ratio = value / baseline), rates are per second
    (ratio = rate / the rate of sequential baseline spawns), memory is MiB (no ratio).
    """

    key: str  # stable, for targets and tests: "lua.fresh.warm"
    measure: str
    value: float
    unit: str
    ratio: float | None = None
    samples: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Section:
    """A benchmark's rows, the first of them its baseline, measured just before the others."""

    name: str
    baseline_ms: float
    rows: list[Row] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    ratio_to: str = BASELINE_LABEL

    @classmethod
    def start(cls, name: str, baseline_runs: int, **meta: Any) -> Section:
        """A section whose baseline is measured now, `baseline_runs` spawns."""
        base = spawn_baseline(baseline_runs)
        section = cls(name, median_ms(base), meta=meta)
        section.add("baseline", BASELINE_LABEL, section.baseline_ms, "ms", 1.0, len(base))
        return section

    def add(
        self,
        key: str,
        measure: str,
        value: float,
        unit: str,
        ratio: float | None = None,
        samples: int = 1,
        **extra: Any,
    ) -> Row:
        """Append a row as given."""
        row = Row(key, measure, value, unit, ratio, samples, extra)
        self.rows.append(row)
        return row

    def add_time(self, key: str, measure: str, samples_s: Sequence[float], **extra: Any) -> Row:
        """Append the median of `samples_s` (seconds): ms, or µs below 1 ms; x the baseline."""
        ms = median_ms(samples_s)
        value, unit = (ms * 1000, "µs") if ms < 1 else (ms, "ms")
        return self.add(key, measure, value, unit, ms / self.baseline_ms, len(samples_s), **extra)

    def add_first_warm(
        self, key: str, measure: str, samples_s: Sequence[float], **extra: Any
    ) -> None:
        """Two rows: the first sample alone (`key.first`), the median of the rest (`key.warm`)."""
        self.add_time(f"{key}.first", f"{measure}: first", samples_s[:1], **extra)
        self.add_time(f"{key}.warm", f"{measure}: warm (runs 2..)", samples_s[1:], **extra)

    def add_rate(self, key: str, measure: str, per_second: float, **extra: Any) -> Row:
        """Append a rate; x the rate of sequential baseline spawns (1000 / baseline ms)."""
        ratio = per_second * self.baseline_ms / 1000
        return self.add(key, measure, per_second, "/s", ratio, **extra)

    def get(self, key: str) -> Row | None:
        """The row of `key`, if measured."""
        return next((row for row in self.rows if row.key == key), None)

    def to_json(self) -> dict[str, Any]:
        """The section as JSON-ready data."""
        rows = []
        for row in self.rows:
            data = asdict(row)
            data["value"] = _round(row.value)
            data["ratio"] = None if row.ratio is None else _round(row.ratio)
            rows.append(data)
        return {
            "baseline_ms": _round(self.baseline_ms),
            "ratio_to": self.ratio_to,
            **self.meta,
            "rows": rows,
        }


def _round(value: float) -> float:
    """Four significant digits: enough for noisy figures, short in JSON."""
    return float(f"{value:.4g}")


def fmt(value: float | None) -> str:
    """A figure for a table: four significant digits, '-' for none."""
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"


def print_section(section: Section) -> None:
    """Print one section's rows: measure, value, unit, x baseline."""
    width = max(len(row.measure) for row in section.rows) + 2
    title = f"[{section.name}] measure"
    print(f"{title:<{width}} {'value':>10} {'unit':<5} {'x base':>8}")
    for row in section.rows:
        print(f"{row.measure:<{width}} {fmt(row.value):>10} {row.unit:<5} {fmt(row.ratio):>8}")
    details = ", ".join(f"{k}={v}" for k, v in section.meta.items())
    print(f"(x base: {section.ratio_to}; {details}{', ' if details else ''}", end="")
    print(f"Python {sys.version.split()[0]})")


def write_section(section: Section, json_path: Path) -> None:
    """Print the section and write it alone to `json_path`."""
    print_section(section)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    data = {"section": section.name, **section.to_json()}
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {json_path}")
