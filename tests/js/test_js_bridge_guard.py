"""Guards on burrow_js._v8, the one module that binds mini-racer's internals.

If any of these fails after a mini-racer upgrade, do not just bump the pin: the native
library's calling conventions may have changed, and a mismatch crashes children instead of
failing them. Read the new py_mini_racer/_dll.py, _objects.py and _context.py, adapt
burrow_js/_v8.py, then update the pin in plugins/js_binding/pyproject.toml and
_v8.MINI_RACER_VERSION together (docs/javascript.md, "Upgrading mini-racer").
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from burrow_js import _v8

from burrow.constants import TaskRetVal

PYPROJECT = Path(__file__).parents[2] / "plugins" / "js_binding" / "pyproject.toml"


def _shape(kind: Any) -> Any:
    """A comparable description of a ctypes type, so two declarations can be matched."""
    if kind is None:
        return None
    if issubclass(kind, ctypes._Pointer):
        return ("pointer", _shape(kind._type_))
    if issubclass(kind, ctypes.Structure | ctypes.Union):
        fields = tuple((name, _shape(field)) for name, field, *_ in kind._fields_)
        return (kind.__mro__[1].__name__, getattr(kind, "_pack_", 0), ctypes.sizeof(kind), fields)
    if issubclass(kind, ctypes._CFuncPtr):
        return ("function", _shape(kind._restype_), tuple(_shape(a) for a in kind._argtypes_))
    return kind


def test_the_installed_mini_racer_is_the_pinned_version() -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text())
    assert f"mini-racer=={_v8.MINI_RACER_VERSION}" in pyproject["project"]["dependencies"]
    assert importlib.metadata.version("mini-racer") == _v8.MINI_RACER_VERSION


def test_py_mini_racer_is_not_installed_beside_mini_racer() -> None:
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("py-mini-racer")


def test_native_function_declarations_match_mini_racers_own() -> None:
    from py_mini_racer import _dll  # private: exactly what this guard is about

    theirs = _dll._build_dll_handle(Path(_v8.check_installation()) / _v8._LIBRARY)
    for name, (argtypes, restype) in _v8.SIGNATURES.items():
        function = getattr(theirs, name)
        assert [_shape(a) for a in function.argtypes] == [_shape(a) for a in argtypes], name
        if restype is None:
            # mini-racer leaves the restype of its void functions undeclared (ctypes: c_int).
            assert function.restype in (None, ctypes.c_int), name
        else:
            assert _shape(function.restype) == _shape(restype), name


def test_value_struct_and_callback_type_match_mini_racers_own() -> None:
    from py_mini_racer import _dll

    assert _shape(_v8._RawValue) == _shape(_dll._RawValue)
    assert _shape(_v8._CALLBACK) == _shape(_dll.MR_CALLBACK)


def test_value_type_codes_match_mini_racers_own() -> None:
    from py_mini_racer import _objects

    codes = {
        value: name
        for name, value in vars(_objects._MiniRacerTypes).items()
        if not name.startswith("_") and isinstance(value, int)
    }
    assert codes == _v8.TYPE_NAMES


def test_v8_data_is_where_the_bridge_expects_it() -> None:
    folder = Path(_v8.check_installation())
    assert (folder / _v8._LIBRARY).is_file()
    assert (folder / _v8._ICU_DATA).is_file()


def _fake_site(root: Path, *dist_infos: str) -> Path:
    package = root / _v8._PACKAGE
    package.mkdir(parents=True)
    (package / _v8._LIBRARY).write_bytes(b"")
    for name in dist_infos:
        (root / name).mkdir()
    return root


def test_a_different_mini_racer_version_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", [str(_fake_site(tmp_path, "mini_racer-0.15.0.dist-info"))])
    with pytest.raises(_v8.BridgeError, match=r"needs mini-racer 0\.14\.1 exactly.*found 0\.15\.0"):
        _v8.check_installation()


def test_py_mini_racer_beside_mini_racer_is_refused(tmp_path: Path, monkeypatch) -> None:
    site = _fake_site(
        tmp_path, f"mini_racer-{_v8.MINI_RACER_VERSION}.dist-info", "py_mini_racer-0.6.0.dist-info"
    )
    monkeypatch.setattr(sys, "path", [str(site)])
    with pytest.raises(
        _v8.BridgeError, match=r"py-mini-racer 0\.6\.0 is installed beside mini-racer"
    ):
        _v8.check_installation()


def test_registration_and_runtime_never_import_mini_racers_python_package() -> None:
    probe = (
        "import sys, burrow_js;"
        "before = {'ctypes', 'py_mini_racer'} & set(sys.modules);"
        "import burrow_js.runtime;"
        "after = {'py_mini_racer', 'asyncio', 'typing'} & set(sys.modules);"
        "print(sorted(before), sorted(after))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[]", "[]"]


def test_robot_calls_are_synchronous_from_javascript(run_js) -> None:
    run = run_js(
        """
        const { Robot } = require("gopherbot_v1")();
        const bot = new Robot();
        const value = bot.GetParameter("X");
        out([typeof value, value, value instanceof Promise]);
        """,
        canned={"GetParameter": {"string": "now"}},
    )
    assert run.ret_val == TaskRetVal.Normal
    assert run.outputs == [["string", "now", False]]
