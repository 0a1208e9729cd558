"""Placement (``--pin``, ``--core-type``): the CPUs chosen from fixture topologies, the ceiling
that follows them, the errors, and on this host that pinned workers really run on the CPUs
chosen and that every cell records where its workers ran."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from gilbench import host, kernels, placement, verdicts
from gilbench.errors import UsageError
from gilbench.executors import asyncio_, interpreters, processes, serial, threads
from gilbench.measure import CellSpec, measure_group
from gilbench.report import analysis
from gilbench.run.config import RunConfig
from gilbench.run.matrix import start_document
from gilbench.summary import summarize

sys.path.insert(0, str(Path(__file__).parent / "data" / "topology"))
import make_topology  # noqa: E402  (the fixture generator lives beside its data)

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"),
                                reason="no os.sched_setaffinity here: nothing can be pinned")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, host.Topology]:
    root = tmp_path_factory.mktemp("topology")
    return {name: host.read_topology(*make_topology.write(name, root / name))
            for name in make_topology.shapes()}


def test_smt_laptop_pins_one_cpu_per_physical_core(shapes) -> None:
    t = shapes["laptop-8c16t"]  # core i is CPUs i and i+8
    p = placement.choose(t, "physical")
    assert p.cpus == tuple(range(8))
    assert [sorted(p.cpus_for(w)) for w in (0, 7, 8, 9)] == [[0], [7], [0], [1]]
    # pinned one per core: no SMT sibling is used, so none is counted in the ceiling
    assert (p.ceiling(t).cores, p.ceiling(t).threads) == (8.0, 0)
    assert (t.ceiling.cores, t.ceiling.threads) == (8.0, 16)
    assert p.record(10)["cpus"] == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]
    assert "pinned one per physical core" in p.text() and "CPUs 0-7" in p.text()


def test_hybrid_efficiency_cores(shapes) -> None:
    t = shapes["hybrid-6p8e"]  # P cores: CPUs 0-11 in sibling pairs; E cores: 12-19
    for pin in ("none", "physical"):
        p = placement.choose(t, pin, "efficiency")
        assert p.cpus == tuple(range(12, 20))
        assert (p.ceiling(t).cores, p.ceiling(t).threads) == (8.0, 0)
        assert "efficiency" in p.text()
    assert p.record(2)["cpus"] == [12, 13]
    loose = placement.choose(t, "none", "efficiency")
    assert loose.cpus_for(5) == frozenset(range(12, 20))
    assert loose.record(3) == {"pin": "none", "core_type": "efficiency",
                               "cpus": list(range(12, 20)), "per_worker": False}


def test_hybrid_performance_cores_with_and_without_siblings(shapes) -> None:
    t = shapes["hybrid-6p8e"]
    loose = placement.choose(t, "none", "performance")
    assert loose.cpus == tuple(range(12))
    assert (loose.ceiling(t).cores, loose.ceiling(t).threads) == (6.0, 12)
    pinned = placement.choose(t, "physical", "performance")
    assert pinned.cpus == (0, 2, 4, 6, 8, 10)
    assert (pinned.ceiling(t).cores, pinned.ceiling(t).threads) == (6.0, 0)


def test_unknown_core_type_lists_the_valid_ones(shapes) -> None:
    with pytest.raises(UsageError, match="valid core types: efficiency, performance"):
        placement.choose(shapes["hybrid-6p8e"], "physical", "big")
    with pytest.raises(UsageError, match="reports no core types"):
        placement.choose(shapes["laptop-8c16t"], "none", "efficiency")
    with pytest.raises(UsageError, match="--pin takes none or physical"):
        placement.choose(shapes["laptop-8c16t"], "cores")


def test_affinity_mask_and_quota_are_kept(shapes) -> None:
    t = shapes["container-1.5"]  # 8c/16t, mask CPUs 0-2, quota 1.5
    p = placement.choose(t, "physical")
    assert p.cpus == (0, 1, 2)
    assert p.ceiling(t).cores == 1.5 and p.ceiling(t).source == "quota"


def test_default_places_nothing(shapes) -> None:
    p = placement.choose(shapes["laptop-8c16t"])
    assert not p.active and p.cpus_for(0) is None
    assert p.ceiling(shapes["laptop-8c16t"]) == shapes["laptop-8c16t"].ceiling
    assert p.record(4)["cpus"] is None and "not asked" in p.record(4)["why"]


def test_info_line_names_the_choices(shapes) -> None:
    assert placement.choices_line(shapes["hybrid-6p8e"]) == (
        "--pin physical: CPUs 0,2,4,6,8,10,12-19; --core-type: efficiency, performance")
    assert placement.choices_line(shapes["laptop-8c16t"]).endswith(
        "--core-type: none (the cores are all alike)")


def test_no_sched_setaffinity_is_an_error(shapes, monkeypatch) -> None:
    monkeypatch.delattr(os, "sched_setaffinity")
    with pytest.raises(UsageError, match="no os.sched_setaffinity"):
        placement.choose(shapes["laptop-8c16t"], "physical")
    assert not placement.choose(shapes["laptop-8c16t"]).active  # the default still runs
    assert "no os.sched_setaffinity" in placement.choices_line(shapes["laptop-8c16t"])


def test_core_type_sets_the_ceiling_the_run_judges_by(shapes, monkeypatch) -> None:
    """--core-type efficiency on a 6P+8E host: C = the 8 E cores (not 14), so 8 E cores' worth
    of speedup at 16 workers is parallel, and the default counts climb to 8, not to 14 or 20."""
    monkeypatch.setattr(host, "_TOPOLOGY", shapes["hybrid-6p8e"])
    config = RunConfig.from_options(kernels=["primes"], executors=["serial", "threads"],
                                    core_type="efficiency")
    assert config.placement.cpus == tuple(range(12, 20))
    assert (config.ceiling.cores, config.ceiling.threads) == (8.0, 0)
    assert 8 in config.workers and not {14, 20} & set(config.workers)  # 14 cores, 20 threads
    cell = {"kernel": "k", "variant": "cython-nogil", "executor": "threads", "family": "threads",
            "kind": "cpu", "workers": 16, "cpu_utilization": 8.0, "error": None,
            "speedup": {"median": 7.6, "low": 7.4, "high": 7.8}}
    assert verdicts.judge(cell, config.ceiling).code == "parallel"
    assert verdicts.judge(cell, host.ceiling()).code == "partial"  # what 14 cores say
    with pytest.raises(UsageError, match="valid core types: efficiency, performance"):
        RunConfig.from_options(kernels=["primes"], core_type="little")


def test_executors_that_cannot_pin_are_refused() -> None:
    with pytest.raises(UsageError, match="cannot pin their workers .joblib-threads: joblib"):
        RunConfig.from_options(kernels=["primes"], executors=["serial", "joblib-threads"],
                               workers=[2], pin="physical")


def test_default_config_keeps_the_hosts_ceiling() -> None:
    config = RunConfig.from_options(kernels=["primes"], workers=[2])
    assert not config.placement.active and config.ceiling == host.ceiling()
    again = RunConfig.from_dict(config.as_dict())
    assert (again.pin, again.core_type) == ("none", None)


# -- on this host ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def here() -> placement.Placement:
    p = placement.choose(host.topology(), "physical")
    if len(p.cpus) < 2:
        pytest.skip(f"pinning needs 2 physical cores in the affinity mask, this one has "
                    f"{len(p.cpus)}")
    return p


def _reporting_affinity(barrier: threading.Barrier | None):
    """A stand-in for ``timed_task`` that returns the calling thread's own CPU mask (Linux
    gives a thread's own, not the process's); with a barrier, each worker takes one chunk."""
    def task(kernel_name, variant_name, chunk):
        if barrier is not None:
            barrier.wait(timeout=10)
        return sorted(os.sched_getaffinity(0)), 0.0
    return task


@pytest.mark.parametrize("module, name", [(threads, "ThreadsExecutor"),
                                          (threads, "ThreadPoolExecutorRunner"),
                                          (asyncio_, "AsyncioToThreadExecutor")])
def test_pinned_threads_run_on_the_cpus_chosen(here, monkeypatch, module, name) -> None:
    workers = len(here.cpus)
    monkeypatch.setattr(module, "timed_task", _reporting_affinity(threading.Barrier(workers)))
    before = os.sched_getaffinity(0)
    with getattr(module, name)("primes", "python", workers, 100, placement=here) as ex:
        result = ex.run([(i,) for i in range(workers)])
    assert sorted(map(tuple, result.partials)) == [(c,) for c in here.cpus]
    assert os.sched_getaffinity(0) == before  # the calling thread was not moved


@pytest.mark.skipif(interpreters.InterpretersExecutor.unavailable_reason() != ""
                    or interpreters._backend() != "interpreters",
                    reason="needs 3.13's _interpreters (the threads that run subinterpreters)")
def test_pinned_subinterpreter_threads(here, monkeypatch) -> None:
    """A subinterpreter's code runs in the OS thread that calls exec: each driving thread's
    own mask, read right after it pinned itself, is its worker's CPU."""
    seen: list[tuple[int, ...]] = []

    def pin_and_look(cpus):
        placement.pin_thread(cpus)
        seen.append(tuple(sorted(os.sched_getaffinity(0))))

    monkeypatch.setattr(interpreters, "pin_thread", pin_and_look)
    workers = len(here.cpus)
    with interpreters.InterpretersExecutor("primes", "python", workers, 1000,
                                           placement=here) as ex:
        ex.run(kernels.get("primes").split(1000, workers))
    assert sorted(seen) == [(c,) for c in here.cpus]


