"""No worker process outlives gilbench, whatever kills it.

``gilbench run`` is started in a subprocess on a kernel whose tasks block in worker processes,
killed with SIGKILL once its workers are up (no clean-up code runs: what the OOM killer does),
and the process table is searched for every process it started -- found by a marker in their
environment, which each descendant inherits wherever it is re-parented.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gilbench import executors

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import faulty_kernel as fk  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads /proc; the parent-death signal is Linux's")


def _workers(marker: str, gilbench_pid: int) -> dict[int, str]:
    """The marked processes other than gilbench itself, the fork server and the resource
    tracker: the worker processes."""
    def helper(pid: int, cmd: str) -> bool:  # forkserver's children keep its command line
        return "resource_tracker" in cmd or ("forkserver" in cmd and fk.parent(pid) == gilbench_pid)

    return {pid: cmd for pid, cmd in fk.marked_processes(marker).items()
            if pid != gilbench_pid and not helper(pid, cmd)}


@pytest.mark.slow
@pytest.mark.parametrize("executor,start_method", [
    ("processes", "forkserver"),
    ("process-pipe", "forkserver"),
    ("process-pool", "forkserver"),
    ("asyncio-process", "forkserver"),
    ("process-pool", "spawn"),
    ("processes", "fork"),
    ("joblib-loky", "spawn"),
])
def test_sigkill_of_gilbench_leaves_no_worker_behind(executor, start_method, tmp_path):
    reason = executors.get(executor).unavailable_reason()
    if reason:
        pytest.skip(reason)
    mark = uuid.uuid4().hex
    marker = f"GILBENCH_TEST_MARK={mark}"
    env = {**os.environ, "GILBENCH_EXTRA_KERNELS": fk.extra_kernels("block"),
           fk.HANG_ENV: "120", "GILBENCH_TEST_MARK": mark,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gilbench", "run", "--kernels", "fault-block", "--executors",
         f"serial,{executor}", "--workers", "2", "--size", "fault-block=200", "--timeout", "300",
         "--start-method", start_method, "--out", str(tmp_path / "r.json")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        # the workers are up and blocked in their first task (the tasks sleep for 120 s)
        deadline = time.monotonic() + 60
        while len(_workers(marker, proc.pid)) < 2:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the workers did not start within 60 s"
            time.sleep(0.1)
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        left = fk.wait_until_gone(lambda: fk.marked_processes(marker), timeout_s=5)
        assert not left, f"processes left behind by a killed gilbench run: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in fk.marked_processes(marker):  # do not let a failure leave sleepers around
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if proc.stderr:
            proc.stderr.close()
