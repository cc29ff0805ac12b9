"""Binding discovery: entry points, isolation of broken bindings, selection, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from burrow.bindings.locate import find_entry_point, read_entry_points
from burrow.bindings.registry import BindingRegistry, selected_names
from burrow.bindings.spec import BindingError, Collector
from burrow.hookspecs import hookimpl
from support import burrow


@pytest.fixture
def fake_modules() -> Iterator[dict[str, types.ModuleType]]:
    """Install throwaway binding modules in sys.modules so entry points can load them."""
    created: dict[str, types.ModuleType] = {}
    yield created
    for name in created:
        sys.modules.pop(name, None)


def _module(fake_modules: dict, name: str, register_bindings=None) -> str:
    module = types.ModuleType(name)
    if register_bindings is not None:
        module.register_bindings = register_bindings
    sys.modules[name] = module
    fake_modules[name] = module
    return name


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="burrow.bindings")


def _registers(name: str, **kw):
    def register_bindings(register):
        register(
            name,
            suffixes=kw.get("suffixes", [f".{name}"]),
            methods=kw.get("methods", {f"{name}_run": "m:f"}),
        )

    return register_bindings


def test_installed_test_binding_is_found_with_its_distribution(registry) -> None:
    binding = registry.bindings["test"]
    assert (binding.distribution, binding.version, binding.suffixes) == (
        "burrowbot-testbinding",
        "0.0.1",
        (".test",),
    )
    assert binding.methods["test_run"] == "burrow_testbinding.behaviours:run"


def test_broken_binding_is_reported_and_the_others_still_load(fake_modules) -> None:
    good = _module(fake_modules, "fake_good_binding", _registers("good"))
    eps = [_ep("broken", "no_such_module_anywhere"), _ep("good", good)]
    registry = BindingRegistry.discover(environ={}, eps=eps)
    assert list(registry.bindings) == ["good"]
    [error] = registry.errors
    assert error.entry_point == "broken" and "ModuleNotFoundError" in error.error


def test_binding_whose_register_raises_is_reported(fake_modules) -> None:
    def register_bindings(register):
        raise RuntimeError("cannot find liblua")

    mod = _module(fake_modules, "fake_raising_binding", register_bindings)
    registry = BindingRegistry.discover(environ={}, eps=[_ep("raising", mod)])
    assert registry.bindings == {}
    assert "cannot find liblua" in registry.errors[0].error


def test_decorated_hook_is_accepted_as_well_as_a_plain_function(fake_modules) -> None:
    mod = _module(fake_modules, "fake_decorated_binding", hookimpl(_registers("deco")))
    registry = BindingRegistry.discover(environ={}, eps=[_ep("deco", mod)])
    assert list(registry.bindings) == ["deco"]


def test_module_without_the_hook_is_reported(fake_modules) -> None:
    mod = _module(fake_modules, "fake_empty_binding")
    registry = BindingRegistry.discover(environ={}, eps=[_ep("empty", mod)])
    assert "defines no register_bindings" in registry.errors[0].error


def test_binding_must_be_registered_under_its_own_entry_point_name(fake_modules) -> None:
    # The child finds its binding by entry-point name, so the two must agree.
    mod = _module(fake_modules, "fake_misnamed_binding", _registers("other"))
    registry = BindingRegistry.discover(environ={}, eps=[_ep("misnamed", mod)])
    assert registry.bindings == {}
    assert "entry point of its own name" in registry.errors[0].error


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", set()), ("lua", {"lua"}), ("lua, js ,", {"lua", "js"})],
    ids=["unset-all", "empty-none", "one", "list"],
)
def test_selection_variable(value, expected) -> None:
    environ = {} if value is None else {"BURROW_BINDINGS": value}
    assert selected_names(environ) == expected


def test_selection_variable_limits_which_bindings_load(fake_modules) -> None:
    eps = [
        _ep(n, _module(fake_modules, f"fake_sel_{n}", _registers(n))) for n in ("aa", "bb", "cc")
    ]
    assert list(BindingRegistry.discover(environ={"BURROW_BINDINGS": "bb"}, eps=eps).bindings) == [
        "bb"
    ]
    assert BindingRegistry.discover(environ={"BURROW_BINDINGS": ""}, eps=eps).bindings == {}
    assert len(BindingRegistry.discover(environ={}, eps=eps).bindings) == 3


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("Lua", {"suffixes": [".lua"], "methods": {"Lua_run": "m:f"}}, "must match"),
        ("lua", {"suffixes": ["lua"], "methods": {"lua_run": "m:f"}}, "must look like"),
        ("lua", {"suffixes": [".lua"], "methods": {"js_run": "m:f"}}, "must start with"),
        ("lua", {"suffixes": [".lua"], "methods": {"lua_run": "not an import"}}, "module:function"),
        ("lua", {"suffixes": [".lua"], "methods": {}}, "no methods"),
    ],
    ids=["uppercase-name", "suffix-without-dot", "foreign-method", "bad-target", "no-methods"],
)
def test_register_validates_what_a_binding_registers(name, kwargs, message) -> None:
    with pytest.raises(BindingError, match=message):
        Collector()(name, **kwargs)


def test_binding_for_a_path_is_chosen_by_suffix(registry) -> None:
    assert registry.for_path("/robot/plugins/hello.test").name == "test"
    with pytest.raises(BindingError, match=r"no installed binding runs 'hello\.cob'"):
        registry.for_path("/robot/plugins/hello.cob")


def test_child_lookup_reads_one_distributions_entry_points(tmp_path) -> None:
    info = tmp_path / "Some_Binding-1.2.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nx = y:z\n\n[burrow.bindings]\nsome = some_pkg.reg\n"
    )
    found = find_entry_point("some-binding", "burrow.bindings", "some", paths=[str(tmp_path)])
    assert (found.value, found.version) == ("some_pkg.reg", "1.2")
    assert find_entry_point("some-binding", "burrow.bindings", "x", paths=[str(tmp_path)]) is None
    assert find_entry_point("other", "burrow.bindings", "some", paths=[str(tmp_path)]) is None


def test_entry_points_parser_reads_only_the_group() -> None:
    text = "[a]\nn = one\n# comment\n[burrow.bindings]\nlua = burrow_lua\n js = burrow_js:plugin \n"
    assert read_entry_points(text, "burrow.bindings") == {
        "lua": "burrow_lua",
        "js": "burrow_js:plugin",
    }


def _burrow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = burrow(*args, **env)
    assert result.returncode == 0, result.stderr
    return result


def test_bindings_command_lists_name_distribution_version_suffixes_methods() -> None:
    out = _burrow("bindings").stdout
    [row] = [line for line in out.splitlines() if line.startswith("test ")]
    assert row.split() == [
        "test",
        "burrowbot-testbinding",
        "0.0.1",
        ".test",
        "test_get_config",
        "test_run",
    ]


def test_bindings_command_json_and_selection() -> None:
    data = json.loads(_burrow("bindings", "--json", BURROW_BINDINGS="test").stdout)
    assert [b["name"] for b in data["bindings"]] == ["test"]
    assert "no bindings loaded" in _burrow("bindings", BURROW_BINDINGS="").stdout
