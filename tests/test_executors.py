"""Executors: each computes exactly what serial computes; a fault (a crash, a hang) fails the
run with its cause; ``abort()`` and an interrupted group leave no worker process behind.

Process executors use forkserver (else spawn) here: forking the multi-threaded pytest process
is unsafe and warns on 3.12+. Tests with the fault kernels use spawn, because a forkserver
started earlier in the session would not see the test kernels' module and environment.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from gilbench import executors, kernels
from gilbench.executors import WorkerDied
from gilbench.executors.base import RunTimeout, lingering_threads
from gilbench.measure import CellSpec, measure_group

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # the fault kernels' module, for this process and spawned ones
    sys.path.insert(0, str(TESTS))

import faulty_kernel as fk  # noqa: E402

START = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
AVAILABLE = [n for n in executors.names() if not executors.get(n).unavailable_reason()]
PROCESS = [n for n in AVAILABLE if executors.get(n).uses_processes]
THREADS = ["threads", "thread-pool", "asyncio-to-thread"]
IN_CALLER = ["serial", "asyncio"]  # run chunks in the calling (main) thread


def _helpers(pids: set[int]) -> set[int]:
    # multiprocessing's own long-lived helpers, started once per test session
    return {p for p in pids
            if ("multiprocessing.forkserver" in fk.cmdline(p) and fk.parent(p) == os.getpid())
            or "resource_tracker" in fk.cmdline(p)}


@pytest.fixture
def no_leftover_processes():
    """Fails the test if a process it started below this one is still running afterwards."""
    before = fk.live_descendants(os.getpid())
    yield

    def extra() -> dict[int, str]:
        now = fk.live_descendants(os.getpid()) - before
        return {p: fk.cmdline(p) for p in now - _helpers(now)}

    left = fk.wait_until_gone(extra, timeout_s=5)
    assert not left, f"worker processes left behind: {left}"


@pytest.fixture
def fault_kernels(monkeypatch):
    """Registers the fault kernels (here and in spawned workers); hangs last 10 s at most."""
    monkeypatch.setenv("GILBENCH_EXTRA_KERNELS", fk.extra_kernels())
    monkeypatch.setenv(fk.HANG_ENV, "10")
    monkeypatch.delenv(fk.WHERE_ENV, raising=False)
    return fk


def _start_method(name: str, method: str) -> str | None:
    return method if executors.get(name).uses_processes else None


CASES = [("primes", "python"), ("primes", "cython-nogil"), ("sleep", "python")]


@pytest.mark.parametrize("executor", AVAILABLE)
@pytest.mark.parametrize("kernel_name,variant", CASES, ids=[f"{k}-{v}" for k, v in CASES])
def test_executor_computes_what_serial_computes(executor, kernel_name, variant,
                                                no_leftover_processes):
    kernel = kernels.get(kernel_name)
    if not kernel.variant(variant).available:
        pytest.skip(kernel.variant(variant).reason)
    size, n_chunks = kernel.verify_size, 6
    expected = kernel.run(variant, size, n_chunks)
    chunks = kernel.split(size, n_chunks)
    # (the Cython twins of primes and sleep declare subinterpreter support: they run there too)
    with kernel.session():
        with executors.get(executor)(kernel_name, variant, 2, size,
                                     _start_method(executor, START), timeout_s=60) as ex:
            cold = ex.run(chunks)
            warm = ex.run(chunks)
    for result in (cold, warm):
        assert len(result.partials) == n_chunks
        assert kernel.agrees(kernel.reduce(result.partials), expected)
        assert result.cpu_s >= 0


@pytest.mark.parametrize("executor,fault,cause", [
    ("process-pool", "segfault", "BrokenProcessPool: worker pid \\d+ was killed by SIGSEGV"),
    ("asyncio-process", "segfault", "BrokenProcessPool: worker pid \\d+ was killed by SIGSEGV"),
    ("processes", "segfault", "WorkerDied: worker pid \\d+ was killed by SIGSEGV"),
    ("process-pipe", "segfault", "WorkerDied: worker pid \\d+ was killed by SIGSEGV"),
    ("process-pool", "exit", "BrokenProcessPool: worker pid \\d+ exited with code 3"),
    ("process-pipe", "exit", "WorkerDied: worker pid \\d+ exited with code 3"),
    ("processes", "kill", "WorkerDied: worker pid \\d+ was killed by SIGKILL"),
])
def test_dead_worker_fails_the_run_with_its_cause(executor, fault, cause, fault_kernels,
                                                  no_leftover_processes):
    ex = executors.get(executor)(f"fault-{fault}", "python", 2, 100, "spawn", timeout_s=60)
    try:
        ex.start()
        with pytest.raises((BrokenProcessPool, WorkerDied)) as info:
            ex.run(fk.split(100, 4))
    finally:
        ex.abort()
    assert info.match(cause.split(": ", 1)[1])
    assert type(info.value).__name__ == cause.split(":")[0]


def _expected_timeout_text(executor: str) -> str:
    # the engines (joblib, Dask) start their worker processes themselves (no start method) but
    # stop them alike; their thread flavours stop threads alike
    family = executors.get(executor).family
    if executor in PROCESS or family == "processes":
        return "worker process(es)? (was|were) terminated"
    if executor in THREADS or family == "threads":
        return "2 worker threads stopped"
    return "interrupted"


@pytest.mark.slow
@pytest.mark.parametrize("executor", AVAILABLE)
def test_hanging_run_times_out_and_is_stopped(executor, fault_kernels, monkeypatch,
                                              no_leftover_processes):
    monkeypatch.setenv(fk.WHERE_ENV, "everywhere")  # the main thread hangs too (serial, asyncio)
    # long enough for spawned workers (and the engines' threads) to be up and inside the hanging
    # task when time is up (beside other tests, one of Dask's two threads was still outside it
    # at 0.5 s, and in a CI run at 1 s); our own threads are there at once
    timeout = 0.25 if executor in THREADS + IN_CALLER else 2.0
    ex = executors.get(executor)("fault-hang", "python", 2, 100,
                                 _start_method(executor, "spawn"), timeout_s=timeout)
    try:
        ex.start()
        started = time.monotonic()
        with pytest.raises(RunTimeout) as info:
            ex.run(fk.split(100, 4))
        elapsed = time.monotonic() - started
    finally:
        ex.abort()
    assert info.match(f"did not finish within {timeout:g} s")
    assert info.match(_expected_timeout_text(executor))
    # stopped within the limit plus the grace given to workers (and spawn start-up), not 10 s
    assert elapsed < timeout + 4
    # a thread in a Python loop can be stopped: none is left running
    assert not lingering_threads(wait_s=2.0)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["threads", "thread-pool"])
def test_thread_blocked_in_c_is_abandoned_and_reported(executor, fault_kernels, monkeypatch):
    monkeypatch.setenv(fk.HANG_ENV, "1.5")  # the blocked threads end on their own soon after
    ex = executors.get(executor)("fault-block", "python", 2, 100, None, timeout_s=0.3)
    try:
        ex.start()
        with pytest.raises(RunTimeout) as info:
            ex.run(fk.split(100, 2))
        stuck = lingering_threads()
    finally:
        ex.abort()
    assert info.match("2 worker threads could not be stopped")
    assert info.match("abandoned")
    assert len(stuck) >= 2  # what the command line checks before it exits
    assert not lingering_threads(wait_s=5.0)


@pytest.mark.parametrize("executor", PROCESS)
def test_abort_after_start_leaves_no_worker(executor, no_leftover_processes):
    ex = executors.get(executor)("primes", "python", 2, 1000, START, timeout_s=60)
    ex.start()
    ex.run(kernels.get("primes").split(1000, 4))  # the pools start their workers on demand
    ex.abort()
    ex.abort()  # twice is harmless


def test_interrupted_group_stops_every_executor(no_leftover_processes):
    """A KeyboardInterrupt in the middle of a group (Ctrl-C) leaves no worker running."""
    names = ["serial", *[n for n in ("threads", "thread-pool", "process-pool", "processes")
                         if n in AVAILABLE]]
    specs = [CellSpec("primes", "python", n, 1 if n == "serial" else 2, 2000, 8,
                      _start_method(n, START)) for n in names]
    runs = []

    def on_run(spec, raw):
        runs.append(spec.executor)
        if len(runs) == len(specs) + 2:  # every executor is up, and in its warm runs
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure_group(specs, 3, on_run=on_run, timeout_s=60)
    assert len(runs) == len(specs) + 2
    assert not lingering_threads(wait_s=2.0)


def test_faults_are_cells_not_crashes(fault_kernels, no_leftover_processes):
    """In a group, the failing cells carry their error and the others are measured."""
    specs = [CellSpec("fault-exit", "python", n, 1 if n == "serial" else 2, 100, 4,
                      _start_method(n, "spawn"))
             for n in ("serial", "threads", "process-pool", "processes")]
    raws, _ = measure_group(specs, 2, timeout_s=60)
    by_executor = {key[2]: raw for key, raw in raws.items()}
    for name in ("serial", "threads"):  # the crash is armed in worker processes only
        raw = by_executor[name]
        # a busy host sets disturbed rounds aside (never counted): fewer kept rounds, said so
        assert raw.error is None and (len(raw.wall_s) == 2 or raw.disturbed), raw
    assert by_executor["process-pool"].error.startswith("BrokenProcessPool: worker pid")
    assert by_executor["processes"].error.startswith("WorkerDied: worker pid")
    for name in ("process-pool", "processes"):
        assert "exited with code 3" in by_executor[name].error
        assert not by_executor[name].timed_out and by_executor[name].wall_s == []


def test_worker_harness_keeps_chunk_order_and_reraises_the_first_error():
    from gilbench.executors._workers import ChunkQueue, start_and_join

    pull = ChunkQueue([(n,) for n in range(20)])

    def square(k: int) -> None:
        for i, (n,) in pull.items():
            pull.results[i] = (n * n, 0.5)

    assert pull.run(square, 3, time.monotonic() + 30, "harness-test") == []
    result = pull.result()
    assert result.partials == [n * n for n in range(20)] and result.cpu_s == 10.0

    pull = ChunkQueue([(n,) for n in range(20)], stop_on_error=True)

    def fail(k: int) -> None:
        for i, _ in pull.items():
            raise ValueError(f"chunk {i}")

    pull.run(fail, 2, None, "harness-test")
    with pytest.raises(ValueError, match="chunk"):
        pull.result()
    assert not pull.tasks.empty()  # the others took no chunk after the first failure

    release = threading.Event()
    alive = start_and_join(lambda k: release.wait(), 2, time.monotonic() + 0.1, "harness-test")
    assert [t.name for t in alive] == ["harness-test-0", "harness-test-1"]
    release.set()
