"""The pytest-benchmark suite in bench/ and its converter, ``gilbench.bench_convert``.

The suite is run in subprocesses on tiny selections (primes, quick sizes); the converter is also
checked on hand-made JSON, where every expected number can be computed independently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gilbench import bench_convert, executors, kernels, results, stats
from gilbench.measure import CellSpec, Raw
from gilbench.run.config import MAX_WAIT_ENV
from gilbench.summary import summarize

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import side_by_side  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytestmark = pytest.mark.skipif(not (BENCH / "conftest.py").is_file(),
                                reason="bench/ is not next to tests/ (installed without sources)")

SMALL = ["--gb-quick", "--gb-kernels", "primes", "--gb-workers", "1,2"]


def bench_argv(*args: str) -> list[str]:
    # hypothesis's pytest plugin (installed for gilbench's own tests) takes 0.6 s to start
    return [sys.executable, "-m", "pytest", "bench/", "-p", "no:cacheprovider",
            "-p", "no:hypothesispytest", *args]


def bench_env(env: dict | None = None) -> dict:
    # the suite's cells are checked for what they record, not for their figures: no waiting
    # for a quiet host (up to 5 s a run under the test suite's $GILBENCH_MAX_WAIT); not a worker
    # of `pytest -n` either: pytest-benchmark would see its variables and measure nothing
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {**inherited, MAX_WAIT_ENV: "0", **(env or {})}


def run_bench(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m pytest bench/ ARGS`` from the repository root."""
    return subprocess.run(bench_argv(*args), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=bench_env(env))


#: the suite's collections and usage errors: nothing measured, only pytest's start-up
COLLECTIONS = {
    "executors": ["--collect-only", "-q", *SMALL, "--gb-executors",
                  "serial,threads,process-pool"],
    "-k": ["--collect-only", "-q", *SMALL, "-k", "cython_nogil and threads"],
    "default": ["--collect-only", "-q", "--gb-kernels", "primes", "--gb-variants", "python",
                "--gb-workers", "2"],
    "--gb-kernels": ["--collect-only", "-q", "--gb-kernels", "nosuch"],
    "--gb-workers": ["--collect-only", "-q", "--gb-workers", "0"],
}


@pytest.fixture(scope="module")
def collections() -> dict[str, subprocess.CompletedProcess]:
    """``python -m pytest bench/ --collect-only ...`` for each of ``COLLECTIONS``, once for the
    module and side by side (each is a second of starting pytest and importing gilbench)."""
    return side_by_side({name: bench_argv(*args) for name, args in COLLECTIONS.items()},
                        cwd=ROOT, env=bench_env())


def collected_ids(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line.split("[", 1)[1].rstrip("]") for line in proc.stdout.splitlines()
            if line.startswith("test_matrix.py::test_cell[")]


def test_ids_are_readable_and_serial_comes_first_in_each_group(collections) -> None:
    ids = collected_ids(collections["executors"])
    primes = kernels.get("primes")
    expected = []
    for v in primes.variant_names:
        name = v.replace("-", "_")
        expected += [f"primes-{name}-serial-1", f"primes-{name}-threads-1",
                     f"primes-{name}-threads-2", f"primes-{name}-process_pool-1",
                     f"primes-{name}-process_pool-2"]
    assert ids == expected


def test_k_selects_cells_by_id(collections) -> None:
    ids = collected_ids(collections["-k"])
    assert ids == ["primes-cython_nogil-threads-1", "primes-cython_nogil-threads-2"]


def test_default_executors_are_gilbench_runs(collections) -> None:
    ids = collected_ids(collections["default"])
    assert [i.split("-")[2].replace("_", "-") for i in ids] == executors.DEFAULT


