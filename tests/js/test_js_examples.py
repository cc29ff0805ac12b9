"""The example extensions shipped with the binding keep working."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from burrow.constants import TaskRetVal

EXAMPLES = Path(__file__).parents[2] / "conf" / "extensions"


def _install(tmp_path: Path) -> str:
    return str(shutil.copy(EXAMPLES / "hello.js", tmp_path / "hello.js"))


def test_hello_example_configures_its_commands(run_js, tmp_path: Path) -> None:
    run = run_js("", method="js_get_config", params={"path": _install(tmp_path)})
    config = yaml.safe_load(run.result.config)
    assert [c["Command"] for c in config["Commands"]] == ["hello", "remember", "recall", "count"]
    assert config["Config"]["Greetings"]


def test_hello_example_greets_with_a_configured_greeting(run_js, tmp_path: Path) -> None:
    run = run_js(
        "",
        "hello",
        params={"path": _install(tmp_path)},
        canned={
            "GetTaskConfig": {"ret_val": 0, "config": {"Greetings": ["Howdy"]}},
            "RandomString": {"string": "Howdy"},
            "GetSenderAttribute": {"attribute": "Alice", "ret_val": 0},
        },
    )
    assert run.ret_val == TaskRetVal.Normal, run.result.error
    assert run.calls[-1] == ("Say", ["Howdy, Alice! (from JavaScript)"], {})


def test_hello_example_counts_in_the_brain(run_js, tmp_path: Path) -> None:
    run = run_js(
        "",
        "count",
        params={"path": _install(tmp_path)},
        canned={
            "CheckoutDatum": {
                "ret_val": 0,
                "exists": True,
                "lock_token": "t",
                "datum": {"count": 4},
            },
        },
    )
    assert run.ret_val == TaskRetVal.Normal, run.result.error
    assert run.calls[1] == (
        "UpdateDatum",
        ["hello-js-counter", "t", {"count": 5, "last": "alice"}],
        {},
    )
    assert run.calls[2] == ("Say", ["The count is now 5."], {})
