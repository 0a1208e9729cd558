"""The user's own function as a workload: resolution, bad input, checked results, advice.

User code lives in modules written to a temporary directory that the test makes current, the
way `gilbench try` finds a user's module. No test asserts a speedup.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gilbench.errors import UsageError
from gilbench.gilcheck import measure_gil
from gilbench.kernels.user import importable, resolve
from gilbench.run.config import MAX_WAIT_ENV
from gilbench.usercode.workload import Workload
from gilbench.usercode.advice import recommend
from gilbench.usercode import measure as usercode_measure
from gilbench.usercode.measure import measure

USER_CODE = (Path(__file__).parent / "user_functions.py").read_text()

FAST = dict(executors_=["serial", "thread-pool", "process-pool"], workers=[2], repeats=5,
            max_repeats=5)


@pytest.fixture(autouse=True)
def no_wait_for_a_quiet_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here is about waiting out a busy host (tests/test_busy_host.py is): a busy
    moment is measured on and recorded at once, not waited out for up to the suite's 5 s."""
    monkeypatch.setenv(MAX_WAIT_ENV, "0")


@pytest.fixture
def quick_gil_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workload's GIL check in windows of 0.02 s, not check_gil's 0.08 s, for tests that
    are not about it (test_releasing_and_holding_functions_get_gil_verdicts checks the verdicts
    with check_gil's own windows)."""
    monkeypatch.setattr(usercode_measure, "check_gil",
                        lambda fn, *args, **kwargs: measure_gil(fn, args, kwargs, window_s=0.02))


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module ``usercode_N`` in the current directory (a new name per test: no stale import)."""
    name = f"usercode_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(USER_CODE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield name
    sys.modules.pop(name, None)


def cells_by_executor(doc: dict) -> dict[tuple[str, int], dict]:
    return {(c["executor"], c["workers"]): c for c in doc["cells"]}


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:f", "module 'no_such_module_xyz' not found"),
    ("nocolon", "takes MODULE:FUNCTION"),
    ("__main__:f", "__main__ is not a module"),
])
def test_resolve_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(spec)


def test_missing_attribute_lists_callables(user_module: str) -> None:
    with pytest.raises(UsageError, match=r"has no attribute 'nope'.*double"):
        Workload(f"{user_module}:nope", f"{user_module}:tasks")


def test_not_callable(user_module: str) -> None:
    with pytest.raises(UsageError, match="not callable"):
        Workload(f"{user_module}:NOT_CALLABLE", f"{user_module}:tasks")


@pytest.mark.parametrize("factory, message", [
    ("empty", "is empty"), ("number", "got int"), ("none", "got NoneType")])
def test_bad_tasks(user_module: str, factory: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Workload(f"{user_module}:double", f"{user_module}:{factory}")


@pytest.mark.parametrize("options, message", [
    (dict(repeats=2), "--repeats is the minimum number of paired rounds per cell: at least 5"),
    (dict(repeats=8, max_repeats=6), "--max-repeats (6) must be at least --repeats (8)"),
    (dict(workers=[0]), "--workers takes positive integers up to 256"),
    (dict(executors_=["bogus"]), "unknown executor 'bogus'; valid executors: serial, threads"),
    (dict(executors_=["dask"]), "pass --dask-scheduler ADDRESS"),
    (dict(start_method="nope"), "start method 'nope' is not available here; choose from"),
])
def test_the_api_checks_the_run_options_as_the_command_line_does(
        options: dict, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GILBENCH_DASK_SCHEDULER", raising=False)
    out = tmp_path / "never.json"
    with pytest.raises((UsageError, KeyError)) as caught:  # UnknownNameError is a KeyError
        measure(Workload(abs, [(1,), (-2,)]), out=out, **options)
    assert message in str(caught.value)
    assert not out.exists()


def test_tasks_accept_single_arguments_and_tuples() -> None:
    assert Workload(abs, [1, (2,), [3]]).tasks == [(1,), (2,), ([3],)]


@pytest.mark.slow
def test_unpicklable_arguments_fail_process_cells_only(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:lock_name", f"{user_module}:locks"), **FAST)
    cells = cells_by_executor(doc)
    assert "cannot be pickled" in cells["process-pool", 2]["error"]
    assert cells["thread-pool", 2]["error"] is None
    assert cells["serial", 1]["error"] is None


@pytest.mark.slow
def test_function_that_raises_fails_its_cells_and_the_run_goes_on(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:fails_on_three", f"{user_module}:tasks"), **FAST)
    assert doc["finished"] is not None
    assert doc["workload"]["check_error"] == "task 3: ValueError: bad task 3"
    for cell in doc["cells"]:
        assert cell["error"] == "ValueError: bad task 3", cell["executor"]
    assert doc["workload"]["recommendation"]["code"] == "failed"


def test_function_that_never_returns_is_a_usage_error(user_module: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with pytest.raises(UsageError, match="did not return within 0.5 s"):
        measure(Workload(f"{user_module}:hangs", f"{user_module}:tasks"), timeout_s=0.5,
                out=out, **FAST)
    assert not out.exists()


@pytest.mark.slow
def test_function_hanging_in_workers_times_out_its_cells(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:hangs_off_main", f"{user_module}:tasks"),
                  executors_=["serial", "threads"], workers=[2], repeats=5, max_repeats=5,
                  timeout_s=1.0)
    cells = cells_by_executor(doc)
    assert cells["serial", 1]["error"] is None
    assert cells["threads", 2]["timed_out"] is True
    assert "stopped" in cells["threads", 2]["error"]


def test_main_module_function_under_spawn_says_how_to_fix(user_module: str) -> None:
    def local_double(x):
        return 2 * x

    local_double.__module__ = "__main__"
    local_double.__qualname__ = "local_double"
    assert not importable(local_double)
    doc = measure(Workload(local_double, [(1,), (2,)]), start_method="spawn", **FAST)
    cells = cells_by_executor(doc)
    error = cells["process-pool", 2]["error"]
    assert "__main__" in error and "move it into a module" in error
    assert cells["thread-pool", 2]["error"] is None


# ---------------------------------------------------------------------- results checked


def test_results_of_every_executor_equal_serial(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:double", f"{user_module}:tasks"), **FAST)
    assert all(c["error"] is None and c["result_ok"] for c in doc["cells"])


@pytest.mark.slow
@pytest.mark.usefixtures("quick_gil_check")
def test_thread_unsafe_function_is_reported(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:unsafe", [(i,) for i in range(16)]),
                  executors_=["serial", "threads"], workers=[2], repeats=5, max_repeats=5)
    assert cells_by_executor(doc)["threads", 2]["error"] == (
        "results differ from serial: the function may not be thread-safe")


@pytest.mark.slow
def test_user_comparison_decides_agreement(user_module: str) -> None:
    opaque, same_x = resolve(f"{user_module}:opaque"), resolve(f"{user_module}:same_x")
    plain = measure(Workload(opaque, [(i,) for i in range(4)]), **FAST)
    assert all("differ from serial" in (c["error"] or "") for c in plain["cells"]
               if c["executor"] != "serial")
    compared = measure(Workload(opaque, [(i,) for i in range(4)], same_x), **FAST)
    assert all(c["error"] is None for c in compared["cells"])
    assert compared["workload"]["compare"] == f"{user_module}:same_x"


@pytest.mark.slow
def test_workload_section_holds_costs_and_advice(user_module: str) -> None:
    doc = measure(Workload(f"{user_module}:double", f"{user_module}:tasks"), **FAST)
    section = doc["workload"]
    assert section["tasks"] == 8 and section["function"] == f"{user_module}:double"
    pool = section["executors"]["process-pool"]
    assert pool["per_task_s"] > 0 and pool["args_bytes"] > 0
    assert pool["break_even_task_s"] == pytest.approx(pool["per_task_s"] * 2)
    assert section["recommendation"]["rule"].startswith("Rule:")
    assert section["gil"]["verdict"] in ("releases", "holds", "partly", "undecided")


@pytest.mark.slow
@pytest.mark.quiet
def test_releasing_and_holding_functions_get_gil_verdicts(user_module: str) -> None:
    pytest.importorskip("gilbench.gilcheck")
    import time

    def spin(n):
        total = 0
        for i in range(n):
            total += i
        return total

    # the GIL check runs on the first task whatever the executors: serial alone, short tasks
    releasing = measure(Workload(time.sleep, [(0.01,)] * 2), executors_=["serial"],
                        repeats=5, max_repeats=5)["workload"]["gil"]
    holding = measure(Workload(spin, [(300_000,)] * 2), executors_=["serial"], repeats=5,
                      max_repeats=5)["workload"]["gil"]
    assert releasing["verdict"] in ("releases", "undecided")
    assert holding["verdict"] in ("holds", "undecided")


# ---------------------------------------------------------------------- the advice rule


def _doc(cells: list[tuple], usable: int = 2,
         costs: dict | None = None, gil: dict | None = None, task_s: float = 0.01) -> dict:
    """Cells as (executor, family, workers, median, low, high[, cpu utilisation])."""
    rows = [{"executor": "serial", "family": "serial", "workers": 1, "error": None,
             "median_s": task_s * 8, "speedup": {"median": 1, "low": 1, "high": 1}}]
    for executor, family, w, med, low, high, *util in cells:
        rows.append({"executor": executor, "family": family, "workers": w, "error": None,
                     "speedup": {"median": med, "low": low, "high": high},
                     "cpu_utilization": util[0] if util else None})
    return {"host": {"usable_cores": usable}, "cells": rows,
            "workload": {"function": "m:fn", "tasks": 8, "executors": costs or {}, "gil": gil}}


def test_advice_threads_when_decided_above_processes() -> None:
    rec = recommend(_doc([("thread-pool", "threads", 2, 1.9, 1.8, 2.0),
                          ("process-pool", "processes", 2, 1.4, 1.3, 1.5)],
                         costs={"process-pool": {"pickle_s": 4e-4, "args_bytes": 2**20,
                                                 "results_bytes": 0, "per_task_s": 5e-4}},
                         gil={"fraction": 0.96, "verdict": "releases"}))
    assert rec.code == "threads"
    assert rec.text.startswith("Use a thread pool: `fn` lets other threads run 96% of the time")
    assert "processes reach 1.40x but pay 400 µs per task to pickle 1 MiB" in rec.text


def test_advice_undecided_when_intervals_overlap() -> None:
    rec = recommend(_doc([("thread-pool", "threads", 2, 1.9, 1.5, 2.0),
                          ("process-pool", "processes", 2, 1.8, 1.6, 1.95)]))
    assert rec.code == "undecided" and "overlap" in rec.text


HOLDS = {"fraction": 0.0, "low": 0.0, "high": 0.02, "verdict": "holds"}


def test_advice_never_threads_for_a_gil_holding_function_on_one_core() -> None:
    # sorted() on 500k floats: holds the GIL; a thread pool 1.14x [1.05, 1.19] on 0.97 cores
    threads = ("thread-pool", "threads", 2, 1.14, 1.05, 1.19, 0.97)
    rec = recommend(_doc([threads, ("process-pool", "processes", 2, 0.8, 0.7, 0.9, 1.9)],
                         gil=HOLDS))
    assert rec.code == "serial", rec.text
    assert "0.97 cores is not parallelism" in rec.text and "holds the GIL" in rec.text
    rec = recommend(_doc([threads, ("process-pool", "processes", 2, 1.33, 1.21, 1.43, 1.9)],
                         gil=HOLDS))
    assert rec.code == "processes" and rec.text.startswith("Use a process pool"), rec.text
    # on two cores the CPU time does not rule parallel work out: real doubt, said as such
    rec = recommend(_doc([threads[:6] + (1.9,)], gil=HOLDS))
    assert rec.code == "undecided" and "not parallelism" not in rec.text


def test_advice_overlapping_families_go_to_the_cheaper_per_task() -> None:
    # bz2.compress: both gain, intervals overlap; a thread costs 5 µs per task, a process 140 µs
    cells = [("thread-pool", "threads", 2, 1.85, 1.7, 1.95, 1.9),
             ("process-pool", "processes", 2, 1.9, 1.75, 2.0, 1.9)]
    costs = {"thread-pool": {"per_task_s": 5e-6},
             "process-pool": {"per_task_s": 1.4e-4, "pickle_s": 1e-4, "args_bytes": 1e5,
                              "results_bytes": 1e4}}
    rec = recommend(_doc(cells, costs=costs, gil={"fraction": 0.97, "verdict": "releases"}))
    assert rec.code == "threads", rec.text
    assert "costs 140 µs per task against 5 µs (pickling included)" in rec.text


def test_advice_serial_below_break_even() -> None:
    rec = recommend(_doc([("thread-pool", "threads", 2, 0.5, 0.4, 0.6)],
                         costs={"thread-pool": {"per_task_s": 1e-4, "break_even_task_s": 2e-4}},
                         task_s=2e-5))
    assert rec.code == "serial"
    assert rec.text == ("Stay serial: tasks of 20 µs are below every executor's break-even "
                        "(the lowest is 200 µs).")


def test_advice_undecided_inside_the_band_and_ignores_extra_workers() -> None:
    rec = recommend(_doc([("threads", "threads", 2, 1.05, 0.9, 1.2),
                          ("threads", "threads", 4, 3.0, 2.9, 3.1)]))
    assert rec.code == "undecided"


# a stress test's outcome as gilbench.stress writes it (only the fields the advice reads)
RACY = {"verdict": "failed", "runs": 40, "total_runs": 40, "mismatched_runs": 31,
        "text": "`fn` failed the stress test: 31 of 40 threaded runs differ from the serial run "
                "(31 of 40 at 2 threads; with the GIL off); first in run 1 at 2 threads, task "
                "3: expected 199990000, got 214077879."}
NEVER = ("never threads, because `fn` failed the stress test: 31 of 40 threaded runs differ "
         "from the serial run")


def test_advice_never_threads_for_a_function_that_failed_the_stress_test() -> None:
    # threads would win clearly (as in test_advice_threads_when_decided_above_processes)
    cells = [("thread-pool", "threads", 2, 1.9, 1.8, 2.0),
             ("asyncio-to-thread", "threads", 2, 1.85, 1.75, 1.95),
             ("process-pool", "processes", 2, 1.4, 1.3, 1.5)]
    doc = _doc(cells, gil={"fraction": 0.96, "verdict": "releases"})
    assert recommend(doc).code == "threads"
    doc["workload"]["stress"] = RACY
    rec = recommend(doc)
    assert rec.code == "processes", rec.text
    assert rec.text.startswith("Use a process pool: 1.40x [1.30, 1.50] at 2 workers")
    assert rec.text.endswith(f"; {NEVER} (31 of 40 at 2 threads; with the GIL off); first in run "
                             "1 at 2 threads, task 3: expected 199990000, got 214077879.")
    assert "thread pool" not in rec.text and "to_thread" not in rec.text
    assert "Never threads" in rec.rule and "stress test" in rec.rule


def test_advice_after_a_failed_stress_test_with_only_thread_cells_stays_serial() -> None:
    doc = _doc([("threads", "threads", 2, 1.9, 1.8, 2.0)])
    doc["workload"]["stress"] = RACY
    rec = recommend(doc)
    assert rec.code == "serial" and rec.text.startswith(f"Stay serial: {NEVER}")
    assert rec.text.endswith("no executor other than threads was measured (add --executors "
                             "process-pool to compare one).")


def test_advice_after_a_failed_stress_test_without_a_gaining_alternative() -> None:
    doc = _doc([("thread-pool", "threads", 2, 1.9, 1.8, 2.0),
                ("process-pool", "processes", 2, 0.8, 0.7, 0.9)])
    doc["workload"]["stress"] = RACY
    rec = recommend(doc)
    assert rec.code == "serial" and rec.text.startswith("Stay serial: no executor gains (best: "
                                                        "a process pool 0.80x")
    assert NEVER in rec.text


def test_advice_unchanged_by_a_passed_or_skipped_stress_test() -> None:
    cells = [("thread-pool", "threads", 2, 1.9, 1.8, 2.0),
             ("process-pool", "processes", 2, 1.4, 1.3, 1.5)]
    plain = recommend(_doc(cells))
    for outcome in ({"verdict": "passed", "text": "`fn` passed the stress test."},
                    {"verdict": "not run", "text": "The stress test did not run: ..."}):
        doc = _doc(cells)
        doc["workload"]["stress"] = outcome
        assert recommend(doc) == plain and plain.code == "threads"


def test_advice_never_rests_on_cells_the_host_kept_busy() -> None:
    # not one quiet round of the serial baseline: nothing to advise from
    doc = _doc([("process-pool", "processes", 2, 0.5, 0.4, 0.6)])
    doc["cells"][0].update(host_busy=True, median_s=None, speedup=None)
    rec = recommend(doc)
    assert rec.code == "undecided" and "host stayed busy" in rec.text
    assert "--max-wait" in rec.text and "serial baseline" in rec.text
    # every parallel cell busy: undecided, not "stay serial" from their few rounds
    doc = _doc([("process-pool", "processes", 2, 0.5, 0.4, 0.6)])
    doc["cells"][1]["host_busy"] = True
    rec = recommend(doc)
    assert rec.code == "undecided" and "1 of 1 cells got too few undisturbed" in rec.text
    # one busy cell could have gained: no "stay serial" while it is left
    doc = _doc([("thread-pool", "threads", 2, 0.5, 0.4, 0.6),
                ("process-pool", "processes", 2, 1.0, 0.9, 1.5)])
    assert recommend(doc).code == "undecided"  # the band, as before
    doc["cells"][2]["speedup"] = {"median": 0.5, "low": 0.4, "high": 0.6}
    assert recommend(doc).code == "serial"
    doc["cells"][2]["host_busy"] = True
    rec = recommend(doc)
    assert rec.code == "undecided" and "host stayed busy for 1 of 2" in rec.text
    # a gaining family is advised, and the busy cell is said not to count
    doc = _doc([("thread-pool", "threads", 2, 1.9, 1.8, 2.0),
                ("process-pool", "processes", 2, 1.95, 1.9, 2.0)])
    doc["cells"][2]["host_busy"] = True
    rec = recommend(doc)
    assert rec.code == "threads"
    assert rec.text.endswith("1 cell left undecided by a busy host not counted.")


def test_advice_failed_serial() -> None:
    doc = _doc([])
    doc["cells"][0]["error"] = "ValueError: boom"
    assert recommend(doc).code == "failed"


# ---------------------------------------------------------------------- examples

EXAMPLES = {
    "sha256_buffers": "digest", "zlib_compress": "compress", "json_loads": "parse",
    "re_findall": "find_words", "pure_python": "count_primes", "numpy_sort": "sort",
}
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.usefixtures("quick_gil_check")
@pytest.mark.parametrize("module", sorted(EXAMPLES))
def test_examples_run_end_to_end(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (REPO / "examples").is_dir():
        pytest.skip("examples/ is not next to the tests (installed-package test run)")
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("GILBENCH_EXAMPLE_SCALE", "0.01")
    monkeypatch.setattr(sys, "path", list(sys.path))
    doc = measure(Workload(f"examples.{module}:{EXAMPLES[module]}",
                           f"examples.{module}:tasks"), **FAST)
    assert [c["error"] for c in doc["cells"]] == [None] * len(doc["cells"])
    assert doc["workload"]["recommendation"]["text"]
