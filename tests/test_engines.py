"""The engines people grow into: joblib (loky, threads), Dask (LocalCluster with processes or
threads, and an existing scheduler with workers started as separate processes) and
InterpreterPoolExecutor. Real components only: a real LocalCluster on 127.0.0.1, a real
``dask scheduler`` and two ``dask worker`` processes on loopback. An engine that is not
installed here is skipped with the reason (which names the extra to install).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from gilbench import executors, kernels
from gilbench.executors import _engine, base
from gilbench.run.config import MAX_WAIT_ENV

NEW = ["joblib-loky", "joblib-threads", "dask-processes", "dask-threads", "interpreter-pool"]
SIZE = 30_000  # primes below 30 000: a few ms per run


def _skip_unless_available(name: str) -> None:
    reason = executors.get(name).unavailable_reason()
    if reason:
        pytest.skip(f"{name}: {reason}")


def _run(name: str, variant: str, workers: int, size: int = SIZE, runs: int = 2) -> tuple:
    """(results of ``runs`` runs reduced, the executor's facts)."""
    kernel = kernels.get("primes")
    if not kernel.variant(variant).available:
        pytest.skip(f"primes/{variant}: {kernel.variant(variant).reason}")
    chunks = kernel.split(size, 4 * workers)
    ex = executors.get(name)("primes", variant, workers, size, timeout_s=60)
    try:
        ex.start()
        values = [kernel.reduce(ex.run(chunks).partials) for _ in range(runs)]
        facts = ex.facts()
    except BaseException:
        ex.abort()
        raise
    ex.close()
    return values, facts


def test_registered_but_not_default() -> None:
    for name in NEW + ["dask"]:
        assert name in executors.names()
        assert name not in executors.DEFAULT


def test_engines_list_versions_or_install_command() -> None:
    listed = {name: (ok, version, reason) for name, ok, version, reason in executors.engines()}
    assert set(listed) == {"joblib", "dask", "interpreter-pool"}
    for name, (ok, version, reason) in listed.items():
        if ok:
            assert version and not reason
        else:
            assert version is None and reason
    ok, version, reason = listed["joblib"]
    assert (ok and version == _engine.version("joblib")) or 'pip install "gilbench[joblib]"' in reason


def test_missing_engine_names_the_install_command() -> None:
    reason = _engine.missing("gilbench_no_such_engine", "dask")
    assert reason == ('gilbench_no_such_engine is not installed; install it with: '
                      'pip install "gilbench[dask]"')
    assert _engine.missing("os", "dask") == ""


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("variant", ["python", "cython-nogil"])
@pytest.mark.parametrize("name", NEW)
def test_results_equal_serial(name: str, variant: str, workers: int) -> None:
    _skip_unless_available(name)
    # cython-nogil under interpreter-pool too: the primes twin declares subinterpreter support
    serial, _ = _run("serial", variant, 1, runs=1)
    values, facts = _run(name, variant, workers)
    assert values == serial * 2
    assert facts  # every engine says what ran (library, backend, workers)


@pytest.mark.parametrize("name", ["joblib-loky", "dask-processes"])
def test_process_workers_report_interpreter_and_environment(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _skip_unless_available(name)
    # inherited by worker processes started from here on (os.cpu_count() obeys it on 3.13+)
    monkeypatch.setenv("PYTHON_CPU_COUNT", "2")
    _, facts = _run(name, "python", 2, runs=1)
    workers = [w for w in facts["workers"] if w.get("pid") != os.getpid()]
    assert workers, f"no worker process reported: {facts['workers']}"
    for w in workers:
        assert w["python"] == ".".join(map(str, sys.version_info[:3]))
        assert w["python_cpu_count_env"] == "2"
        assert w["gil_enabled"] == (sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled")
                                    else None)


def test_gil_reenabled_in_a_worker_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a free-threaded build a worker thread whose GIL is on fails the run with the reason;
    the serial baseline (the calling thread) does not care."""
    _skip_unless_available("joblib-threads")
    monkeypatch.delenv("PYTHON_GIL", raising=False)
    monkeypatch.setattr(base.host, "gil_disabled_build", lambda: True)
    monkeypatch.setattr(base.host, "gil_enabled", lambda: True)
    assert _run("serial", "python", 1, runs=1)[0]
    with pytest.raises(base.GILReenabled, match="GIL was re-enabled in worker pid"):
        _run("joblib-threads", "python", 2, runs=1)
    monkeypatch.setenv("PYTHON_GIL", "1")  # asked for: measured with the GIL on, not a fault
    assert base.gil_reenabled_reason() is None


def test_interpreter_pool_names_its_backend() -> None:
    _skip_unless_available("interpreter-pool")
    _, facts = _run("interpreter-pool", "python", 1, runs=1)
    expected = ("concurrent.futures.InterpreterPoolExecutor" if sys.version_info >= (3, 14)
                else "_interpreters, the 3.13 subinterpreter path")
    assert facts["backend"].startswith(expected)


# -- Dask: losing a worker, an existing scheduler ---------------------------------------------

@pytest.mark.slow
def test_dask_worker_killed_mid_run_fails_the_run() -> None:
    _skip_unless_available("dask-processes")
    kernel = kernels.get("sleep")
    size = 3_000  # 3 s of 1 ms sleeps over 2 workers: the kill lands mid-run
    ex = executors.get("dask-processes")("sleep", "python", 2, size, timeout_s=60)
    try:
        ex.start()
        victim = ex.facts()["workers"][0]["pid"]
        threading.Timer(0.5, os.kill, (victim, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(executors.dask_.DaskWorkerLost, match="left the cluster"):
            ex.run(kernel.split(size, 8))
        assert time.monotonic() - t0 < 10
    finally:
        ex.abort()


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line_and_fast() -> None:
    pytest.importorskip("distributed", reason='distributed is not installed: '
                                              'pip install "gilbench[dask]"')
    from gilbench.executors import dask_

    for address in ("tcp://127.0.0.1:9", "nonsense-address::"):
        t0 = time.monotonic()
        with pytest.raises(dask_.DaskConnectError) as info:
            dask_.check_scheduler(address, timeout_s=2)
        assert time.monotonic() - t0 < 8, f"{address}: took {time.monotonic() - t0:.1f} s"
        message = str(info.value)
        assert "\n" not in message and address in message and "dask scheduler" in message


def _dask(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0],
                             *args[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `dask scheduler` and two `dask worker ADDRESS` processes on loopback; yields the
    scheduler's address and stops them all."""
    pytest.importorskip("distributed", reason='distributed is not installed: '
                                              'pip install "gilbench[dask]"')
    import json

    from gilbench.executors import dask_

    file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file))]
    try:
        deadline = time.monotonic() + 30
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline, "dask scheduler did not start in 30 s"
            assert procs[0].poll() is None, "dask scheduler exited"
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        env = {**os.environ, "PYTHON_CPU_COUNT": "2"}
        for k in range(2):
            procs.append(_dask("worker", address, "--nthreads", "1", "--no-nanny",
                               "--host", "127.0.0.1", "--no-dashboard", "--name", f"w{k}",
                               env=env))
        while len(dask_.check_scheduler(address)) < 2:
            assert time.monotonic() < deadline, "2 dask workers did not join in 30 s"
            time.sleep(0.2)
        yield address
    finally:
        # the workers first, then the scheduler: terminated together, a worker closing on
        # SIGTERM races the scheduler's "close" to it, and the worker that loses the race
        # cancels its own close half way and then hangs at exit until killed (seen: one or
        # both workers, 10 s each, in about half the runs); with the scheduler still up, each
        # worker leaves in a fraction of a second
        for group in (procs[1:], procs[:1]):
            for p in group:
                p.terminate()
            for p in group:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("variant", ["python", "cython-nogil"])
