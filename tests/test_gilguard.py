"""The GIL guard (gilbench.gilguard): on a free-threaded build, the module whose import turned the
GIL back on is named, with its file and the fix; on a GIL build the guard does nothing.

The fixture extensions are built here, in tmp_path, from a few lines of C with the interpreter's
own headers (sysconfig + the C compiler). Every import that may turn the GIL on runs in a child
process: once on, a process's GIL stays on, and this test process must keep its own off.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from gilbench import gilguard, gilguard_scan
from gilbench.commands import info as info_cmd
from gilbench.commands import try_

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED,
    reason="needs a free-threaded CPython build (Py_GIL_DISABLED): only there can an import "
           "turn the GIL back on (README's free-threaded test line runs this under 3.13t)")

_METHODS = """
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
"""
#: multi-phase init; the slot list declares free-threading support only if asked to
_MULTI_PHASE = """
#include <Python.h>
%(methods)s
static PyModuleDef_Slot slots[] = {
%(gil_slot)s
    {0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, 0, methods, slots};
PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModuleDef_Init(&def); }
"""
#: single-phase init that imports another module (decimal, itself an extension) from its init
#: function, while CPython holds the GIL on transiently: the outer module is the culprit
_SINGLE_PHASE = """
#include <Python.h>
%(methods)s
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(name)s(void) {
    PyObject *m = PyModule_Create(&def);
    PyObject *other = PyImport_ImportModule("decimal");
    if (other == NULL) { Py_XDECREF(m); return NULL; }
    Py_DECREF(other);
    return m;
}
"""


def build_extension(where: Path, name: str, *, declares: bool = False,
                    single_phase: bool = False) -> Path:
    """Compile a tiny extension module ``name`` into ``where``; its path. Skips the test when
    there is no C compiler or no Python headers."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    if not cc or shutil.which(cc[0]) is None or not Path(include, "Python.h").exists():
        pytest.skip(f"no C compiler ({cc[:1]}) or no Python.h in {include}: cannot build the "
                    "fixture extension")
    slot = "    {Py_mod_gil, Py_MOD_GIL_NOT_USED}," if declares else ""
    code = (_SINGLE_PHASE if single_phase else _MULTI_PHASE) % {
        "name": name, "methods": _METHODS, "gil_slot": slot}
    source = where / f"{name}.c"
    source.write_text(code)
    target = where / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run([*cc, "-shared", "-fPIC", f"-I{include}", str(source), "-o", str(target)],
                   check=True, capture_output=True, timeout=120)
    return target


def user_project(tmp_path: Path) -> Path:
    """tmp_path with legacyext (no Py_mod_gil), a package ``pkg`` importing it and a user module
    ``usermod`` (importing pkg) with a function and its tasks; the extension's path."""
    ext = build_extension(tmp_path, "legacyext")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("import legacyext\n")
    (tmp_path / "usermod.py").write_text(textwrap.dedent("""
        import json
        import pkg

        def f(x):
            return x * 2

        def tasks():
            return [(i,) for i in range(4)]
        """))
    return ext