def test_serial_baseline_runs_on_worker_zeros_cpu(here, monkeypatch) -> None:
    monkeypatch.setattr(serial, "timed_task", _reporting_affinity(None))
    before = os.sched_getaffinity(0)
    with serial.SerialExecutor("primes", "python", 1, 100, placement=here) as ex:
        assert ex.run([(0,)]).partials == [[here.cpus[0]]]
    assert os.sched_getaffinity(0) == before  # given back after the run


@pytest.mark.parametrize("name", ["ProcessPoolRunner", "ProcessesExecutor", "ProcessPipeExecutor"])
def test_pinned_worker_processes(here, name) -> None:
    workers = len(here.cpus)
    ex = getattr(processes, name)("primes", "python", workers, 1000, placement=here)
    with ex:
        ex.run(kernels.get("primes").split(1000, workers))
        procs = processes.pool_processes(ex.pool) if hasattr(ex, "pool") else ex.procs
        pids = [p.pid for p in procs]
        # a worker process's main thread (its task thread) has the process's id; a worker that
        # got no chunk may still be starting: it pins itself before it takes any
        wanted = [(c,) for c in here.cpus]
        deadline = time.monotonic() + 10
        while True:
            seen = sorted(tuple(os.sched_getaffinity(pid)) for pid in pids)
            if seen == wanted or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert seen == wanted