def test_existing_scheduler_equals_serial(dask_scheduler: str, variant: str, workers: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gilbench.executors import dask_

    monkeypatch.setenv(dask_.SCHEDULER_ENV, dask_scheduler)
    serial, _ = _run("serial", variant, 1, runs=1)
    values, facts = _run("dask", variant, workers)
    assert values == serial * 2
    assert facts["scheduler"] == dask_scheduler
    assert len(facts["workers"]) == 2  # the whole cluster is recorded, used or not
    assert sum(w["used"] for w in facts["workers"]) == workers
    for w in facts["workers"]:
        assert w["host"] == "127.0.0.1"
        if w["used"]:
            assert w["python_cpu_count_env"] == "2" and w["pid"] != os.getpid()


@pytest.mark.slow
def test_existing_scheduler_too_few_workers(dask_scheduler: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from gilbench.executors import dask_

    monkeypatch.setenv(dask_.SCHEDULER_ENV, dask_scheduler)
    with pytest.raises(RuntimeError, match="has 2 workers; 3 were asked for"):
        _run("dask", "python", 3, runs=1)


def test_no_scheduler_address_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    from gilbench.executors import dask_

    monkeypatch.delenv(dask_.SCHEDULER_ENV, raising=False)
    reason = executors.get("dask").unavailable_reason()
    assert "--dask-scheduler ADDRESS" in reason or "gilbench[dask]" in reason


@pytest.mark.slow
def test_break_even_puts_engines_beside_the_stdlib_pools() -> None:
    from gilbench.experiments import break_even

    data = break_even.run(True, task_us=(10, 300), kinds=("python",), workers=2, total_s=0.005,
                          max_tasks=40, repeats=1)
    ran, missing = data["engines"]["ran"], data["engines"]["unavailable"]
    assert set(ran) | set(missing) == set(break_even.ENGINES)
    assert all(reason for reason in missing.values())
    sweep = data["sweeps"]["python"]
    assert set(sweep["break_even"]) == {"thread-pool", "process-pool", *ran}
    assert all(p["results_agree"] for p in sweep["points"])
    for name in ("thread-pool", "process-pool", *ran):
        assert data["overhead_us"][name] > 0  # an empty task's round trip costs something
    assert {r["engine"] for r in data["rules_of_thumb"]} == {"dask", "ray", "joblib"}


# -- `gilbench run --dask-scheduler`: end to end ------------------------------------------------

def _gilbench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m gilbench ARGS`` without $GILBENCH_DASK_SCHEDULER: only the option counts."""
    from gilbench.executors import dask_

    env = {k: v for k, v in os.environ.items() if k != dask_.SCHEDULER_ENV}
    return subprocess.run([sys.executable, "-m", "gilbench", *args], capture_output=True,
                          text=True, timeout=timeout, env={**env, "COLUMNS": "200"})


@pytest.mark.slow
def test_run_on_an_existing_scheduler_records_its_workers(dask_scheduler: str, tmp_path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    # what the run records is under test, not its figures: no waiting for a quiet host
    monkeypatch.setenv(MAX_WAIT_ENV, "0")
    out = tmp_path / "cluster.json"
    proc = _gilbench("run", "--kernels", "primes", "--variants", "python",
                     "--executors", "serial,dask", "--workers", "1,2", "--quick",
                     "--dask-scheduler", dask_scheduler, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Dask scheduler {dask_scheduler}: 2 workers on 127.0.0.1" in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["dask_scheduler"] == dask_scheduler
    cells = {(c["executor"], c["workers"]): c for c in doc["cells"]}
    assert set(cells) == {("serial", 1), ("dask", 1), ("dask", 2)}
    for workers in (1, 2):
        cell = cells[("dask", workers)]
        assert cell["error"] is None and cell["result_ok"] is True
        # a connection kept between runs: cold vs warm (or why it is lost in their spread)
        assert cell["startup_s"] is not None or cell["startup_note"].startswith("not measurable")
        engine = cell["engine"]
        assert engine["engine"] == "dask" and engine["scheduler"] == dask_scheduler
        assert [w["host"] for w in engine["workers"]] == ["127.0.0.1", "127.0.0.1"]
        assert sum(w["used"] for w in engine["workers"]) == workers
        assert all(w["pid"] != doc["host"]["pid"] for w in engine["workers"] if w["used"])
    assert "engine" not in cells[("serial", 1)]  # serial has no facts to record


@pytest.mark.slow
def test_run_with_an_unreachable_scheduler_exits_2_fast(tmp_path) -> None:
    pytest.importorskip("distributed", reason='distributed is not installed: '
                                              'pip install "gilbench[dask]"')
    out = tmp_path / "never.json"
    t0 = time.monotonic()
    proc = _gilbench("run", "--kernels", "primes", "--executors", "serial,dask",
                     "--dask-scheduler", "tcp://127.0.0.1:9", "--out", str(out), timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 15, f"took {elapsed:.1f} s"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "tcp://127.0.0.1:9" in lines[0] and "dask scheduler" in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()  # nothing measured or written


def test_dask_executor_without_an_address_is_a_usage_error(tmp_path) -> None:
    proc = _gilbench("run", "--kernels", "primes", "--executors", "serial,dask",
                     "--out", str(tmp_path / "never.json"), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--dask-scheduler ADDRESS" in proc.stderr


def test_run_config_carries_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    from gilbench.run.options import run_config
    from gilbench.errors import UsageError
    from gilbench.executors import dask_
    from gilbench.run.config import RunConfig

    monkeypatch.delenv(dask_.SCHEDULER_ENV, raising=False)
    options = {"executors": "serial,dask", "dask_scheduler": "tcp://10.0.0.5:8786"}
    config = run_config(lambda name: options.get(name))
    assert config.dask_scheduler == "tcp://10.0.0.5:8786"
    again = RunConfig.from_dict(config.as_dict())
    assert again.dask_scheduler == config.dask_scheduler and again.executors == config.executors
    assert RunConfig.from_dict({**config.as_dict(), "dask_scheduler": None}).dask_scheduler is None
    with pytest.raises(ValueError, match="config.dask_scheduler"):
        RunConfig.from_dict({**config.as_dict(), "dask_scheduler": 8786})
    with pytest.raises(UsageError, match="--dask-scheduler"):
        RunConfig.from_options(executors=["serial", "dask"])
    # `--executors all` without an address measures every executor but `dask`
    config = run_config(lambda name: "all" if name == "executors" else None)
    assert "dask" not in config.executors and "dask-threads" in config.executors
