"""Host metadata: CPU, topology (physical cores, SMT siblings, core types, NUMA), usable cores
(affinity and cgroup quota) and the speedup ceiling, interpreter build, GIL state."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gilbench import gilguard
from gilbench.gilguard import load_extension
from gilbench.verdicts import Ceiling


def logical_cores() -> int:
    """Logical CPUs the OS reports (not all may be usable by this process)."""
    return os.cpu_count() or 1


def affinity_cores() -> int:
    """CPUs in this process's affinity mask (logical cores where there is no mask)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return logical_cores()


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup CPU quota in cores (v2 ``cpu.max`` or v1 ``cfs_quota/period``), None if unlimited."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def parse_cpu_list(text: str) -> list[int]:
    """The CPUs of a kernel cpulist ("0-3,8,10-11"), sorted; [] for an empty list."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return sorted(cpus)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


@dataclass(frozen=True)
class Core:
    """One physical core: its package (socket), its logical CPUs (the SMT siblings), and what
    the OS says of it: ``core_type`` ("performance"/"efficiency" on hybrid hosts, else None),
    ``capacity`` (Linux ``cpu_capacity``, 1024 = the fastest) and ``max_freq_khz``."""

    package: int
    cpus: tuple[int, ...]
    core_type: str | None = None
    capacity: int | None = None
    max_freq_khz: int | None = None


@dataclass(frozen=True)
class Topology:
    """The host's shape as this process sees it: every online core (``cores``), the CPUs in the
    affinity mask, the cgroup CPU quota in cores (a fraction, None: unlimited), NUMA nodes, and
    where the facts came from (``source``: "sysfs", "sysctl" or "logical CPUs only", with a
    ``note`` saying what could not be read)."""

    cores: tuple[Core, ...]
    affinity: tuple[int, ...]
    quota: float | None = None
    numa_nodes: int = 1
    source: str = "sysfs"
    note: str | None = None
    cpus: tuple[int, ...] = field(default=())  # every online logical CPU

    @property
    def logical_cpus(self) -> int:
        return len(self.cpus) or sum(len(c.cpus) for c in self.cores)

    @property
    def physical_cores(self) -> int:
        return len(self.cores)

    @property
    def threads_per_core(self) -> int:
        """The most hardware threads (SMT siblings) of one core (1: no SMT)."""
        return max((len(c.cpus) for c in self.cores), default=1)

    @property
    def available_cores(self) -> tuple[Core, ...]:
        """The physical cores with at least one CPU in the affinity mask."""
        mask = set(self.affinity)
        return tuple(c for c in self.cores if mask.intersection(c.cpus))

    @property
    def available_threads(self) -> int:
        """The logical CPUs in the affinity mask."""
        return len(self.affinity)

    def core_types(self, cores: Iterable[Core] | None = None) -> dict[str, int]:
        """How many cores of each type ({} on a host whose cores are all alike)."""
        counts: dict[str, int] = {}
        for c in self.cores if cores is None else cores:
            if c.core_type:
                counts[c.core_type] = counts.get(c.core_type, 0) + 1
        return counts

    @property
    def ceiling(self) -> Ceiling:
        """What a CPU-bound speedup can reach: the physical cores in the affinity mask, capped
        by the quota (kept as a fraction, at least 1); SMT siblings counted apart (``threads``)
        unless the quota binds first."""
        cores = len(self.available_cores) or 1
        threads = max(self.available_threads, cores)
        if self.quota is not None and self.quota < cores:
            return Ceiling(max(1.0, round(self.quota, 3)), source="quota")
        return Ceiling(float(cores), threads if threads > cores else 0, source=self.source)

    def line(self) -> str:
        """The host's shape in one line: "8 cores × 2 threads, 6 performance + 2 efficiency,
        quota 1.5, affinity 3 of 16 CPUs"."""
        per_core = {len(c.cpus) for c in self.cores}
        if per_core == {1}:
            parts = [f"{self.physical_cores} cores, no SMT"]
        elif len(per_core) == 1:
            parts = [f"{self.physical_cores} cores × {self.threads_per_core} threads"]
        else:  # a hybrid part: SMT on some cores only
            parts = [f"{self.physical_cores} cores, {self.logical_cpus} threads"]
        types = self.core_types()
        if types:
            parts.append(" + ".join(f"{n} {t}" for t, n in sorted(types.items(),
                                                                   key=lambda kv: kv[0] != "performance")))
        packages = len({c.package for c in self.cores})
        if packages > 1:
            parts.append(f"{packages} packages")
        if self.numa_nodes > 1:
            parts.append(f"{self.numa_nodes} NUMA nodes")
        if self.available_threads < self.logical_cpus:
            parts.append(f"affinity {self.available_threads} of {self.logical_cpus} CPUs")
        parts.append("no quota" if self.quota is None else f"quota {self.quota:g}")
        line = ", ".join(parts)
        if self.note:
            line += f" ({self.note})"
        return line

    def as_dict(self) -> dict[str, Any]:
        """The record as stored in a results file's host section."""
        out = asdict(self)
        out["cores"] = [asdict(c) for c in self.cores]
        out.update(logical_cpus=self.logical_cpus, physical_cores=self.physical_cores,
                   threads_per_core=self.threads_per_core, core_types=self.core_types(),
                   line=self.line())
        return out


