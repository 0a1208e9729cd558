"""Write the synthetic results files in this folder (run: python tests/data/make_synthetic.py).

They stand in for real runs where a test needs a situation a 2-core CI box cannot produce on
demand: a clean GIL build at several worker counts, a free-threaded build of the same grid (for
`gilbench compare`), and a hand-made file of failed, timed-out, wrong and unstable cells. Every
number is *derived* the way the runner derives it (median, IQR, bootstrap interval of
median(serial)/median(cell), Σ cpu / wall) from raw wall/cpu lists drawn around a simple model,
so the reports built from them exercise the same arithmetic as real files. Seeded: the files are
reproducible byte for byte.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from gilbench import results

HERE = Path(__file__).resolve().parent
C = 2  # usable cores of the synthetic host
# small on purpose (reports from these files are built in every test run): one kernel per kind,
# plus checksum for the stdlib (zlib) variant
KINDS = {"primes": ("cpu", "numbers"), "mandelbrot": ("cpu", "rows"),
         "stream": ("memory", "elements"), "checksum": ("cpu", "bytes"), "sleep": ("io", "sleeps")}
VARIANTS = {"primes": ["python", "cython-gil", "cython-nogil"],
            "stream": ["python", "cython-nogil", "numpy"],
            "checksum": ["python", "stdlib"],
            "sleep": ["python", "cython-gil"]}
EXECUTORS = {"serial": "serial", "threads": "threads", "thread-pool": "threads",
             "asyncio": "asyncio", "process-pool": "processes"}
REPEATS = 5


def _r(x: float) -> float:
    return float(f"{x:.5g}")


def _boot(a: list[float], b: list[float], rng, n: int = 400) -> tuple[float, float]:
    ra = rng.choice(a, size=(n, len(a))), rng.choice(b, size=(n, len(b)))
    ratios = np.median(ra[0], axis=1) / np.median(ra[1], axis=1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def model(kernel: str, variant: str, executor: str, w: int, free_threaded: bool) -> tuple[float, float]:
    """(speedup, cores used) the synthetic host would show."""
    kind = KINDS[kernel][0]
    fam = EXECUTORS[executor]
    n = min(w, C)
    if fam == "serial":
        return 1.0, 0.0 if kind == "io" else 0.99
    if kind == "io":
        if fam == "processes":
            return 0.85 * w, 0.02
        if variant == "cython-gil" and fam == "threads":
            return 0.98, 0.01  # C sleep holding the GIL: no overlap
        if variant == "cython-gil" and fam == "asyncio":
            return 0.97, 0.01
        return 0.95 * w, 0.02
    if fam == "asyncio":
        return 0.97, 0.98
    if fam == "processes":
        return 0.9 * n, 0.95 * n
    releases = variant in ("cython-nogil", "numpy", "stdlib") or (variant == "python" and free_threaded)
    if not releases:
        return (0.96 if w > 1 else 0.99), 0.99
    if kind == "memory":
        return (0.72 * n, 0.8 * n) if n > 1 else (0.97, 0.99)  # bandwidth-bound: short of parallel
    return 0.95 * n, 0.97 * n


def make_cell(kernel, variant, executor, w, base_s, rng, *, sp=None, util=None, noise=0.02,
              serial_wall=None, start_method=None, **overrides):
    kind, unit = KINDS[kernel]
    fam = EXECUTORS[executor]
    wall = [_r(base_s / sp * float(np.exp(rng.normal(0, noise)))) for _ in range(REPEATS)]
    cpu = [_r(t * util * float(np.exp(rng.normal(0, 0.01)))) for t in wall]
    med = float(np.median(wall))
    q1, q3 = np.percentile(wall, [25, 75])
    if serial_wall is None:
        serial_wall = wall
    s_med = float(np.median(serial_wall))
    lo, hi = _boot(serial_wall, wall, rng)
    spd = {"median": _r(s_med / med), "low": _r(min(lo, s_med / med)), "high": _r(max(hi, s_med / med))}
    iqr = float(q3 - q1)
    startup = None
    if executor == "thread-pool":
        startup = _r(0.00015 * w)
    elif executor == "process-pool":
        startup = _r((0.004 if start_method == "fork" else 0.06) * w)
    size = 1000 if kind != "io" else 200
    cell = {
        "kernel": kernel, "variant": variant, "executor": executor, "family": fam,
        "workers": w, "start_method": start_method, "scaling": "strong", "size": size,
        "n_chunks": max(w, 1) * 4 if fam != "serial" else 1,
        "unit": unit, "kind": kind, "wall_s": wall, "cpu_s": cpu,
        "median_s": _r(med), "iqr_s": _r(iqr),
        "cold_wall_s": _r(med + (startup or 0) + 0.0003), "startup_s": startup,
        "serial_median_s": _r(s_med), "speedup": spd,
        "efficiency": _r(spd["median"] / w),
        "cpu_utilization": _r(float(np.median([c / t for c, t in zip(cpu, wall)]))),
        "throughput": _r(size / med), "stable": iqr / med < 0.25,
        "unstable_reason": None if iqr / med < 0.25 else f"IQR is {iqr / med:.0%} of the median",
        "error": None, "timed_out": False, "result_ok": True, "repeats": REPEATS,
    }
    cell.update(overrides)
    return cell


def host(free_threaded: bool) -> dict:
    return {
        "hostname": "synthetic", "platform": "Linux-synthetic", "machine": "x86_64",
        "cpu_model": "Synthetic CPU @ 3.0GHz", "logical_cores": 2, "affinity_cores": 2,
        "cgroup_cpu_quota": None, "usable_cores": C,
        "python_version": "3.13.1" if free_threaded else "3.11.7",
        "python_implementation": "CPython", "python_executable": "/usr/bin/python3",
        "build": "free-threaded" if free_threaded else "default",
        "py_gil_disabled": free_threaded, "gil_enabled": not free_threaded,
        "python_gil_env": None, "switch_interval_s": 0.005, "subinterpreters": False,
        "load_average": [0.5, 0.4, 0.3], "load_average_start": [0.5, 0.4, 0.3],
        "load_average_end": [0.6, 0.4, 0.3],
    }


def grid(free_threaded: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    config = {"kernels": list(VARIANTS), "variants": sorted({v for vs in VARIANTS.values() for v in vs}),
              "executors": list(EXECUTORS), "workers": [1, 2, 4], "repeats": REPEATS,
              "target_time_s": 0.05, "quick": True, "scaling": "strong", "start_method": "fork"}
    doc = results.new_document(config, host(free_threaded), ["synthetic"])
    doc["created"] = "2026-01-01T00:00:00+00:00"
    doc["finished"] = "2026-01-01T00:05:00+00:00"
    for kernel, variants in VARIANTS.items():
        for variant in variants:
            base = 0.05 if variant == "python" else 0.004
            serial = make_cell(kernel, variant, "serial", 1, base, rng, sp=1.0,
                               util=model(kernel, variant, "serial", 1, free_threaded)[1])
            doc["cells"].append(serial)
            for executor in EXECUTORS:
                if executor == "serial":
                    continue
                for w in (1, 2, 4):
                    sp, util = model(kernel, variant, executor, w, free_threaded)
                    sm = "fork" if EXECUTORS[executor] == "processes" else None
                    doc["cells"].append(make_cell(kernel, variant, executor, w, base, rng, sp=sp,
                                                  util=util, serial_wall=serial["wall_s"],
                                                  start_method=sm))
    return doc


def faulty() -> dict:
    """Hand-made: every way a cell can go wrong, next to a few healthy cells."""
    rng = np.random.default_rng(7)
    config = {"kernels": ["primes", "mandelbrot", "checksum", "sleep"], "variants": [],
              "executors": ["serial", "threads", "process-pool"], "workers": [1, 2],
              "repeats": REPEATS, "target_time_s": 0.05, "quick": True, "scaling": "strong",
              "start_method": "spawn"}
    doc = results.new_document(config, host(False), ["synthetic", "faulty"])
    doc["created"] = "2026-01-01T00:00:00+00:00"
    doc["finished"] = None  # interrupted run
    cells = doc["cells"]
    failed = {"wall_s": [], "cpu_s": [], "median_s": None, "iqr_s": None, "speedup": None,
              "efficiency": None, "cpu_utilization": None, "throughput": None, "stable": False,
              "unstable_reason": None, "cold_wall_s": None, "result_ok": None}
    s = make_cell("primes", "python", "serial", 1, 0.05, rng, sp=1, util=0.99)
    cells.append(s)
    cells.append(make_cell("primes", "python", "threads", 2, 0.05, rng, sp=0.8, util=0.99,
                           serial_wall=s["wall_s"]))  # slower
    cells.append(make_cell("primes", "python", "process-pool", 2, 0.05, rng, sp=1, util=1,
                           serial_wall=s["wall_s"], start_method="spawn",
                           **{**failed, "error": "BrokenProcessPool: worker exit code -11"}))
    s = make_cell("primes", "cython-nogil", "serial", 1, 0.004, rng, sp=1, util=0.99)
    cells.append(s)
    # unstable: a noisy neighbour during the repeats
    cells.append(make_cell("primes", "cython-nogil", "threads", 2, 0.004, rng, sp=1.5, util=1.6,
                           noise=0.45, serial_wall=s["wall_s"], stable=False,
                           unstable_reason="IQR is 48% of the median"))
    cells.append(make_cell("primes", "cython-nogil", "process-pool", 2, 0.004, rng, sp=1.9,
                           util=1.93, serial_wall=s["wall_s"], start_method="spawn"))
    # the serial baseline failed, so nothing of that variant has a speedup
    cells.append(make_cell("mandelbrot", "numpy", "serial", 1, 0.01, rng, sp=1, util=1,
                           **{**failed, "error": "MemoryError: cannot allocate 2.0 GiB"}))
    cells.append(make_cell("mandelbrot", "numpy", "threads", 2, 0.01, rng, sp=1, util=1,
                           **{**failed, "serial_median_s": None,
                              "error": "no serial baseline: the serial cell failed"}))
    s = make_cell("checksum", "stdlib", "serial", 1, 0.01, rng, sp=1, util=0.99)
    cells.append(s)
    cells.append(make_cell("checksum", "stdlib", "threads", 2, 0.01, rng, sp=1.9, util=1.9,
                           serial_wall=s["wall_s"], result_ok=False))  # fast but wrong
    s = make_cell("sleep", "python", "serial", 1, 0.2, rng, sp=1, util=0.01)
    cells.append(s)
    cells.append(make_cell("sleep", "python", "threads", 2, 0.2, rng, sp=1,
                           util=0.01, **{**failed, "timed_out": True,
                                         "error": "timed out after 60 s"}))
    cells.append(make_cell("sleep", "python", "process-pool", 2, 0.2, rng, sp=1.3, util=0.02,
                           serial_wall=s["wall_s"], start_method="spawn"))  # partial overlap
    return doc


def write_compact(doc: dict, path: Path) -> None:
    results.validate(doc, str(path))
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")


def main() -> int:
    write_compact(grid(False, 1), HERE / "synthetic-gil.json")
    write_compact(grid(True, 2), HERE / "synthetic-ft.json")
    write_compact(faulty(), HERE / "faulty.json")
    for p in sorted(HERE.glob("*.json")):
        print(f"{p.name}: {p.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
