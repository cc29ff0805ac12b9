"""The child's side of spares, frame by frame: `$/hello` with `prepare`, then `$/setup`."""

from __future__ import annotations

import os
from pathlib import Path

from burrow.bindings.spec import BindingError, Collector
from support import TEST_CHILD_ARGS

LUA_CHILD_ARGS = ("--binding", "lua", "--distribution", "burrowbot-lua")


def test_hello_with_prepare_runs_the_bindings_prepare_hook_before_answering(raw_child) -> None:
    child = raw_child(*LUA_CHILD_ARGS)
    answer = child.request(0, "$/hello", {"versions": [1], "prepare": True})
    assert answer.error is None and answer.result["prepared"] == ["lua"]


def test_a_binding_without_a_prepare_hook_is_answered_as_prepared_by_nothing(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    answer = child.request(0, "$/hello", {"versions": [1], "prepare": True})
    assert answer.result["prepared"] == []
    assert "test" in answer.result["bindings"]


def test_hello_without_prepare_says_nothing_about_it(raw_child) -> None:
    assert "prepared" not in raw_child(*LUA_CHILD_ARGS).hello().result


def test_setup_sets_environment_and_working_directory_before_the_request(
    raw_child, tmp_path: Path
) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    env = {"PATH": "/usr/bin:/bin", "TASK_TOKEN": "t0k3n"}
    assert child.request(1, "$/setup", {"env": env, "cwd": str(tmp_path)}).result == {"ok": True}
    assert child.request(2, "test_run", {"args": ["env"]}).result["env"] == env
    child.close_stdin()
    assert child.wait() == 0


def test_setup_comes_at_most_once_and_never_after_the_request(raw_child, tmp_path: Path) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    setup = {"env": {}, "cwd": str(tmp_path)}
    assert child.request(1, "$/setup", setup).error is None
    assert child.request(2, "$/setup", setup).error["code"] == "invalid_state"

    late = raw_child(*TEST_CHILD_ARGS)
    late.hello()
    assert late.request(1, "test_run", {"args": ["cwd"]}).error is None
    assert late.request(2, "$/setup", setup).error["code"] == "invalid_state"


def test_a_failed_setup_is_answered_and_the_request_then_refused(raw_child, tmp_path: Path) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    missing = str(tmp_path / "missing")
    answer = child.request(1, "$/setup", {"env": {"A": "1"}, "cwd": missing})
    assert answer.error["code"] == "invalid_params"
    assert f"cannot enter the working directory {missing}" in answer.error["message"]
    refused = child.request(2, "test_run", {"args": ["env"]})
    assert refused.error["code"] == "invalid_state" and "$/setup failed" in refused.error["message"]


def test_setup_refuses_malformed_values_and_changes_nothing(raw_child, tmp_path: Path) -> None:
    for setup in (
        {"env": {"A": "1"}, "cwd": "relative/path"},
        {"env": {"A=B": "1"}, "cwd": str(tmp_path)},
        {"env": {"A": "nul\0inside"}, "cwd": str(tmp_path)},
        {"env": {"A": 1}, "cwd": str(tmp_path)},
        {"env": ["A"], "cwd": str(tmp_path)},
    ):
        child = raw_child(*TEST_CHILD_ARGS)
        child.hello()
        answer = child.request(1, "$/setup", setup)
        assert answer.error["code"] == "invalid_params", setup
        assert os.readlink(f"/proc/{child.proc.pid}/cwd") == os.getcwd()  # not moved
        child.kill()


def test_a_prepare_hook_must_be_an_import_string() -> None:
    collector = Collector()
    collector("ok", suffixes=[".ok"], methods={"ok_run": "m:f"}, prepare="m:prepare")
    assert collector.bindings[0].prepare == "m:prepare"
    for bad in ("m.prepare", "m:", "not a target"):
        try:
            collector("bad", suffixes=[".bad"], methods={"bad_run": "m:f"}, prepare=bad)
        except BindingError as exc:
            assert "prepare must be 'module:function'" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