def _core_types_from(sysfs: Path) -> dict[int, str]:
    """CPU -> core type on an Intel hybrid host (``/sys/devices/cpu_core|cpu_atom/cpus``)."""
    types: dict[int, str] = {}
    for pmu, name in (("cpu_core", "performance"), ("cpu_atom", "efficiency")):
        text = _read(sysfs / "devices" / pmu / "cpus")
        for cpu in parse_cpu_list(text) if text else ():
            types[cpu] = name
    return types


def _sysfs_cores(sysfs: Path) -> tuple[list[int], list[Core]]:
    """The online CPUs and the physical cores they form, from ``devices/system/cpu``."""
    base = sysfs / "devices" / "system" / "cpu"
    online = _read(base / "online")
    cpus = parse_cpu_list(online) if online else sorted(
        int(p.name[3:]) for p in base.glob("cpu[0-9]*"))
    if not cpus:
        raise OSError(f"no CPUs under {base}")
    types = _core_types_from(sysfs)
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for cpu in cpus:
        top = base / f"cpu{cpu}" / "topology"
        siblings = _read(top / "core_cpus_list") or _read(top / "thread_siblings_list")
        if siblings is None:
            raise OSError(f"no topology for cpu{cpu} under {top}")
        package = _read_int(top / "physical_package_id") or 0
        key = (package, tuple(c for c in parse_cpu_list(siblings) if c in cpus))
        groups.setdefault(key, []).append(cpu)
    cores = []
    for (package, siblings), members in sorted(groups.items(), key=lambda kv: kv[0][1]):
        first = base / f"cpu{members[0]}"
        cores.append(Core(package, tuple(members), types.get(members[0]),
                          _read_int(first / "cpu_capacity"),
                          _read_int(first / "cpufreq" / "cpuinfo_max_freq")))
    capacities = {c.capacity for c in cores if c.capacity is not None}
    if not types and len(capacities) == 2 and all(c.capacity for c in cores):
        # big.LITTLE: two capacities and no hybrid PMU files: the bigger ones perform
        big = max(capacities)
        cores = [Core(c.package, c.cpus, "performance" if c.capacity == big else "efficiency",
                      c.capacity, c.max_freq_khz) for c in cores]
    return cpus, cores


def _numa_nodes(sysfs: Path) -> int:
    text = _read(sysfs / "devices" / "system" / "node" / "online")
    return max(1, len(parse_cpu_list(text))) if text else 1


def _sysctl_topology(values: dict[str, int]) -> list[Core]:
    """Cores from macOS ``sysctl hw.*`` values: ``hw.perflevel0/1.physicalcpu`` (performance /
    efficiency clusters) or ``hw.physicalcpu``, with ``hw.logicalcpu`` for SMT. CPU numbers are
    made up (macOS has no affinity mask)."""
    physical = values.get("hw.physicalcpu") or 1
    logical = values.get("hw.logicalcpu") or physical
    levels = [values.get(f"hw.perflevel{i}.physicalcpu") for i in (0, 1)]
    kinds = (["performance"] * (levels[0] or 0) + ["efficiency"] * (levels[1] or 0)
             if levels[0] and levels[1] else [None] * physical)
    per_core = max(1, logical // max(1, len(kinds)))
    return [Core(0, tuple(range(i * per_core, (i + 1) * per_core)), kind)
            for i, kind in enumerate(kinds)]


def _sysctl_values() -> dict[str, int]:
    names = ["hw.physicalcpu", "hw.logicalcpu", "hw.perflevel0.physicalcpu",
             "hw.perflevel1.physicalcpu"]
    values = {}
    for name in names:
        try:
            out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True,
                                 timeout=5, check=True).stdout.strip()
            values[name] = int(out)
        except (OSError, subprocess.SubprocessError, ValueError):
            continue
    return values


