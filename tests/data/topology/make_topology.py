"""Write fixture sysfs and cgroup trees for real host shapes (used by tests/test_topology.py).

The layout follows the kernel's documentation: Documentation/ABI/stable/sysfs-devices-system-cpu
and Documentation/admin-guide/cputopology.rst (``cpuN/topology/core_cpus_list``,
``thread_siblings_list``, ``physical_package_id``), ``cpuN/cpu_capacity``,
``cpuN/cpufreq/cpuinfo_max_freq``, ``devices/system/node/online``, the hybrid PMUs
``/sys/devices/cpu_core/cpus`` and ``/sys/devices/cpu_atom/cpus`` (Intel Alder Lake and later),
and cgroup v2 ``cpu.max`` / v1 ``cpu/cpu.cfs_quota_us``. CPU numbering as those machines number
them: first threads of every core, then the siblings (Intel client and server parts); a hybrid
part numbers each P core's two threads next to each other, then the E cores.

    python tests/data/topology/make_topology.py DIR    # writes DIR/<shape>/{sys,cgroup}
"""

from __future__ import annotations

import sys
from pathlib import Path


def _cpulist(cpus: list[int]) -> str:
    """The kernel's cpulist format ("0-3,8")."""
    out, run = [], []
    for c in sorted(cpus):
        if run and c != run[-1] + 1:
            out.append(run)
            run = []
        run.append(c)
    if run:
        out.append(run)
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in out)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def _cores(packages: int, cores_per_package: int, threads: int) -> list[tuple[int, list[int]]]:
    """(package, sibling CPUs) per core: first threads numbered first, then the siblings."""
    n = packages * cores_per_package
    return [(core // cores_per_package, [core + t * n for t in range(threads)])
            for core in range(n)]


#: shape -> (cores as (package, cpus), NUMA nodes, cpu.max or v1 quota, hybrid, max kHz, affinity)
def shapes() -> dict[str, dict]:
    hybrid = [(0, [2 * i, 2 * i + 1]) for i in range(6)] + [(0, [12 + i]) for i in range(8)]
    return {
        "vm-2core": dict(cores=_cores(1, 2, 1), nodes=1, cgroup_v1=(-1, 100000),
                         capacity=1024, affinity=[0, 1]),
        "laptop-8c16t": dict(cores=_cores(1, 8, 2), nodes=1, cpu_max="max 100000",
                             freq_khz=4800000, affinity=list(range(16))),
        "server-2x32c128t": dict(cores=_cores(2, 32, 2), nodes=2, cpu_max="max 100000",
                                 freq_khz=3700000, affinity=list(range(128))),
        "hybrid-6p8e": dict(cores=hybrid, nodes=1, cpu_max="max 100000",
                            hybrid=(list(range(12)), list(range(12, 20))),
                            freq_khz=(4700000, 3500000), affinity=list(range(20))),
        "container-1.5": dict(cores=_cores(1, 8, 2), nodes=1, cpu_max="150000 100000",
                              freq_khz=3000000, affinity=[0, 1, 2]),
    }


def write(name: str, root: Path) -> tuple[Path, Path, list[int]]:
    """Write shape ``name`` under ``root``: (sysfs root, cgroup root, affinity mask)."""
    shape = shapes()[name]
    sysfs, cgroup = root / "sys", root / "cgroup"
    base = sysfs / "devices" / "system" / "cpu"
    every = sorted(c for _, cpus in shape["cores"] for c in cpus)
    _write(base / "online", _cpulist(every))
    _write(base / "possible", _cpulist(every))
    perf, eff = shape.get("hybrid", ([], []))
    for core_id, (package, cpus) in enumerate(shape["cores"]):
        for cpu in cpus:
            top = base / f"cpu{cpu}" / "topology"
            _write(top / "core_cpus_list", _cpulist(cpus))
            _write(top / "thread_siblings_list", _cpulist(cpus))
            _write(top / "physical_package_id", str(package))
            _write(top / "core_id", str(core_id))
            if "capacity" in shape:
                _write(base / f"cpu{cpu}" / "cpu_capacity", str(shape["capacity"]))
            freq = shape.get("freq_khz")
            if isinstance(freq, tuple):
                freq = freq[0] if cpu in perf else freq[1]
            if freq:
                _write(base / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq", str(freq))
    _write(sysfs / "devices" / "system" / "node" / "online", _cpulist(list(range(shape["nodes"]))))
    if perf:
        _write(sysfs / "devices" / "cpu_core" / "cpus", _cpulist(perf))
        _write(sysfs / "devices" / "cpu_atom" / "cpus", _cpulist(eff))
    if "cpu_max" in shape:
        _write(cgroup / "cpu.max", shape["cpu_max"])
    else:
        quota, period = shape["cgroup_v1"]
        _write(cgroup / "cpu" / "cpu.cfs_quota_us", str(quota))
        _write(cgroup / "cpu" / "cpu.cfs_period_us", str(period))
    return sysfs, cgroup, shape["affinity"]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_topology.py DIR  (writes DIR/<shape>/sys and DIR/<shape>/cgroup)")
    for shape_name in shapes():
        write(shape_name, Path(sys.argv[1]) / shape_name)
