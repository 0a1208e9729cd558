"""Results on stdout, progress and diagnostics on stderr, for every command; the progress line
says no time left before it has the data to tell."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from gilbench.commands._terminal import time_left_column

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from cli_helpers import TINY, gilbench_streams  # noqa: E402

DATA = TESTS / "data"


@pytest.mark.slow
def test_run_prints_its_results_on_stdout_and_its_progress_on_stderr(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the path whole on one line, however deep tmp_path is
    out = tmp_path / "r.json"
    status, stdout, stderr = gilbench_streams(
        ["run", *TINY, "--out", str(out), "--report", str(tmp_path / "rep")], capsys)
    assert status == 0, stderr
    assert f"results: {out}" in stdout and "speedup at 2 workers" in stdout
    assert "report: " in stdout
    assert "gilbench run" in stderr and "cells" in stderr  # the start line and the progress
    assert "results:" not in stderr and "speedup at 2 workers" not in stderr


@pytest.mark.slow
def test_every_command_prints_its_results_on_stdout(tmp_path, capsys):
    for argv in (["info"], ["verify", "--kernels", "sleep"],
                 ["report", str(DATA / "real-primes-sleep.json"), "-o", str(tmp_path / "rep")],
                 ["compare", str(DATA / "synthetic-gil.json"), str(DATA / "synthetic-ft.json"),
                  "-o", str(tmp_path / "cmp")]):
        status, stdout, stderr = gilbench_streams(argv, capsys)
        # verify's GIL check may say MISMATCH on a loaded host (exit 1): its table still is
        # a result
        assert status == 0 or (argv[0] == "verify" and status == 1), (argv, stdout, stderr)
        assert stdout.strip(), argv[0]
        assert not stderr.strip(), (argv[0], stderr)


def _rendered(progress: Progress, task) -> str:
    column = progress.columns[-1]
    return column.render(progress.tasks[task]).plain


def test_time_left_is_unknown_until_a_few_cells_are_done():
    progress = Progress(time_left_column(min_done=3), console=Console(file=None, quiet=True))
    task = progress.add_task("cells", total=100)
    progress.start_task(task)
    assert _rendered(progress, task) == "left ?"
    for _ in range(2):
        time.sleep(0.05)
        progress.advance(task)
    assert _rendered(progress, task) == "left ?"  # rich alone says "0:00:0x" here
    time.sleep(0.05)
    progress.advance(task)
    assert _rendered(progress, task).startswith("left 0:")
