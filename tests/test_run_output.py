"""`gilbench run`'s output: one writer per results file, output errors as one line with exit 2
and what was kept, the exit status (0 all measured, 1 some cells failed), files written with
the user's umask, and tables readable at 80 columns."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from gilbench import results

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from cli_helpers import TINY, gilbench  # noqa: E402


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


@pytest.mark.slow
def test_a_second_run_on_the_same_file_is_refused_naming_the_first(tmp_path, capsys):
    out = tmp_path / "same.json"
    with results.ResultsLock(out):  # what a run in progress holds
        status, err = gilbench(["run", *TINY, "--out", str(out)], capsys)
        assert status == 2
        [line] = _error_lines(err)
        assert f"being written by another gilbench run (pid {os.getpid()})" in line
        assert not out.exists()  # refused before writing anything
        # the same for a resume of that file
        status, err = gilbench(["run", "--resume", str(out)], capsys)
        assert status == 2
    # released: the file can be written now, and the lock file is gone with its run
    status, err = gilbench(["run", *TINY, "--out", str(out)], capsys)
    assert status == 0, err
    assert not (tmp_path / "same.json.lock").exists()


@pytest.mark.slow
def test_a_killed_runs_lock_does_not_block_the_next(tmp_path, capsys):
    out = tmp_path / "r.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gilbench import results; "
         "results.ResultsLock(sys.argv[1]).acquire(); print('locked', flush=True); "
         "time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        status, err = gilbench(["run", *TINY, "--out", str(out)], capsys)
        assert status == 2 and f"(pid {holder.pid})" in err
        holder.send_signal(signal.SIGKILL)  # no clean-up: the lock file stays behind
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()
    assert (tmp_path / "r.json.lock").read_text().strip() == str(holder.pid)
    status, err = gilbench(["run", *TINY, "--out", str(out)], capsys)
    assert status == 0, err
    assert len(results.read(out)["cells"]) == 3


@pytest.mark.slow
def test_disk_full_is_one_line_that_says_what_was_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.json"
    writes = []
    real_replace = os.replace

    def replace(src, dst):
        # the start, and one kernel variant's cells; then the disk is full
        writes.append(dst)
        if len(writes) > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", replace)
    argv = ["run", "--kernels", "sleep", "--variants", "python,cython-gil", "--executors",
            "serial,threads", "--workers", "2", "--max-repeats", "5", "--size", "sleep=4",
            "--out", str(out)]
    status, err = gilbench(argv, capsys)
    assert status == 2
    [line] = _error_lines(" ".join(err.split()).replace("gilbench run: error:", "\ngilbench run: error:"))
    assert f"cannot write {out}: No space left on device" in line
    assert f"{out} keeps the 2 cells written before (2 missing)" in line
    assert f"gilbench run --resume {out}" in line
    assert len(results.read(out)["cells"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no debris
    monkeypatch.setattr(results.os, "replace", real_replace)
    status, err = gilbench(["run", "--resume", str(out)], capsys)
    assert status == 0, err
    assert len(results.read(out)["cells"]) == 4


def test_an_unwritable_output_is_one_line_not_a_traceback(tmp_path):
    # a real process: /proc accepts no new files, whoever we are
    proc = subprocess.run([sys.executable, "-m", "gilbench", "run", *TINY, "--out",
                           "/proc/gilbench-x.json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = _error_lines(" ".join(proc.stderr.split()).replace("gilbench run:", "\ngilbench run:"))
    assert len(lines) == 1 and "/proc/gilbench-x.json" in lines[0], proc.stderr


@pytest.mark.slow
def test_results_file_gets_the_umask_permissions(tmp_path, capsys):
    out = tmp_path / "r.json"
    old = os.umask(0o027)
    try:
        status, err = gilbench(["run", *TINY, "--out", str(out)], capsys)
    finally:
        os.umask(old)
    assert status == 0, err
    assert out.stat().st_mode & 0o777 == 0o640


def _fault_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["GILBENCH_EXTRA_KERNELS"] = "fault-raise=faulty_kernel:RAISE"
    return env


@pytest.mark.slow
def test_exit_status_is_1_when_some_cells_failed(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gilbench", "run", "--kernels", "fault-raise,sleep", "--variants",
         "python", "--executors", "serial,threads", "--workers", "2", "--max-repeats", "5",
         "--size", "fault-raise=200,sleep=4", "--out", str(out)],
        env={**_fault_env(), "COLUMNS": "200"}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "1 cells failed" in proc.stdout  # a result: the failed cells' table
    doc = results.read(out)
    assert doc["finished"] is not None and len(doc["cells"]) == 4  # the rest was measured


@pytest.mark.slow
def test_tables_fit_80_columns_and_keep_names_whole(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "gilbench", "run", "--kernels", "sleep", "--variants",
         "cython-gil,cython-nogil", "--executors",  # the longest names, and the two alike
         "serial,asyncio-to-thread,process-pool", "--workers", "2", "--max-repeats", "5",
         "--size", "sleep=4", "--out", str(out)],
        env={**os.environ, "COLUMNS": "80"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines() + proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(l for l in lines if len(l) > 80)
    out_lines = proc.stdout.splitlines()  # the summary is a result: on stdout
    summary = out_lines[next(i for i, l in enumerate(out_lines) if "speedup at 2 workers" in l):]
    rows = [l.split() for l in summary if l.startswith("sleep ")]
    assert {(r[1], r[2]) for r in rows} == {
        (v, e) for v in ("cython-gil", "cython-nogil")
        for e in ("asyncio-to-thread", "process-pool")}
    assert "\u2026" not in "\n".join(summary)  # nothing cut with an ellipsis
    # piped without COLUMNS: wide tables for logs
    wide = subprocess.run(
        [sys.executable, "-m", "gilbench", "run", "--kernels", "sleep", "--variants", "python",
         "--executors", "serial,asyncio-to-thread", "--workers", "2", "--max-repeats", "5",
         "--size", "sleep=4", "--out", str(tmp_path / "wide.json")],
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
        capture_output=True, text=True, timeout=120)
    assert wide.returncode == 0, wide.stderr
    assert max(len(line) for line in wide.stdout.splitlines()) > 100


def test_report_and_compare_tables_fit_80_columns():
    """`gilbench report` and `gilbench compare` on recorded files: every line within 80
    columns, and the variant names whole (cython-gil and cython-nogil told apart)."""
    data = Path(__file__).parent / "data"
    for argv in (["report", str(data / "real-primes-sleep.json"), "-o", "{tmp}/rep"],
                 ["compare", str(data / "synthetic-gil.json"), str(data / "synthetic-ft.json"),
                  "-o", "{tmp}/cmp", "--all"]):
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, "-m", "gilbench",
                                   *(a.format(tmp=tmp) for a in argv)],
                                  env={**os.environ, "COLUMNS": "80"}, capture_output=True,
                                  text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, "\n".join(l for l in lines if len(l) > 80)
        variants = {word for line in lines for word in line.split()}
        assert {"cython-gil", "cython-nogil"} <= variants, argv[0]
        assert "\u2026" not in proc.stdout  # nothing cut with an ellipsis
