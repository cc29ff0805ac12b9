"""MaxConcurrentChildren: a real robot runs at most that many children; the rest queue in order.

Each scripted step says "start N" when its child is running and "end N" just before it ends,
so the replies tell how many children were alive at once.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from support import gone, run

SLOW = """\
config: |
  Commands: [{{Command: slow, Regex: 'slow (\\d+)'}}]
commands:
  slow:
{before}    - [Say, "start {{args[1]}}"]
    - {{sleep: {seconds}}}
    - [Say, "end {{args[1]}}"]
"""


def _slow(harness, seconds: float, before: str = "", conf: str = "") -> None:
    harness.extension("plugin", "slow", SLOW.format(seconds=seconds, before=before), conf=conf)


def _most_at_once(texts: list[str]) -> int:
    alive = most = 0
    for text in texts:
        alive += text.startswith("start ") - text.startswith("end ")
        most = max(most, alive)
    return most


def test_at_most_the_limit_run_at_once_the_rest_queue_in_order_and_ps_shows_them(
    harness,
) -> None:
    harness.robot_yaml += "MaxConcurrentChildren: 2\n"
    _slow(harness, 1.0)

    async def script(h) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
        for n in range(1, 6):
            await h.send("bob", f";slow {n}")
        texts = [m.text for m in await h.replies(2)]
        await h.send("alice", ";ps")  # a built-in: answered at once, whatever the queue
        texts += [m.text for m in await h.replies(9)]
        [ps] = [t for t in texts if t.startswith("ID")]
        return [t for t in texts if t is not ps], ps

    texts, ps = harness.play(script)
    assert sorted(texts) == sorted(
        [f"start {n}" for n in range(1, 6)] + [f"end {n}" for n in range(1, 6)]
    )
    assert _most_at_once(texts) == 2
    starts = [t for t in texts if t.startswith("start")]  # in the order the slots came free
    assert [sorted(starts[:2]), sorted(starts[2:4]), starts[4:]] == [
        ["start 1", "start 2"],
        ["start 3", "start 4"],
        ["start 5"],
    ]
    slow_rows = [line for line in ps.splitlines() if " slow " in line]
    assert sum(row.split()[4] == "running" for row in slow_rows) == 2
    queued = [row for row in slow_rows if row.split()[4] == "queued"]
    assert [row.split()[-1] for row in queued] == ["(#1)", "(#2)", "(#3)"]
    assert ps.splitlines()[-1] == "children: 2 running of at most 2, 3 queued"


def test_killing_a_queued_pipeline_takes_it_out_of_the_queue_at_once(harness) -> None:
    harness.robot_yaml += "MaxConcurrentChildren: 1\n"
    _slow(harness, 2.5)

    async def script(h) -> tuple[str, str, float, list[str]]:  # type: ignore[no-untyped-def]
        await h.send("bob", ";slow 1")
        await h.send("bob", ";slow 2")
        assert [m.text for m in await h.replies(1)] == ["start 1"]
        [ps] = await h.texts("alice", ";ps")
        [queued_id] = [row.split()[0] for row in ps.splitlines() if row.split()[4:5] == ["queued"]]
        started = time.monotonic()
        [killed] = await h.texts("alice", f";kill {queued_id}")
        robot = h.robot
        while int(queued_id) in robot.pipelines and time.monotonic() - started < 5:
            await asyncio.sleep(0.01)
        left_after = time.monotonic() - started
        [after] = await h.texts("alice", ";ps")
        rest = [m.text for m in await h.replies(1)]  # "end 1"; "start 2" must never come
        rest += [m.text for m in h.connector.drain()]
        await asyncio.sleep(0.5)
        rest += [m.text for m in h.connector.drain()]
        return killed, after, left_after, rest

    killed, after, left_after, rest = harness.play(script)
    assert killed.startswith("Killed pipeline") and "(slow)" in killed
    assert left_after < 0.5  # not when the running child ends, 2.5 s later
    assert after.splitlines()[-1] == "children: 1 running of at most 1, 0 queued"
    assert rest == ["end 1"]


def test_queued_time_does_not_count_against_the_kill_timeout_but_is_logged(harness) -> None:
    harness.robot_yaml += "MaxConcurrentChildren: 1\n"
    _slow(harness, 0.7, conf="TimeOuts: {Warn: 5s, Kill: 1s}\n")

    async def script(h) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
        for n in range(1, 4):
            await h.send("bob", f";slow {n}")
        texts = [m.text for m in await h.replies(6)]
        while h.robot.pipelines:
            await asyncio.sleep(0.01)
        logs = (h.root / "state" / "logs").glob("pipeline-*.log")
        third = max(logs, key=lambda path: int(path.stem.split("-")[1]))
        return texts, third.read_text()

    texts, last_log = harness.play(script)
    # The third waited about 1.4 s, then ran 0.7 s: 2.1 s after it was asked, past Kill: 1s.
    assert texts == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert "slow queued for a child slot: 1 of 1 running, 1 ahead" in last_log
    assert "slow got a child slot after 1." in last_log


ELEVATOR = """\
config: |
  Commands: [{Command: nothing, Regex: 'totp nothing'}]
