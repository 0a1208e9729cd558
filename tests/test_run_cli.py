"""`gilbench run`'s arguments: every mistake gets a one-line message saying what is accepted and
exit status 2, never a traceback (also for random argument lists); `--resume` takes the
configuration from the file and refuses options that ask for something else."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gilbench import commands as cli
from gilbench import executors, kernels, results
from gilbench.commands import run
from gilbench.errors import UsageError
from gilbench.run.config import RunConfig
from gilbench.run.matrix import cell_key

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import TINY, gilbench  # noqa: E402


def _flat(text: str) -> str:
    # rich wraps long lines at the console width
    return " ".join(text.split())


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv,message", [
    (["--kernels", "nope"], f"unknown kernel 'nope'; valid kernels: {', '.join(kernels.names())}"),
    (["--kernels", ","], "--kernels needs at least one name; valid kernels: primes"),
    (["--variants", "fast"], "unknown variant 'fast'; valid variants: python, cython-gil"),
    (["--kernels", "sleep", "--variants", "numpy"],
     "none of the kernels sleep has a variant numpy; they have: cython-gil, cython-nogil, python"),
    (["--executors", "gpu"],
     f"unknown executor 'gpu'; valid executors: {', '.join(executors.names())}"),
    (["--workers", "0"], "--workers takes positive integers up to 256 separated by commas, such "
                         "as 1,2,4; got '0'"),
    (["--workers", "1,two"], "--workers takes positive integers up to 256 separated by commas"),
    (["--workers", "1,,2"], "--workers takes positive integers up to 256 separated by commas"),
    (["--workers", "2²"], "--workers takes positive integers"),
    (["--workers", "1000"], "--workers takes positive integers up to 256; 1000 is too many"),
    (["--size", "primes"], "--size takes KERNEL=SIZE pairs such as primes=20000, got 'primes'"),
    (["--size", "nope=5"], "unknown kernel 'nope'; valid kernels: primes"),
    (["--size", "primes=2"], "--size primes=...: the size must be an integer of at least 3, "
                             "got '2'"),
    (["--size", "sleep=-4"], "--size sleep=...: the size must be an integer of at least 1"),
    (["--kernels", "primes", "--size", "sleep=4"],
     "--size sleep=...: sleep is not among the kernels being run (primes)"),
    (["--out", "/nonexistent-dir/r.json"], "--out '/nonexistent-dir/r.json': '/nonexistent-dir' "
                                           "does not exist"),
    (["--resume", "/nonexistent-dir/r.json"],
     "cannot resume: /nonexistent-dir/r.json: no such file"),
    (["--repeats", "2"], "--repeats is the minimum number of paired rounds per cell: at least 5"),
    (["--repeats", "8", "--max-repeats", "6"], "--max-repeats (6) must be at least --repeats (8)"),
])
def test_usage_errors_say_what_is_accepted(argv, message, capsys):
    status, err = gilbench(["run", *argv], capsys)
    assert status == 2
    line = _error_line(err)
    assert line.startswith("gilbench run: error: ")
    assert message in line


@pytest.mark.parametrize("argv,message", [
    (["--repeats", "0"], "argument --repeats: expected a positive integer such as 5, got '0'"),
    (["--repeats", "many"], "argument --repeats: expected a positive integer"),
    (["--target-time", "-1"], "argument --target-time: expected a positive number of seconds "
                              "such as 0.5 or 30, got '-1'"),
    (["--target-time", "nan"], "argument --target-time: expected a positive number of seconds"),
    (["--timeout", "inf"], "argument --timeout: expected a positive number of seconds"),
    (["--timeout", "0"], "argument --timeout: expected a positive number of seconds"),
    (["--start-method", "vfork"], "argument --start-method: invalid choice: 'vfork'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_argparse_errors_exit_2_with_usage(argv, message, capsys):
    status, err = gilbench(["run", *argv], capsys)
    assert status == 2
    assert err.startswith("usage: gilbench")
    assert message in _error_line(err)


def test_output_paths_are_checked_before_anything_runs(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["--out", str(tmp_path)], "is a directory; give a file name such as results.json"),
        (["--out", str(a_file / "r.json")], f"'{a_file}' is not a directory"),
        (["--report", str(a_file)], "exists and is not a directory"),
        (["--report", str(a_file / "sub")], f"'{a_file}' is not a directory"),
    ]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((["--out", str(locked / "r.json")], "is not writable"))
    for argv, message in cases:
        status, err = gilbench(["run", *argv], capsys)
        assert status == 2 and message in _error_line(err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["file"] + (["locked"] if os.geteuid() != 0 else []))  # nothing was written


def test_user_error_in_a_real_process_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "gilbench", "run", "--workers", "0,1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gilbench run: error: --workers takes positive integers up to 256 separated by commas, "
        "such as 1,2,4; got '0,1'"]


# ---------------------------------------------------------------------------------- --resume

def _gilbench_quiet(argv: list[str]) -> tuple[int, str]:
    """``gilbench ARGV`` in this process outside any test (no capsys): (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return status, err.getvalue()


@pytest.fixture(scope="module")
def _interrupted_once(tmp_path_factory) -> Path:
    """A tiny measured run, then cut back as an interrupted one leaves it: its first group.
    Made once; the tests get copies (``interrupted_file``)."""
    out = tmp_path_factory.mktemp("interrupted") / "r.json"
    status, err = _gilbench_quiet(["run", *TINY, "--out", str(out)])
    assert status == 0, err
    doc = results.read(out)
    assert len(doc["cells"]) == 3
    doc["cells"] = doc["cells"][:0]
    doc["finished"] = None
    results.write(doc, out)
    return out


@pytest.fixture
def interrupted_file(_interrupted_once, tmp_path) -> Path:
    """A copy of the interrupted tiny run's file, for this test to change."""
    out = tmp_path / "r.json"
    shutil.copyfile(_interrupted_once, out)
    return out


@pytest.fixture(scope="module")
def _resumed_once(_interrupted_once, tmp_path_factory) -> tuple[int, str, Path]:
    """The interrupted file resumed once: (exit status, stderr, the completed file)."""
    out = tmp_path_factory.mktemp("resumed") / "r.json"
    shutil.copyfile(_interrupted_once, out)
    status, err = _gilbench_quiet(["run", "--resume", str(out)])
    return status, err, out


@pytest.mark.slow
def test_resume_completes_with_the_recorded_configuration(_resumed_once, tmp_path, capsys):
    status, err, resumed = _resumed_once
    assert status == 0, err
    assert "measuring the 3 missing ones with its configuration" in _flat(err)
    doc = results.read(resumed)
    assert len(doc["cells"]) == 3 and doc["finished"] is not None
    assert {c["size"] for c in doc["cells"]} == {4}  # --size from the file
    # options that agree with the file are accepted (cells a busy host left undecided would
    # be measured again: this file is made to be a quiet one)
    for c in doc["cells"]:
        c.pop("host_busy", None)
    completed = tmp_path / "r.json"
    results.write(doc, completed)
    status, err = gilbench(["run", *TINY, "--resume", str(completed),
                            "--out", str(completed)], capsys)
    assert status == 0 and "nothing to resume" in err


@pytest.mark.slow
def test_resume_measures_again_the_cells_left_host_busy(_resumed_once, tmp_path, capsys):
    doc = results.read(_resumed_once[2])
    for c in doc["cells"]:
        c.pop("host_busy", None)
    busy = doc["cells"][-1]
    busy["host_busy"] = True
    path = tmp_path / "r.json"
    results.write(doc, path)
    status, err = gilbench(["run", "--resume", str(path)], capsys)
    assert status == 0, err
    assert "2 of 3 cells are there; measuring the 1 missing ones" in _flat(err)
    after = results.read(path)["cells"]
    assert len(after) == 3  # replaced, not added
    assert sorted(map(str, (cell_key(c) for c in after))) == sorted(
        map(str, (cell_key(c) for c in doc["cells"])))


@pytest.mark.slow
def test_resume_refuses_options_that_ask_for_something_else(interrupted_file, capsys):
    path = str(interrupted_file)
    status, err = gilbench(["run", "--resume", path, "--workers", "4", "--max-repeats", "7"],
                           capsys)
    assert status == 2
    assert _error_line(err) == (
        f"gilbench run: error: --resume takes the configuration from {path}, and these options "
        f"ask for something else: --workers ({path} has 1,2); --max-repeats ({path} has 5). "
        "Drop them, or start a new run with another --out")
    status, err = gilbench(["run", "--resume", path, "--out", "other.json"], capsys)
    assert status == 2
    assert f"--resume {path} adds the missing cells to {path} itself; drop --out other.json" in err
    status, err = gilbench(["run", "--resume", path, "--python", sys.executable], capsys)
    assert status == 2 and "--resume cannot be combined with --python" in err


@pytest.mark.slow
def test_resume_refuses_another_host_or_a_damaged_file(interrupted_file, capsys):
    doc = json.loads(interrupted_file.read_text())
    doc["host"]["hostname"] = "elsewhere"
    doc["host"]["usable_cores"] = 64
    interrupted_file.write_text(json.dumps(doc))
    status, err = gilbench(["run", "--resume", str(interrupted_file)], capsys)
    assert status == 2
    assert "was measured on another host or interpreter (host: 'elsewhere' in the file" in err
    assert "usable cores: 64 in the file" in err

    doc["config"]["workers"] = [0]
    interrupted_file.write_text(json.dumps(doc))
    status, err = gilbench(["run", "--resume", str(interrupted_file)], capsys)
    assert status == 2
    assert (f"cannot resume {interrupted_file}: config.workers: expected a list of worker counts "
            "from 1 to 256, got [0]") in err

    interrupted_file.write_text(interrupted_file.read_text()[:100])
    status, err = gilbench(["run", "--resume", str(interrupted_file)], capsys)
    assert status == 2 and "(the file ends early: truncated?)" in err


# ------------------------------------------------------------------------------ property test

@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("argv")
    complete = root / "complete.json"
    doc = results.new_document(
        RunConfig(["sleep"], ["python"], ["serial"], [1], 2, 0.05, sizes={"sleep": 4})
        .as_dict(), {}, ["gilbench", "run"])
    results.write(doc, complete)
    (root / "broken.json").write_text("{")
    return {"complete": str(complete), "broken": str(root / "broken.json"), "dir": str(root),
            "new": str(root / "new.json"), "missing": str(root / "no" / "r.json")}


OPTIONS = ["--kernels", "--variants", "--executors", "--workers", "--repeats", "--target-time",
           "--timeout", "--size", "--out", "--report", "--resume", "--start-method", "--python"]
VALUES = ["primes", "sleep", "nope", "python", "cython-nogil", "all", "serial,threads", "threads",
          "1", "2", "0", "-1", "1,2", "1,,2", "300", "0.5", "nan", "inf", "1e-9", "x", "",
          "primes=3", "sleep=0", "sleep=4", "=", "fork", "spawn", "forkserver", "vfork",
          "--", "-", "@complete", "@broken", "@dir", "@new", "@missing"]
# mostly option-value pairs (so that most lists get past argparse), some flags and strays
ARGV = st.lists(st.one_of(
    st.tuples(st.sampled_from(OPTIONS), st.sampled_from(VALUES)).map(list),
    st.tuples(st.sampled_from(OPTIONS), st.sampled_from(VALUES)).map(list),
    st.sampled_from([["--quick"], ["--weak"]]),
    st.sampled_from(VALUES + OPTIONS).map(lambda token: [token]),
), max_size=5).map(lambda parts: [token for part in parts for token in part])


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=ARGV)
def test_any_argv_parses_or_fails_cleanly(argv, paths, capsys):
    argv = [paths[a[1:]] if a.startswith("@") else a for a in argv]
    parser = cli.build_parser()
    try:
        args = parser.parse_args(["run", *argv])
    except SystemExit as exc:
        assert exc.code in (0, 2)
        assert "Traceback" not in capsys.readouterr().err
        event("refused by argparse")
        return
    try:
        config, out, resumed, done = run.prepare(args)  # every check; nothing is measured
    except (UsageError, kernels.UnknownNameError) as exc:
        assert str(exc) and "\n" not in str(exc)
        event("refused with a UsageError")
        return
    event("accepted" + (" (resume)" if resumed is not None else ""))
    assert config.workers and all(1 <= w <= 256 for w in config.workers)
    assert config.repeats >= 1 and config.target_time_s > 0 and config.run_timeout_s > 0
    assert all(n >= 1 for n in config.sizes.values())
    assert set(config.kernels) <= set(kernels.names())
    assert set(config.executors) <= set(executors.names())
    assert not os.path.isdir(out)
    assert (resumed is None) == (args.resume is None)


