"""`gilbench try F --python A --python B`: the user's function under several interpreters, one
document and one report with them side by side, and the advice across them
(``gilbench.usercode.builds``, ``gilbench.report.workload_builds``).

The advice and the report's tables are checked on crafted documents whose figures are known;
one end-to-end run measures a tiny function under two interpreters (this one twice, and a
free-threaded one when $GILBENCH_FT_PYTHON names it); the errors come before anything runs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # cli_helpers, beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import gilbench_in  # noqa: E402

from gilbench.commands import _args, try_
from gilbench.report.blocks import to_html_body, to_markdown
from gilbench.report.workload_builds import interpreters_section, speedup_table
from gilbench.run.config import MAX_WAIT_ENV
from gilbench.usercode.builds import across_document, chosen_cell, interpreters

USER_CODE = (Path(__file__).parent / "user_functions.py").read_text()
FN = "mymod:work"


def _cell(executor: str, workers: int, walls: list[float], family: str) -> dict:
    med = sorted(walls)[len(walls) // 2]
    return {"kernel": FN, "variant": "user", "executor": executor, "workers": workers,
            "family": family, "size": 16, "wall_s": walls, "median_s": med, "error": None,
            "speedup": None}


def _doc(version: str, free_threaded: bool, serial: list[float], threads: list[float],
         pool: list[float], code: str, thread_cost_s: float = 12e-6,
         pool_cost_s: float = 88e-6) -> dict:
    """A try document: serial, threads x2 and process-pool x2, speedups from the medians."""
    cells = [_cell("serial", 1, serial, "serial"), _cell("threads", 2, threads, "threads"),
             _cell("process-pool", 2, pool, "processes")]
    base = cells[0]["median_s"]
    for c in cells:
        s = base / c["median_s"]
        spread = 0.0 if len(set(c["wall_s"])) == 1 else 0.1
        c["speedup"] = {"median": s, "low": s - spread, "high": s + spread}
    return {"host": {"python_version": version, "py_gil_disabled": free_threaded,
                     "build": "free-threaded" if free_threaded else "default",
                     "gil_enabled": not free_threaded, "python_gil_env": None,
                     "python_executable": f"/py/{version}", "usable_cores": 2},
            "config": {}, "cells": cells,
            "workload": {"function": FN, "tasks": 16,
                         "gil": {"verdict": "holds", "fraction": 0.4, "low": 0.35, "high": 0.45},
                         "executors": {"threads": {"per_task_s": thread_cost_s, "workers": 2},
                                       "process-pool": {"per_task_s": pool_cost_s, "workers": 2,
                                                        "pickle_s": 3e-6, "args_bytes": 40,
                                                        "results_bytes": 20}},
                         "recommendation": {"text": f"Use {code}.", "rule": "r", "code": code}}}


# The GIL build: threads 1.0x, a process pool 1.82x; the t-build: one thread 1.3x slower,
# threads 1.91x against its own serial time (1.47x against the GIL build's).
GIL = _doc("3.11.7", False, [1.0] * 5, [1.0] * 5, [0.55] * 5, "processes")
FT = _doc("3.13.5", True, [1.3] * 5, [0.68] * 5, [0.75] * 5, "threads")


def test_document_holds_every_interpreter_and_the_baselines_cells() -> None:
    doc = across_document([FT, GIL], ["ft.json", "gil.json"], ["3.13.5t", "3.11.7"])
    section = doc["interpreters"]
    assert section["baseline"] == "3.11.7"  # the GIL build, although given second
    assert doc["cells"] == GIL["cells"]  # the baseline's document, read like any other
    assert [r["tag"] for r in section["runs"]] == ["3.13.5t", "3.11.7"]
    assert section["runs"][0]["cells"] == FT["cells"]
    assert section["runs"][0]["workload"]["recommendation"]["code"] == "threads"
    row = section["comparisons"][0]["rows"][0]
    assert row["serial_ratio"]["median"] == pytest.approx(1.3)  # the t-build's one-thread cost


def test_advice_per_interpreter_and_across_them() -> None:
    rec = across_document([GIL, FT], ["a", "b"], ["3.11.7", "3.13.5t"])["interpreters"][
        "recommendation"]
    assert rec["per_interpreter"] == [
        "on 3.11.7, a process pool 1.82x at 2 workers at 88 µs per task (pickling included)",
        "on 3.13.5t, threads 1.91x at 2 workers at 12 µs per task"]
    # against the GIL build's serial time: its process pool 1.82x, the t-build's threads 1.47x
    assert (rec["tag"], rec["executor"], rec["workers"], rec["code"]) == (
        "3.11.7", "process-pool", 2, "processes")
    assert "the fastest is a process pool at 2 workers on 3.11.7: 1.82x" in rec["text"]


def test_a_tie_across_interpreters_goes_to_the_cheaper_task() -> None:
    # the t-build's threads now as fast as the GIL build's process pool, within the intervals
    ft = _doc("3.13.5", True, [1.0, 1.05, 1.1, 1.0, 1.05], [0.5, 0.6, 0.55, 0.58, 0.52],
              [0.7] * 5, "threads")
    gil = _doc("3.11.7", False, [1.0] * 5, [1.0] * 5, [0.5, 0.6, 0.55, 0.58, 0.52], "processes")
    rec = across_document([gil, ft], ["a", "b"], ["3.11.7", "3.13.5t"])["interpreters"][
        "recommendation"]
    assert (rec["tag"], rec["executor"], rec["code"]) == ("3.13.5t", "threads", "threads")
    assert "a process pool at 2 workers on 3.11.7 is as fast within the intervals" in rec["text"]
    assert "costs 88 µs per task against 12 µs on 3.13.5t" in rec["text"]


def test_undecided_interpreters_take_no_part() -> None:
    ft = json.loads(json.dumps(FT))
    ft["workload"]["recommendation"]["code"] = "undecided"
    assert chosen_cell({**ft, "usable_cores": 2, "workload": ft["workload"]}) is None
    rec = across_document([GIL, ft], ["a", "b"], ["3.11.7", "3.13.5t"])["interpreters"][
        "recommendation"]
    assert rec["tag"] == "3.11.7" and "on 3.13.5t, undecided" in rec["text"]


def test_report_section_side_by_side() -> None:
    doc = across_document([GIL, FT], ["a", "b"], ["3.11.7", "3.13.5t"])
    md = to_markdown(interpreters_section(doc))
    assert md.startswith("## Interpreters side by side")
    assert "| executor | W | 3.11.7 (own serial) | 3.13.5t (own serial) | " \
           "3.13.5t vs 3.11.7 serial |" in md
    header, rows = speedup_table(doc["interpreters"])
    threads = next(r for r in rows if r[0] == "threads")
    assert threads[2].startswith("1.00×") and threads[3].startswith("1.91×")
    assert threads[4].startswith("1.47×")  # 1.0 s / 0.68 s
    assert "1.30× [1.30–1.30] the time" in md  # the t-build's single-thread cost
    assert "holds, 40% to other threads" in md
    assert "Across interpreters" in md and "| 12 µs | 12 µs |" in md
    assert "Interpreters side by side" in to_html_body(interpreters_section(doc))
    assert interpreters_section({"cells": []}) == []


def test_forwarded_options_leave_out_python_out_and_report() -> None:
    parser = argparse.ArgumentParser()
    try_.add_arguments(parser)
    args = parser.parse_args(["m:f", "--tasks", "m:t", "--workers", "2", "--quick",
                              "--python", "/x", "--python", "/y", "--out", "o.json",
                              "--report", "rep"])
    argv = _args.options_as_argv(args, parser, leave_out=("pythons", "out", "report"))
    assert argv == ["--tasks", "m:t", "--workers", "2", "--quick"]


def test_this_interpreter_runs_unless_a_python_has_its_version_and_build() -> None:
    found = interpreters([sys.executable])  # it stands for this one: measured once, not twice
    assert [it.path for it in found] == [sys.executable]
    twice = interpreters([sys.executable, sys.executable])  # asked twice: measured twice
    assert [it.tag for it in twice] == [twice[0].tag, twice[0].tag + "-2"]


# -- the command line --------------------------------------------------------------------------


def gilbench(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return gilbench_in(cwd, *args, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "mywork.py").write_text(textwrap.dedent(USER_CODE))
    (tmp_path / "needs_dep.py").write_text("import gilbench_absent_dependency_xyz\n"
                                           "def f(x):\n    return x\n")
    return tmp_path


def _one_line_error(r: subprocess.CompletedProcess, workdir: Path) -> str:
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gilbench try: error: "), r.stderr
    assert not list(workdir.glob("*.json")) and not (workdir / "rep").exists()
    return lines[0]


def test_missing_interpreter(workdir: Path) -> None:
    r = gilbench(workdir, "try", "mywork:double", "--tasks", "mywork:tasks", "--python",
                 str(workdir / "nope"), "--out", "out.json", "--report", "rep")
    assert "no such interpreter" in _one_line_error(r, workdir)


def test_interpreter_without_gilbench_gets_the_pip_line(workdir: Path) -> None:
    fake = workdir / "python"
    fake.write_text("#!/bin/sh\necho '{\"python_version\": \"3.13.5\", \"executable\": \"x\", "
                    "\"py_gil_disabled\": true, \"error\": \"ModuleNotFoundError: No module "
                    "named gilbench\"}'\n")
    fake.chmod(0o755)
    r = gilbench(workdir, "try", "mywork:double", "--tasks", "mywork:tasks", "--python",
                 str(fake), "--out", "out.json", "--report", "rep")
    line = _one_line_error(r, workdir)
    assert "gilbench is not importable there" in line
    assert f"{fake} -m pip install --prefer-binary ." in line  # a free-threaded build


def test_module_that_does_not_import_there(workdir: Path) -> None:
    r = gilbench(workdir, "try", "needs_dep:f", "--tasks", "mywork:tasks", "--python",
                 sys.executable, "--out", "out.json", "--report", "rep")
    line = _one_line_error(r, workdir)
    assert f"--python {sys.executable}" in line and "needs_dep:f cannot be loaded there" in line
    assert f"{sys.executable} -m pip install gilbench_absent_dependency_xyz" in line


def _second_pythons() -> list:
    ft = os.environ.get("GILBENCH_FT_PYTHON")
    return [pytest.param(sys.executable, id="same-python"),
            pytest.param(ft, id="free-threaded", marks=pytest.mark.skipif(
                not ft, reason="set GILBENCH_FT_PYTHON to a free-threaded python with gilbench "
                               "installed (bash scripts/ft-venv.sh DIR gives DIR/bin/python)"))]


@pytest.mark.slow
@pytest.mark.parametrize("second", _second_pythons())
def test_two_interpreters_side_by_side(workdir: Path, second: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # the document's shape is under test, not its figures: no waiting for a quiet host (up to
    # 5 s a run under the suite's $GILBENCH_MAX_WAIT; the children inherit this one)
    monkeypatch.setenv(MAX_WAIT_ENV, "0")
    # this interpreter stands for itself with --python; the second one (this one again: tag -2)
    r = gilbench(workdir, "try", "mywork:double", "--tasks", "mywork:tasks", "--executors",
                 "serial,thread-pool", "--workers", "2", "--max-repeats", "5", "--python",
                 sys.executable, "--python", second, "--out", "out.json", "--report", "rep")
    assert r.returncode == 0, r.stderr
    doc = json.loads((workdir / "out.json").read_text())
    section = doc["interpreters"]
    tags = [run["tag"] for run in section["runs"]]
    assert len(tags) == 2 and len(set(tags)) == 2 and section["baseline"] == tags[0]
    for run, tag in zip(section["runs"], tags):
        assert {(c["executor"], c["workers"]) for c in run["cells"]} == {("serial", 1),
                                                                        ("thread-pool", 2)}
        assert run["workload"]["recommendation"]["text"]
        assert (workdir / f"out-{tag}.json").is_file()  # each interpreter's own file, kept
    assert doc["cells"] == section["runs"][0]["cells"]
    assert section["recommendation"]["text"].startswith(f"On {tags[0]}, ")
    md = (workdir / "rep" / "report.md").read_text()
    assert "## Interpreters side by side" in md
    assert f"{tags[1]} vs {tags[0]} serial" in md
    assert "interpreters side by side" in r.stdout and section["recommendation"]["text"][:40] \
        in r.stdout.replace("\n", " ")
    again = gilbench(workdir, "report", "out.json", "-o", "rep2")
    assert again.returncode == 0, again.stderr
    assert "## Interpreters side by side" in (workdir / "rep2" / "report.md").read_text()