commands:
  _elevate:
    - {return: 7}
"""


def test_callbacks_run_when_every_slot_is_taken(harness) -> None:
    harness.robot_yaml += "MaxConcurrentChildren: 1\n"
    _slow(harness, 1.0)
    harness.extension("plugin", "totp", ELEVATOR)
    # `go` asks for elevation from inside its child: the elevator runs while go's child, which
    # holds the only slot, waits in Elevate. `sudo` is elevated by policy before its step.
    harness.extension(
        "plugin",
        "pipe",
        "config: |\n  Commands: [{Command: go, Regex: 'go'}, {Command: sudo, Regex: 'sudo'}]\n"
        "commands:\n  go:\n    - {call: [Elevate, true], as: a}\n"
        "    - [Say, 'elevated={a[bool]}']\n  sudo:\n    - [Say, 'sudo ran']\n",
        conf="Elevator: totp\nElevatedCommands: [sudo]\n",
    )

    async def script(h) -> list[str]:  # type: ignore[no-untyped-def]
        await h.send("bob", ";slow 1")
        assert [m.text for m in await h.replies(1)] == ["start 1"]
        await h.send("bob", ";sudo")
        await h.send("bob", ";go")
        return [m.text for m in await h.replies(3, timeout=10)]

    # First in, first out: sudo's elevator, then go (whose elevator borrows go's slot), then
    # sudo's own step, queued again behind go.
    assert harness.play(script) == ["end 1", "elevated=True", "sudo ran"]


def test_shutdown_sends_the_queue_away_and_starts_no_child_after_the_grace_period(
    harness,
) -> None:
    harness.robot_yaml += "MaxConcurrentChildren: 2\n"
    _slow(harness, 60, before="    - [FinalTask, cleanup]\n")
    harness.extension("task", "cleanup", "commands:\n  '*':\n    - [Say, cleanup]\n")

    async def main() -> tuple[list[str], float, dict[int, object], list[int]]:
        robot = await harness.start()
        for n in range(1, 6):
            await harness.send("bob", f";slow {n}")
        await harness.replies(2)
        pids = [p.execution.pid for p in robot.pipelines.values() if p.execution is not None]
        started = time.monotonic()
        await robot.stop(grace=0.5)
        elapsed = time.monotonic() - started
        left = dict(robot.pipelines)
        await asyncio.sleep(1.0)  # a cleanup step that slipped through would speak by now
        assert harness.connector is not None
        return [m.text for m in harness.connector.sent], elapsed, left, [p for p in pids if p]

    sent, elapsed, left, pids = run(main())
    assert sorted(sent) == ["start 1", "start 2"]  # no queued step started, no cleanup ran
    assert left == {}
    assert elapsed < 8
    assert len(pids) == 2 and all(gone(pid) for pid in pids)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("-1", "MaxConcurrentChildren: -1 is negative"),
        ("lots", "MaxConcurrentChildren: expected a whole number of children, got 'lots'"),
        ("true", "MaxConcurrentChildren: expected a whole number of children, got True"),
    ],
    ids=["negative", "word", "bool"],
)
def test_a_bad_bound_is_a_located_configuration_problem(
    harness, setting: str, problem: str
) -> None:
    harness.robot_yaml += f"MaxConcurrentChildren: {setting}\n"
    error = harness.load_error()
    assert f"conf/robot.yaml:{harness.last_line}: {problem}" in error
