"""robot.yaml's ChildLimits reach every child through the pipeline, and are validated at load."""

from __future__ import annotations

import pytest

SPIN = """\
config: |
  Commands: [{Command: spin, Regex: 'spin'}]
commands:
  spin:
    - {behave: [hang]}
"""


def test_a_plugin_past_its_cpu_limit_is_stopped_and_the_user_is_told(harness) -> None:
    harness.robot_yaml += "ChildLimits: {CPUSeconds: 1}\n"
    harness.extension("plugin", "spin", SPIN)

    async def script(h) -> list[str]:  # type: ignore[no-untyped-def]
        return await h.texts("alice", ";spin")

    [reply] = harness.play(script)
    assert reply.startswith("Sorry, 'spin' failed with MechanismFail")
    assert "CPU limit of 1 s reached" in reply


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("{Memory: 12 parsecs}", "ChildLimits.Memory: unknown size unit 'parsecs'"),
        ("{Memory: 1MiB}", "ChildLimits.Memory: '1MiB' is too small: a child needs at least 64MiB"),
        ("{OpenFiles: 3}", "ChildLimits.OpenFiles: 3 is too small: a child needs at least 16"),
        ("{CpuSeconds: 5}", "ChildLimits.CpuSeconds: unknown key"),
    ],
    ids=["unit", "too-little-memory", "too-few-files", "misspelt"],
)
def test_a_bad_child_limit_is_a_located_configuration_problem(
    harness, setting: str, problem: str
) -> None:
    harness.robot_yaml += f"ChildLimits: {setting}\n"
    error = harness.load_error()
    assert f"conf/robot.yaml:{harness.last_line}: {problem}" in error
