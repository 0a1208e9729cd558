"""The host's shape from fixture sysfs/cgroup trees: topology, ceiling, default worker counts,
the time estimate, and the verdicts of a synthetic curve against the physical cores."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gilbench import executors, host, kernels, verdicts
from gilbench.run import config, estimate

sys.path.insert(0, str(Path(__file__).parent / "data" / "topology"))
import make_topology  # noqa: E402  (the fixture generator lives beside its data)

#: shape -> (physical cores, threads per core, logical CPUs, NUMA nodes, core types, quota,
#:           ceiling cores, ceiling threads, default worker counts after fitting)
EXPECTED = {
    "vm-2core": (2, 1, 2, 1, {}, None, 2.0, 0, [1, 2, 4]),
    "laptop-8c16t": (8, 2, 16, 1, {}, None, 8.0, 16, [1, 2, 8, 16, 24]),
    "server-2x32c128t": (64, 2, 128, 2, {}, None, 64.0, 128, [1, 2, 64, 128]),
    "hybrid-6p8e": (14, 2, 20, 1, {"performance": 6, "efficiency": 8}, None, 14.0, 20,
                    [1, 2, 14, 20, 28]),
    "container-1.5": (8, 2, 16, 1, {}, 1.5, 1.5, 0, [1, 2, 4]),
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> dict[str, host.Topology]:
    root = tmp_path_factory.mktemp("topology")
    return {name: host.read_topology(*make_topology.write(name, root / name))
            for name in make_topology.shapes()}


def fitted(ceiling: verdicts.Ceiling) -> list[int]:
    return config.fitted_workers(kernels.names(), None, executors.DEFAULT, ceiling, False,
                                 config.DEFAULT_TARGET_S)


def default_estimate(counts: list[int], ceiling: verdicts.Ceiling) -> float:
    return estimate.estimate_s(kernels.names(), None, executors.DEFAULT, counts, ceiling,
                               config.DEFAULT_TARGET_S, config.DEFAULT_REPEATS,
                               config.DEFAULT_MAX_TIME_S)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_topology_read(shapes, name: str) -> None:
    t = shapes[name]
    cores, per_core, logical, nodes, types, quota, c_cores, c_threads, _ = EXPECTED[name]
    assert (t.physical_cores, t.threads_per_core, t.logical_cpus, t.numa_nodes) == (
        cores, per_core, logical, nodes)
    assert t.core_types() == types and t.quota == quota and t.source == "sysfs"
    assert (t.ceiling.cores, t.ceiling.threads) == (c_cores, c_threads)
    # every logical CPU belongs to exactly one core
    assert sorted(c for core in t.cores for c in core.cpus) == list(range(logical))


def test_host_lines(shapes) -> None:
    assert shapes["vm-2core"].line() == "2 cores, no SMT, no quota"
    assert shapes["laptop-8c16t"].line() == "8 cores × 2 threads, no quota"
    assert shapes["hybrid-6p8e"].line() == ("14 cores, 20 threads, 6 performance + 8 efficiency, "
                                            "no quota")
    assert shapes["server-2x32c128t"].line() == ("64 cores × 2 threads, 2 packages, "
                                                 "2 NUMA nodes, no quota")
    assert shapes["container-1.5"].line() == ("8 cores × 2 threads, affinity 3 of 16 CPUs, "
                                              "quota 1.5")
    assert "the CPU quota" in shapes["container-1.5"].ceiling.text()


def test_hybrid_cores_carry_their_type_and_frequency(shapes) -> None:
    cores = shapes["hybrid-6p8e"].cores
    perf = [c for c in cores if c.core_type == "performance"]
    assert [c.cpus for c in perf] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)]
    assert {c.max_freq_khz for c in perf} == {4700000}
    assert {c.max_freq_khz for c in cores if c.core_type == "efficiency"} == {3500000}


def test_affinity_counts_the_physical_cores_it_touches(tmp_path) -> None:
    sysfs, cgroup, _ = make_topology.write("laptop-8c16t", tmp_path)
    siblings = host.read_topology(sysfs, cgroup, [0, 8])  # one core's two threads
    assert siblings.ceiling == verdicts.Ceiling(1.0, 2, "sysfs")
    spread = host.read_topology(sysfs, cgroup, [0, 1, 2])
    assert spread.ceiling == verdicts.Ceiling(3.0, 0, "sysfs")


def test_cgroup_v1_quota_is_a_fraction(tmp_path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("250000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert host.cgroup_cpu_quota(tmp_path) == 2.5


def test_off_linux_falls_back_to_logical_cpus_and_says_so(tmp_path) -> None:
    t = host.read_topology(tmp_path / "no-sys", tmp_path / "no-cgroup", sysctl={})
    assert t.source == "logical CPUs only"
    assert t.physical_cores == host.logical_cores()
    assert "logical CPUs counted as cores" in t.line()


def test_macos_perflevels(tmp_path) -> None:
    t = host.read_topology(tmp_path / "no-sys", tmp_path / "no-cgroup", affinity=None,
                           sysctl={"hw.physicalcpu": 10, "hw.logicalcpu": 10,
                                   "hw.perflevel0.physicalcpu": 8,
                                   "hw.perflevel1.physicalcpu": 2})
    assert t.source == "sysctl" and t.core_types() == {"performance": 8, "efficiency": 2}
    assert t.line() == "10 cores, no SMT, 8 performance + 2 efficiency, no quota"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_default_worker_counts_fit_six_minutes(shapes, name: str) -> None:
    ceiling = shapes[name].ceiling
    counts = fitted(ceiling)
    assert counts == EXPECTED[name][-1]
    assert default_estimate(counts, ceiling) <= estimate.LIMIT_S


def test_this_vm_keeps_todays_defaults(shapes) -> None:
    vm = shapes["vm-2core"].ceiling
    assert config.default_workers(vm) == [1, 2, 4]
    assert config.default_workers(vm, quick=True) == [1, 2]
    assert config.default_workers(2) == [1, 2, 4]  # a bare count, as older callers pass


def test_big_hosts_drop_ladder_points_to_fit(shapes) -> None:
    """Without fitting the 64-core ladder would run well past the limit: the test of the
    fitting is not vacuous."""
    server = shapes["server-2x32c128t"].ceiling
    full = estimate.ladder(server)
    assert full == [1, 2, 4, 8, 16, 32, 64, 128, 136]
    assert default_estimate(full, server) > estimate.LIMIT_S


def synthetic_cell(workers: int, physical: float, threads: int) -> dict:
    """Perfect scaling up to the physical cores, flat after; CPU busy on every thread used."""
    speedup = min(workers, physical)
    util = min(workers, max(threads, physical))
    return {"kernel": "k", "variant": "cython-nogil", "executor": "threads",
            "family": "threads", "kind": "cpu", "workers": workers, "cpu_utilization": util,
            "speedup": {"median": speedup, "low": 0.97 * speedup, "high": 1.02 * speedup},
            "error": None}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_synthetic_curve_is_parallel_on_physical_cores(shapes, name: str) -> None:
    t = shapes[name]
    ceiling = t.ceiling
    for w in fitted(ceiling):
        v = verdicts.judge(synthetic_cell(w, ceiling.cores, ceiling.threads), ceiling)
        if w == 1:
            assert v.code == "concurrent"
            continue
        assert v.code == "parallel", (name, w, v)
        smt = ceiling.threads > ceiling.cores and w > ceiling.cores
        assert ("(SMT)" in v.label) == smt, (name, w, v.label)


def test_smt_host_judged_by_logical_cpus_would_say_partial(shapes) -> None:
    """The bug this fixes: 8 cores' worth of speedup at 16 workers judged against 16 cores."""
    cell = synthetic_cell(16, 8.0, 16)
    assert verdicts.judge(cell, 16).code == "partial"
    assert verdicts.judge(cell, shapes["laptop-8c16t"].ceiling).label == "parallel (SMT)"


def test_smt_cannot_make_a_flat_curve_look_parallel(shapes) -> None:
    """Flat at half the cores beyond them stays partial, SMT or not."""
    cell = synthetic_cell(16, 4.0, 16)
    v = verdicts.judge(cell, shapes["laptop-8c16t"].ceiling)
    assert v.code == "partial" and v.label == "partial (SMT)"


def test_fractional_quota_has_no_gap_between_regions() -> None:
    ceiling = verdicts.Ceiling(1.5, source="quota")
    for median in (1.15, 1.3, 1.45, 1.6):
        cell = synthetic_cell(2, 1.5, 2)
        cell["speedup"] = {"median": median, "low": median - 0.01, "high": median + 0.01}
        assert verdicts.judge(cell, ceiling).code in ("parallel", "above-cores")
    cell["speedup"] = {"median": 1.8, "low": 1.75, "high": 1.85}
    assert verdicts.judge(cell, ceiling).code == "above-cores"