def run_python(code: str, cwd: Path, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter (PYTHON_GIL unset unless given, warnings as errors,
    cwd first on sys.path); the JSON it prints last."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    environ.update(env)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
                          cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- on any build ------------------------------------------------------------------------------

def test_the_guard_is_inert_where_the_gil_is_on(tmp_path: Path) -> None:
    # A GIL build, or a free-threaded one started with PYTHON_GIL=1: the GIL is on before any
    # import, so nothing can be named; the guard must not touch the import system at all.
    build_extension(tmp_path, "legacyext")
    seen = run_python("""
        import json, sys
        from gilbench import gilguard
        before = list(sys.meta_path)
        with gilguard.guard() as watch:
            same = sys.meta_path == before
            import legacyext
        module, culprit = gilguard.import_module("json")
        print(json.dumps({"active": watch.active, "same": same, "culprit": culprit is None,
                          "watch": watch.culprit is None, "answer": legacyext.answer(),
                          "recorded": gilguard.culprit() is None,
                          "loader": type(legacyext.__loader__).__name__}))
        """, tmp_path, **({"PYTHON_GIL": "1"} if FREE_THREADED else {}))
    assert seen == {"active": False, "same": True, "culprit": True, "watch": True,
                    "answer": 42, "recorded": True, "loader": "ExtensionFileLoader"}


def test_the_gil_check_line_keeps_its_verdict_on_the_line() -> None:
    # It used to read "... of the time: ⏎ releases" on an 80-column terminal.
    for verdict in ("releases", "holds", "partly", "undecided"):
        gil = {"verdict": verdict, "fraction": 1.0, "low": 0.999, "high": 1.0, "reason": "x"}
        line = try_.gil_line(gil)
        assert len(line) < 80 and line.index(verdict) < line.index("%"), line
        console = Console(width=80, record=True, color_system=None)
        try_.print_table({"cells": [], "workload": {"function": "m:f", "tasks": 1,
                                                    "gil": gil}}, console)
        first = console.export_text().splitlines()[0]
        assert first.startswith("GIL check") and verdict in first and "[100-100%]" in first


def test_info_says_what_the_scan_found_and_left_out() -> None:
    scanned = {"checked": True, "distributions": {"gilbench": 2, "oldlib": 1, "rich": 0},
               "children": 2, "seconds": 0.5, "owner": {"oldlib._speed": "oldlib"},
               "reenable": [{"module": "oldlib._speed", "path": "/x/oldlib/_speed.so",
                             "chain": ["oldlib._speed"], "warning": None}],
               "via": {"oldlib.fast": "oldlib._speed"}, "ok": ["gilbench.kernels._primes_c"],
               "failed": {"gilbench.broken": "ImportError: no"}, "unchecked": ["late.mod"],
               "not_checked": ["otherlib"]}
    console = Console(width=200, record=True, color_system=None)
    info_cmd.print_gil_extensions(scanned, console)
    text = console.export_text()
    assert "oldlib._speed (/x/oldlib/_speed.so) [oldlib]" in text
    assert "Py_mod_gil" in text and "PYTHON_GIL=0" in text
    assert "checked 3 extension modules of gilbench, oldlib" in text
    for word in ("oldlib.fast", "gilbench.broken did not import", "late.mod", "otherlib"):
        assert word in text
    if not FREE_THREADED:
        assert info_cmd.gil_extensions() == {
            "checked": False, "reason": "a build with a GIL: no import can turn it back on"}


# -- on a free-threaded build ------------------------------------------------------------------

@needs_free_threading
def test_the_guard_names_the_extension_a_user_module_imports(tmp_path: Path) -> None:
    ext = user_project(tmp_path)
    seen = run_python("""
        import json, sys
        from gilbench import gilguard
        from gilbench.executors import base
        module, culprit = gilguard.import_module("usermod")
        print(json.dumps({**culprit.as_dict(), "gil_on": sys._is_gil_enabled(),
                          "same": gilguard.culprit() == culprit, "f": module.f(2),
                          "loaders": [type(sys.modules[m].__loader__).__name__
                                      for m in ("usermod", "pkg", "legacyext")],
                          "worker": base.gil_reenabled_reason()}))
        """, tmp_path)
    assert seen["module"] == "legacyext" and seen["path"] == str(ext)
    assert seen["chain"] == ["usermod", "pkg", "legacyext"]
    assert seen["warning"].startswith(gilguard.WARNING_START) and "'legacyext'" in seen["warning"]
    assert seen["gil_on"] and seen["same"] and seen["f"] == 4
    # the modules keep their real loaders once loaded
    assert seen["loaders"] == ["SourceFileLoader", "SourceFileLoader", "ExtensionFileLoader"]
    # a worker's failing cell says which module it was
    assert seen["worker"].startswith(f"importing legacyext ({ext}), imported by usermod -> pkg")
    assert "Py_mod_gil" in seen["worker"]


@needs_free_threading
def test_the_guard_blames_no_module_that_declares_support(tmp_path: Path) -> None:
    build_extension(tmp_path, "modernext", declares=True)
    seen = run_python("""
        import json, sys
        from gilbench import gilguard
        module, culprit = gilguard.import_module("modernext")
        print(json.dumps({"culprit": culprit is None, "gil_on": sys._is_gil_enabled(),
                          "answer": module.answer()}))
        """, tmp_path)
    assert seen == {"culprit": True, "gil_on": False, "answer": 42}


@needs_free_threading
def test_the_guard_blames_the_outer_module_not_what_its_init_imports(tmp_path: Path) -> None:
    # CPython holds the GIL on while a single-phase init function runs: decimal, imported from
    # there, loads with the GIL on, yet it is legacy1 that leaves it on
    ext = build_extension(tmp_path, "legacy1", single_phase=True)
    seen = run_python("""
        import json
        from gilbench import gilguard
        _, culprit = gilguard.import_module("legacy1")
        print(json.dumps(culprit.as_dict()))
        """, tmp_path)
    assert seen["module"] == "legacy1" and seen["path"] == str(ext)
    assert seen["chain"] == ["legacy1"]


@needs_free_threading
def test_try_names_the_module_that_turned_the_gil_on(tmp_path: Path) -> None:
    ext = user_project(tmp_path)
    environ = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    proc = subprocess.run([sys.executable, "-m", "gilbench", "try", "usermod:f", "--tasks",
                           "usermod:tasks", "--out", str(tmp_path / "r.json")],
                          cwd=tmp_path, env=environ, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"importing legacyext ({ext}), imported by usermod -> pkg" in proc.stderr
    for fix in ("Py_mod_gil", "freethreading_compatible=True", "PYTHON_GIL=0"):
        assert fix in proc.stderr
    assert not (tmp_path / "r.json").exists()  # it stops before measuring anything


@needs_free_threading
def test_the_scan_finds_the_extension_in_a_child_process(tmp_path: Path) -> None:
    ext = user_project(tmp_path)
    found = gilguard_scan.scan(["json", "legacyext", "usermod", "nosuch"], path=[str(tmp_path)],
                               budget_s=60)
    assert [c["module"] for c in found["reenable"]] == ["legacyext"]
    assert found["reenable"][0]["path"] == str(ext)
    assert found["via"] == {"usermod": "legacyext"}  # judged only through legacyext
    assert found["ok"] == ["json"] and list(found["failed"]) == ["nosuch"]
    assert found["unchecked"] == [] and found["children"] == 3
    assert not gilguard.gil_on()  # this process imported none of them