# -- the matrix from Python (gilbench.measure_matrix) ------------------------------------------

def test_measure_matrix_writes_the_file_gilbench_run_writes(tmp_path, monkeypatch):
    """The public function measures the cells `gilbench run` plans, into a results file it
    and `gilbench report` read, with the options checked as the command line checks them."""
    import gilbench
    from gilbench.run.matrix import plan

    monkeypatch.setenv("GILBENCH_MAX_WAIT", "0")
    options = dict(kernels=["sleep"], variants=["python"], executors=["serial", "threads"],
                   workers=[1, 2], max_repeats=5, sizes={"sleep": 4})
    out = tmp_path / "api.json"
    doc = gilbench.measure_matrix(out, **options)
    on_disk = results.read(out)
    assert on_disk["finished"] and on_disk["cells"] == doc["cells"]
    assert on_disk["command"][0] == "python"
    planned = [spec.key for _, _, specs in plan(RunConfig.from_options(**options))
               for spec in specs]
    assert sorted(cell_key(c) for c in on_disk["cells"]) == sorted(planned)
    assert all(c["error"] is None for c in on_disk["cells"])
    with pytest.raises(UsageError, match="--workers"):
        gilbench.measure_matrix(tmp_path / "never.json", workers=[0])
    assert not (tmp_path / "never.json").exists()
    # one writer per file, as for `gilbench run`
    held = results.ResultsLock(tmp_path / "taken.json").acquire()
    try:
        with pytest.raises(results.ResultsError, match="being written by another gilbench run"):
            gilbench.measure_matrix(tmp_path / "taken.json", **options)
    finally:
        held.release()
    assert not (tmp_path / "taken.json").exists()