def read_topology(sysfs: Path = Path("/sys"), cgroup: Path = Path("/sys/fs/cgroup"),
                  affinity: Iterable[int] | None = None,
                  sysctl: dict[str, int] | None = None) -> Topology:
    """The host's topology from a sysfs root and a cgroup root (defaults: this host's), the
    affinity mask (default: ``os.sched_getaffinity``) and, off Linux, macOS ``sysctl`` values;
    where none of them tells, every logical CPU counts as a core and the note says so."""
    quota = cgroup_cpu_quota(cgroup)
    note = None
    try:
        cpus, cores = _sysfs_cores(sysfs)
        source = "sysfs"
    except (OSError, ValueError) as exc:
        values = sysctl if sysctl is not None else (
            _sysctl_values() if sys.platform == "darwin" else {})
        if values.get("hw.physicalcpu"):
            cores, source = _sysctl_topology(values), "sysctl"
        else:
            n = logical_cores()
            cores = [Core(0, (cpu,)) for cpu in range(n)]
            source = "logical CPUs only"
            note = ("physical cores unknown, logical CPUs counted as cores"
                    + (f": {exc}" if sys.platform.startswith("linux") else ""))
        cpus = sorted(c for core in cores for c in core.cpus)
    if affinity is None and source != "sysctl" and hasattr(os, "sched_getaffinity"):
        affinity = os.sched_getaffinity(0)  # macOS numbers no CPUs and has no mask
    mask = tuple(sorted(set(affinity).intersection(cpus))) if affinity is not None else tuple(cpus)
    return Topology(tuple(cores), mask or tuple(cpus), quota, _numa_nodes(sysfs), source, note,
                    tuple(cpus))


_TOPOLOGY: Topology | None = None


def topology() -> Topology:
    """This host's topology (read once per process)."""
    global _TOPOLOGY
    if _TOPOLOGY is None:
        _TOPOLOGY = read_topology()
    return _TOPOLOGY


def ceiling() -> Ceiling:
    """The ceiling of a CPU-bound speedup on this host (``Topology.ceiling``)."""
    return topology().ceiling


def usable_cores() -> int:
    """min(affinity mask, cgroup CPU quota rounded down, at least 1): the ceiling of any speedup."""
    cores = affinity_cores()
    quota = cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, int(quota)))
    return max(1, cores)


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gil_disabled_build() -> bool:
    """True on a free-threaded build (``Py_GIL_DISABLED``)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """Whether the GIL is enabled right now (always True before 3.13)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def _gil_culprit() -> dict[str, Any] | None:
    """The module a guarded import saw turn the GIL back on (``gilguard.culprit``), or None."""
    found = gilguard.culprit()
    return None if found is None else found.as_dict()


def build_name() -> str:
    """``free-threaded`` or ``default`` (GIL) build."""
    return "free-threaded" if gil_disabled_build() else "default"


def has_subinterpreters() -> bool:
    """Whether subinterpreters with their own GIL can be created from Python here."""
    try:
        import concurrent.futures as cf

        if hasattr(cf, "InterpreterPoolExecutor"):
            return True
        import _interpreters  # noqa: F401  (3.13)

        return True
    except ImportError:
        return False


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def extension_build() -> dict[str, Any]:
    """How the compiled extensions were built, or why they are missing."""
    ext, why = load_extension("gilbench.kernels._buildinfo_c")
    if ext is None:
        return {"compiled": False, "reason": why}
    return {"compiled": True, "cython_version": ext.CYTHON_VERSION, "cflags": ext.EXTRA_CFLAGS}


def cache_sizes(root: Path = Path("/sys/devices/system/cpu/cpu0/cache")) -> dict[str, int]:
    """CPU cache sizes in bytes by level ("L1d", "L1i", "L2", "L3"), as far as sysfs tells:
    a speedup above the core count often means the workers' shares fit a cache the serial
    working set did not."""
    sizes: dict[str, int] = {}
    for index in sorted(root.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if not digits.isdigit():
            continue
        name = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")
        sizes[name] = int(digits) * scale
    return sizes


def host_info() -> dict[str, Any]:
    """Everything a results file records about the host and interpreter."""
    quota = cgroup_cpu_quota()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "logical_cores": logical_cores(),
        "affinity_cores": affinity_cores(),
        "cgroup_cpu_quota": quota,
        "usable_cores": usable_cores(),
        "topology": topology().as_dict(),
        "ceiling": ceiling().as_dict(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "build": build_name(),
        "py_gil_disabled": gil_disabled_build(),
        "gil_enabled": gil_enabled(),
        "gil_reenabled_by": _gil_culprit(),
        "python_gil_env": os.environ.get("PYTHON_GIL"),
        "switch_interval_s": sys.getswitchinterval(),
        "subinterpreters": has_subinterpreters(),
        "compiler": platform.python_compiler(),
        "cflags": sysconfig.get_config_var("CFLAGS"),
        "gilbench_version": _version("gilbench"),
        "extension_build": extension_build(),
        "numpy_version": _version("numpy"),
        "load_average": load_average(),
        "cache_bytes": cache_sizes(),
    }