def test_cells_record_their_placement(here) -> None:
    specs = [CellSpec("primes", "python", "serial", 1, 2000, 4, placement=here),
             CellSpec("primes", "python", "threads", 2, 2000, 4, placement=here),
             CellSpec("primes", "python", "thread-pool", 2, 2000, 4)]
    raws, _ = measure_group(specs, 1, noise_check=False, timeout_s=60)
    base = raws[specs[0].key]
    cells = {s.executor: summarize(s, raws[s.key], base, kernels.get("primes"),
                                   usable_cores=here.ceiling(host.topology())) for s in specs}
    assert all(c["error"] is None for c in cells.values())
    assert cells["serial"]["placement"]["cpus"] == [here.cpus[0]]
    assert cells["threads"]["placement"]["cpus"] == list(here.cpus[:2])
    assert cells["thread-pool"]["placement"]["cpus"] is None  # not asked: says why
    assert "not asked" in cells["thread-pool"]["placement"]["why"]


def test_run_records_placement_in_host_section_and_rule(here) -> None:
    config = RunConfig.from_options(kernels=["primes"], executors=["serial", "threads"],
                                    workers=[2], pin="physical")
    doc = start_document(config, ["gilbench", "run", "--pin", "physical"])
    assert doc["host"]["placement"]["cpus"] == list(here.cpus)
    assert doc["config"]["pin"] == "physical"
    assert doc["host"]["ceiling"]["threads"] == 0  # one CPU per core: no siblings
    assert "pinned one per physical core" in analysis.ceiling_rule(doc)
