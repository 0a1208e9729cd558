"""Free-threaded builds and multi-interpreter runs (`gilbench run --python`).

The first group needs a free-threaded CPython (3.13t; README's free-threaded test line, which
``.ci/run`` runs, runs the suite under one) and skips elsewhere, saying so. The rest runs on any
build: comparing builds, probing interpreters, and one small end-to-end multi-interpreter run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from gilbench import commands as cli
from gilbench import host, kernels, results
from gilbench.commands import _args
from gilbench.report import compare_builds
from gilbench.run import builds
from gilbench.executors import get as get_executor

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED,
    reason="needs a free-threaded CPython build (Py_GIL_DISABLED); this one has a GIL "
           "(run README's free-threaded test line to test under 3.13t)")


def _env_without_python_gil() -> dict[str, str]:
    # PYTHON_GIL=0 would force the GIL off and hide an extension that turns it back on
    return {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}




# -- on a free-threaded build ------------------------------------------------------------------

@needs_free_threading
def test_importing_every_gilbench_module_keeps_the_gil_disabled() -> None:
    # A fresh interpreter: this test process may already have imported things. Every module of
    # the package, the compiled kernels (gilbench.kernels._*_c) included; an extension without
    # free-threading support would turn the GIL back on (with a RuntimeWarning).
    script = textwrap.dedent("""
        import importlib, json, pkgutil, sys, warnings
        warnings.simplefilter("error")
        import gilbench
        names = sorted(m.name for m in pkgutil.walk_packages(gilbench.__path__, "gilbench.")
                       if m.name != "gilbench.__main__")
        failed, enabled_by = {}, None
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"
            if enabled_by is None and sys._is_gil_enabled():
                enabled_by = name
        print(json.dumps({"names": names, "failed": failed, "enabled_by": enabled_by,
                          "gil": sys._is_gil_enabled()}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_env_without_python_gil(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    compiled = [n for n in out["names"] if n.startswith("gilbench.kernels._") and n.endswith("_c")]
    assert compiled, "no compiled kernel modules installed: the check would prove nothing"
    assert out["failed"] == {}
    assert out["enabled_by"] is None, f"importing {out['enabled_by']} re-enabled the GIL"
    assert out["gil"] is False


@needs_free_threading
def test_host_metadata_names_the_free_threaded_build() -> None:
    proc = subprocess.run([sys.executable, "-m", "gilbench", "info", "--json"],
                          capture_output=True, text=True, env=_env_without_python_gil(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)["host"]
    assert info["build"] == "free-threaded"
    assert info["py_gil_disabled"] is True
    assert info["gil_enabled"] is False
    assert info["python_gil_env"] is None


@needs_free_threading
def test_info_says_free_threaded_and_gil_state() -> None:
    for env_value, expected in ((None, "disabled (PYTHON_GIL unset)"),
                                ("1", "enabled (turned on by PYTHON_GIL=1)")):
        env = _env_without_python_gil()
        if env_value is not None:
            env["PYTHON_GIL"] = env_value
        env["COLUMNS"] = "200"  # one table row per line
        proc = subprocess.run([sys.executable, "-m", "gilbench", "info"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "free-threaded (Py_GIL_DISABLED=1)" in proc.stdout
        assert expected in proc.stdout


@needs_free_threading
@pytest.mark.needs_cores
def test_python_threads_run_in_parallel_without_the_gil(parallel_speedup) -> None:
    # Pure-Python CPU work on 2 threads: about 2x on 2 free cores without a GIL, about 1x with
    # one. One run: best of the tries in which no other process took a core; generous bound.
    # Short of it, the host is asked whether its second CPU is a full core now (a 2-vCPU VM
    # read 1.35x here with no other test beside it, on a day its two vCPUs at moments gave
    # about one core's work): if it is, measured once more, and the bound holds.
    kernel = kernels.get("primes")
    size = 150_000
    chunks = kernel.split(size, 8)
    with get_executor("serial")("primes", "python", 1, size) as serial, \
            get_executor("threads")("primes", "python", 2, size) as threads:
        speedup, alone, both = parallel_speedup(
            lambda: serial.run(chunks), lambda: threads.run(chunks),
            "free-threaded pure-Python threads on 2 threads")
    assert speedup > 1.4, (alone, both)


# -- comparing builds (any interpreter) ---------------------------------------------------------

def _cell(kernel: str, variant: str, executor: str, workers: int, walls: list[float],
          size: int = 1000, error: str | None = None, speedup: float | None = None) -> dict:
    sp = None if speedup is None else {"median": speedup, "low": speedup, "high": speedup}
    return {"kernel": kernel, "variant": variant, "executor": executor, "workers": workers,
            "size": size, "wall_s": walls, "median_s": sorted(walls)[len(walls) // 2] if walls else None,
            "error": error, "speedup": sp}


def _doc(version: str, free_threaded: bool, cells: list[dict]) -> dict:
    return {"host": {"python_version": version, "py_gil_disabled": free_threaded,
                     "build": "free-threaded" if free_threaded else "default",
                     "gil_enabled": not free_threaded, "python_gil_env": None,
                     "python_executable": f"/x/{version}", "usable_cores": 2},
            "cells": cells}


GIL_DOC = _doc("3.13.0", False, [
    _cell("primes", "python", "serial", 1, [1.0, 1.0, 1.0], speedup=1.0),
    _cell("primes", "python", "threads", 2, [1.0, 1.0, 1.0], speedup=1.0),
    _cell("primes", "cython-nogil", "serial", 1, [0.1, 0.1, 0.1], speedup=1.0),
])
FT_DOC = _doc("3.13.5", True, [
    _cell("primes", "python", "serial", 1, [1.5, 1.5, 1.5], speedup=1.0),
    _cell("primes", "python", "threads", 2, [0.75, 0.75, 0.75], speedup=2.0),
    _cell("primes", "cython-nogil", "serial", 1, [0.1, 0.1, 0.1], size=2000),
    _cell("primes", "cython-nogil", "threads", 2, [], error="boom"),
    _cell("mandelbrot", "python", "serial", 1, [2.0, 2.0, 2.0]),
])


def test_compare_builds_overhead_and_both_speedups() -> None:
    rows = {(r["kernel"], r["variant"]): r for r in compare_builds.compare_builds(GIL_DOC, FT_DOC)}
    py = rows[("primes", "python")]
    assert py["sizes_match"] is True
    assert py["serial_ratio"]["median"] == pytest.approx(1.5)  # FT serial 1.5x slower
    (threads,) = py["cells"]
    assert threads["speedup_same_build"]["median"] == pytest.approx(2.0)
    assert threads["speedup_vs_baseline"]["median"] == pytest.approx(1.0 / 0.75)
    assert threads["baseline_speedup"]["median"] == pytest.approx(1.0)


def test_compare_builds_uses_time_per_unit_when_sizes_differ() -> None:
    rows = {(r["kernel"], r["variant"]): r for r in compare_builds.compare_builds(GIL_DOC, FT_DOC)}
    nogil = rows[("primes", "cython-nogil")]
    assert nogil["sizes_match"] is False
    assert nogil["serial_ratio"]["median"] == pytest.approx(0.5)  # twice the work, same time
    (failed,) = nogil["cells"]
    assert failed["error"] == "boom" and failed["speedup_vs_baseline"] is None
    missing = rows[("mandelbrot", "python")]
    assert missing["serial_ratio"] is None and missing["note"] == "not in the baseline run"


def test_combined_document_takes_the_default_build_as_baseline(tmp_path: Path) -> None:
    json_path, md_path, combined = compare_builds.write_combined(
        [FT_DOC, GIL_DOC], ["r-3.13.5t.json", "r-3.13.0.json"], tmp_path / "r.json")
    assert (json_path.name, md_path.name) == ("r-builds.json", "r-builds.md")
    assert combined["baseline"] == "3.13.0"
    assert [(c["baseline"], c["other"]) for c in combined["comparisons"]] == [("3.13.0", "3.13.5t")]
    assert json.loads(json_path.read_text())["schema"] == compare_builds.COMBINED_SCHEMA
    md = md_path.read_text()
    assert ("| primes | python | 1 s | 1.5 s | 1.500 [1.500–1.500] 1.50× slower | threads | 2 |"
            in md)
    assert "failed: boom" in md


def test_tags_paths_and_reference() -> None:
    its = [builds.Interpreter("/a", "3.13.5", True), builds.Interpreter("/b", "3.13.0", False),
           builds.Interpreter("/c", "3.13.0", False)]
    builds.assign_tags(its)
    assert [i.tag for i in its] == ["3.13.5t", "3.13.0", "3.13.0-2"]
    assert builds.reference_index(its) == 1  # the first default build calibrates
    assert builds.tagged_path("out/results.json", "3.13.5t") == Path("out/results-3.13.5t.json")
    assert builds.tagged_path("r", "3.13.0") == Path("r-3.13.0.json")


def test_forwarded_arguments_are_the_ones_given() -> None:
    args = cli.build_parser().parse_args(
        ["run", "--kernels", "primes", "--workers", "1,2", "--quick", "--python", "/x",
         "--python", "/y", "--out", "o.json", "--report", "rep"])
    assert args.pythons == ["/x", "/y"]
    assert _args.forwarded_arguments(args) == ["--kernels", "primes", "--workers", "1,2",
                                               "--quick"]


# -- probing and running interpreters ---------------------------------------------------------

def test_probe_this_interpreter() -> None:
    it = builds.probe(sys.executable)
    assert it.python_version == host.host_info()["python_version"]
    assert it.py_gil_disabled == FREE_THREADED


def test_probe_explains_how_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho '{\"python_version\": \"3.99.0\", \"executable\": \"x\", "
                    "\"py_gil_disabled\": false, \"error\": \"ModuleNotFoundError: No module "
                    "named gilbench\"}'\n")
    fake.chmod(0o755)
    with pytest.raises(builds.MultiRunError) as err:
        builds.probe(str(fake))
    assert "gilbench is not importable there" in str(err.value)
    assert f"{fake} -m pip install ." in str(err.value)


def test_run_with_a_missing_interpreter_is_a_usage_error(tmp_path: Path, capsys) -> None:
    code = cli.main(["run", "--python", str(tmp_path / "nope"), "--out",
                     str(tmp_path / "r.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no such interpreter" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_multi_run_end_to_end(tmp_path: Path) -> None:
    # This interpreter twice (tags X and X-2): the first calibrates, the second reuses its sizes.
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gilbench", "run", "--python", sys.executable, "--python",
         sys.executable, "--kernels", "primes", "--variants", "python", "--executors",
         "serial,threads", "--workers", "1,2", "--max-repeats", "5", "--target-time", "0.02",
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tag = builds.probe(sys.executable).python_version + ("t" if FREE_THREADED else "")
    first = results.read(tmp_path / f"r-{tag}.json")
    second = results.read(tmp_path / f"r-{tag}-2.json")
    assert first["host"]["python_executable"] == second["host"]["python_executable"]
    sizes = {(c["kernel"], c["variant"], c["executor"], c["workers"]): c["size"]
             for c in first["cells"]}
    assert sizes and all(sizes[(c["kernel"], c["variant"], c["executor"], c["workers"])]
                         == c["size"] for c in second["cells"])
    assert second["config"]["pinned_sizes"] == {"primes/python": sizes[("primes", "python",
                                                                         "serial", 1)]}
    combined = json.loads((tmp_path / "r-builds.json").read_text())
    assert combined["baseline"] == tag and combined["comparisons"][0]["other"] == f"{tag}-2"
    (row,) = combined["comparisons"][0]["rows"]
    assert row["sizes_match"]
    if row["serial_ratio"] is None:  # beside other tests: a serial baseline with no
        # undisturbed round, and the cells say so
        assert any(c.get("host_busy") for d in (first, second) for c in d["cells"]), row
    else:
        assert row["serial_ratio"]["median"] > 0
    assert (tmp_path / "r-builds.md").read_text().startswith("# gilbench")
    # the comparison is a result (stdout); the children's progress stays on stderr
    assert "comparison of builds: " in proc.stdout and "builds compared" in proc.stdout
    assert "comparison of builds: " not in proc.stderr