@pytest.mark.parametrize("option, message", [
    ("--gb-kernels", "unknown kernel 'nosuch'"),
    ("--gb-workers", "--gb-workers takes positive integers"),
])
def test_bad_options_are_usage_errors(collections, option: str, message: str) -> None:
    proc = collections[option]
    assert proc.returncode == 4  # pytest's exit status for usage errors
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_unavailable_variants_are_skipped_with_the_reason() -> None:
    proc = run_bench(*SMALL, "--gb-executors", "serial", "--benchmark-disable", "-rs",
                     env={"GILBENCH_NO_EXTENSIONS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 2 skipped" in proc.stdout
    assert "variant unavailable: disabled by GILBENCH_NO_EXTENSIONS=1" in proc.stdout


@pytest.mark.slow
def test_benchmark_json_converts_to_a_valid_results_document(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = run_bench(*SMALL, "--gb-variants", "python,cython-nogil",
                     "--gb-executors", "serial,threads,process-pool", f"--benchmark-json={out}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    benches = data["benchmarks"]
    assert [b["param"] for b in benches] == [
        f"primes-{v}-{e}-{w}" for v in ("python", "cython_nogil")
        for e, w in (("serial", 1), ("threads", 1), ("threads", 2), ("process_pool", 1),
                     ("process_pool", 2))]
    for b in benches:
        info = b["extra_info"]
        assert b["params"] == {k: info[k] for k in ("kernel", "variant", "executor", "workers")}
        assert info["family"] == executors.get(info["executor"]).family
        assert info["unit"] == "numbers" and info["kind"] == "cpu"
        assert info["usable_cores"] >= 1 and info["n_chunks"] == 4 * 2
        assert info["error"] is None and info["result_ok"] is True
        # one wall and one CPU time per pytest-benchmark round, and the same rounds it timed
        rounds = b["stats"]["rounds"]
        assert len(info["wall_s"]) == len(info["cpu_s"]) == rounds == 5
        for ours, theirs in zip(info["wall_s"], b["stats"]["data"]):
            assert ours <= theirs < ours + 0.1  # theirs also times the call around executor.run
        assert info["cold_wall_s"] > 0 and all(c > 0 for c in info["cpu_s"])
        assert info["serial_in_session"] is True and info["speedup"] is not None
        if info["executor"] == "process-pool":
            assert info["start_method"] in ("fork", "spawn", "forkserver")
            # the cold run's start-up, or why it was lost in the warm runs' spread
            assert info["startup_s"] is not None or \
                info["startup_note"].startswith("not measurable")
        else:
            assert info["start_method"] is None
        if info["executor"] == "serial":
            assert info["speedup"]["median"] == 1.0
            # one thread cannot keep more than one core busy (slack: clock granularity)
            assert info["cpu_utilization"] < 1.2
    sizes = {(b["extra_info"]["variant"], b["extra_info"]["size"]) for b in benches}
    assert len(sizes) == 2  # one calibrated size per variant, shared by its cells

    doc = bench_convert.to_results(data)
    assert results.validate(doc) is doc
    assert doc["host"]["usable_cores"] == benches[0]["extra_info"]["usable_cores"]
    assert doc["config"]["executors"] == ["serial", "threads", "process-pool"]
    assert doc["command"][:2] == ["pytest", "bench/"] and doc["finished"]
    for cell, b in zip(doc["cells"], benches):
        info = b["extra_info"]
        for key in ("kernel", "variant", "executor", "workers", "size", "wall_s", "cpu_s",
                    "median_s", "speedup", "efficiency", "cpu_utilization", "cold_wall_s",
                    "startup_s", "stable", "error", "result_ok"):
            assert cell[key] == info[key], key  # the same numbers through the same summarize()


@pytest.mark.slow
def test_benchmark_disable_runs_each_cell_once(tmp_path: Path) -> None:
    # count executor runs with a plugin that wraps Executor.run in the suite's process
    plugin = tmp_path / "count_runs.py"
    log = tmp_path / "runs.txt"
    plugin.write_text(
        "import gilbench.executors.threads as t\n"
        "orig = t.ThreadsExecutor.run\n"
        "def run(self, chunks):\n"
        f"    with open({str(log)!r}, 'a') as fh:\n"
        "        fh.write(f'{self.workers}\\n')\n"
        "    return orig(self, chunks)\n"
        "t.ThreadsExecutor.run = run\n")
    proc = run_bench(*SMALL, "--gb-variants", "cython-nogil", "--gb-executors", "serial,threads",
                     "--benchmark-disable", "-p", "count_runs",
                     env={"PYTHONPATH": os.pathsep.join([str(tmp_path),
                                                         os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "3 passed" in proc.stdout
    assert sorted(log.read_text().split()) == ["1", "2"]


@pytest.mark.slow
def test_a_failing_cell_fails_its_test_and_is_an_error_cell_in_the_json(tmp_path: Path) -> None:
    plugin = tmp_path / "break_threads.py"
    plugin.write_text(
        "import gilbench.executors.threads as t\n"
        "def run(self, chunks):\n"
        "    raise RuntimeError('injected failure')\n"
        "t.ThreadsExecutor.run = run\n")
    out = tmp_path / "bench.json"
    proc = run_bench(*SMALL, "--gb-variants", "cython-nogil", "--gb-executors", "serial,threads",
                     "--gb-workers", "2", "--gb-max-repeats", "5", "-p", "break_threads",
                     f"--benchmark-json={out}",
                     env={"PYTHONPATH": os.pathsep.join([str(tmp_path),
                                                         os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 1
    assert "1 failed, 1 passed" in proc.stdout
    assert "RuntimeError: injected failure" in proc.stdout
    doc = bench_convert.to_results(json.loads(out.read_text()))
    serial, threads = doc["cells"]
    assert serial["error"] is None and serial["speedup"]["median"] == 1.0
    assert threads["executor"] == "threads"
    assert threads["error"] == "RuntimeError: injected failure"
    assert threads["speedup"] is None and threads["wall_s"] == []


# --- the converter on hand-made JSON -------------------------------------------------------

def fake_bench(executor: str, workers: int, wall: list[float], cpu: list[float],
               serial: Raw | None = None, **extra: object) -> dict:
    """A benchmark as bench/conftest.py stores it: the complete results cell in extra_info,
    built by ``summarize`` against the group's serial ``Raw`` (None: no baseline)."""
    spec = CellSpec("primes", "python", executor, workers, 1000, 8, None, "strong")
    raw = Raw(wall_s=list(wall), cpu_s=list(cpu), cold_wall_s=wall[0] if wall else None,
              error=extra.pop("raw_error", None), result=extra.pop("result", 168))
    baseline = raw if executor == "serial" else serial
    reference = None if executor == "serial" or serial is None else serial.result
    info = summarize(spec, raw, baseline, kernels.get("primes"), reference)
    info.update({"raw_error": raw.error, "result": raw.result, "usable_cores": 2,
                 "target_time_s": 0.04})
    info.update(extra)
    name = f"test_cell[primes-python-{executor.replace('-', '_')}-{workers}]"
    return {"name": name, "extra_info": info, "stats": {"data": list(wall)}}


SERIAL_WALL = [0.20, 0.21, 0.19, 0.20, 0.22]
SERIAL_RAW = Raw(wall_s=SERIAL_WALL, cpu_s=[0.2] * 5, result=168)


def fake_json(*benches: dict) -> dict:
    return {"machine_info": {"node": "h", "python_version": "3.11.7", "cpu": {"count": 2}},
            "commit_info": {}, "benchmarks": list(benches),
            "datetime": "2026-11-26T08:00:00+00:00", "version": "5.3.1"}


THREADS_WALL = [0.11, 0.10, 0.12, 0.10, 0.11]


def test_convert_speedup_is_serial_over_cell_with_a_bootstrap_interval() -> None:
    doc = bench_convert.to_results(fake_json(
        fake_bench("serial", 1, SERIAL_WALL, [0.2] * 5),
        fake_bench("threads", 2, THREADS_WALL, [0.2] * 5, SERIAL_RAW)))
    serial, threads = doc["cells"]
    assert serial["speedup"]["median"] == 1.0
    assert threads["speedup"] == stats.bootstrap_ratio(SERIAL_WALL, THREADS_WALL)
    assert threads["speedup"]["median"] == pytest.approx(0.20 / 0.11)
    assert threads["efficiency"] == pytest.approx(threads["speedup"]["median"] / 2)
    assert threads["cpu_utilization"] == pytest.approx(stats.median(
        [c / w for c, w in zip([0.2] * 5, THREADS_WALL)]))
    assert threads["family"] == "threads" and threads["result_ok"] is True
    # no "gilbench" header: host and config are rebuilt from machine_info and the cells
    assert doc["host"]["usable_cores"] == 2 and doc["host"]["logical_cores"] == 2
    assert doc["config"]["executors"] == ["serial", "threads"]
    assert doc["config"]["workers"] == [2]
    assert doc["finished"] == "2026-11-26T08:00:00+00:00"


def test_convert_without_a_serial_cell_has_no_speedup() -> None:
    doc = bench_convert.to_results(fake_json(fake_bench("threads", 2, THREADS_WALL, [0.2] * 5)))
    (cell,) = doc["cells"]
    assert cell["speedup"] is None and cell["error"] is None and cell["median_s"] == 0.11


def test_convert_keeps_failures_and_wrong_results() -> None:
    doc = bench_convert.to_results(fake_json(
        fake_bench("serial", 1, SERIAL_WALL, [0.2] * 5),
        fake_bench("process-pool", 2, [], [], SERIAL_RAW,
                   raw_error="BrokenProcessPool: worker died"),
        fake_bench("threads", 2, THREADS_WALL, [0.2] * 5, SERIAL_RAW, result=167)))
    _, broken, wrong = doc["cells"]
    assert broken["error"] == "BrokenProcessPool: worker died" and broken["speedup"] is None
    assert "differs from the serial result 168" in wrong["error"]
    assert wrong["result_ok"] is False


@pytest.mark.parametrize("data, message", [
    ({"cells": []}, "expected an object with 'benchmarks'"),
    (fake_json({"name": "test_other", "extra_info": {}}), "none of its 1 benchmarks"),
    # a header (what bench/conftest.py writes) describes the session's kernels
    ({**fake_json(fake_bench("serial", 1, [0.1], [0.1], kernel="nosuch")),
      "gilbench": results.new_document({}, {}, ["pytest", "bench/"]) | {"kernels": {"primes": {}}}},
     "kernel 'nosuch', which its 'gilbench' header does not describe"),
    (fake_json(fake_bench("serial", 1, [0.1], [0.1], size="big")), "unreadable extra_info"),
])
def test_convert_rejects_what_it_cannot_use(data: dict, message: str) -> None:
    with pytest.raises(results.ResultsError, match=message):
        bench_convert.to_results(data)
