"""Host metadata: CPU, usable cores (affinity and cgroup quota), interpreter build, GIL state."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from pathlib import Path
from typing import Any


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
    # the loader alone (ground floor too), not the kernels, which stand above this module
    from gilbench.kernels._base import load_extension

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
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "build": build_name(),
        "py_gil_disabled": gil_disabled_build(),
        "gil_enabled": gil_enabled(),
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
