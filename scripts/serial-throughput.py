#!/usr/bin/env python3
"""Print each kernel's serial throughput for every variant, and its ratio to the ``python`` twin.

Usage:  python scripts/serial-throughput.py [--kernels K,..] [--target-s 0.3] [--repeats 5]
                                            [--chunks 8]

For the before/after table of "fair twins": every variant of every kernel runs serially in this
thread, chunked as a 2-worker run chunks it (``--chunks 8``: 4 chunks per worker), at a size
calibrated so one run lasts about ``--target-s``. The kernel's ``prepare`` runs before timing
and one untimed warm-up run precedes the timed ones, as in ``gilbench run``. Each row prints the
median of ``--repeats`` runs and the spread (min..max) as throughput, so a noisy host shows.

Run it on a quiet machine for numbers worth quoting; on a shared one, compare ratios within one
run only. It uses only the kernel registry (``gilbench.kernels``), so it runs on any version.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gilbench import kernels
from gilbench.kernels import Kernel, Variant


def run_once(kernel: Kernel, variant: Variant, size: int, n_chunks: int) -> float:
    """Wall seconds of one serial run: every chunk in turn, then the reduce."""
    chunks = kernel.split(size, n_chunks)
    start = time.perf_counter()
    kernel.reduce([variant(chunk) for chunk in chunks])
    return time.perf_counter() - start


def calibrate(kernel: Kernel, variant: Variant, target_s: float, n_chunks: int) -> int:
    """A size at which one run lasts about ``target_s`` (grow geometrically, then scale)."""
    size = max(kernel.min_size, kernel.verify_size, n_chunks)
    if kernel.prepare is not None:  # build buffers before the first timed run, not inside it
        kernel.prepare(size)
    elapsed = run_once(kernel, variant, size, n_chunks)
    while elapsed < target_s / 5:
        size = int(size * min(100.0, max(2.0, (target_s / 3) / max(elapsed, 1e-6))))
        if kernel.prepare is not None:
            kernel.prepare(size)
        elapsed = run_once(kernel, variant, size, n_chunks)
    return max(kernel.min_size, n_chunks, round(size * target_s / elapsed))


def measure(kernel: Kernel, variant: Variant, target_s: float, repeats: int,
            n_chunks: int) -> tuple[int, list[float]]:
    """(size, wall seconds of each timed run) for one variant."""
    size = calibrate(kernel, variant, target_s, n_chunks)
    if kernel.prepare is not None:
        kernel.prepare(size)
    run_once(kernel, variant, size, n_chunks)  # warm-up
    return size, [run_once(kernel, variant, size, n_chunks) for _ in range(repeats)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", help=f"comma-separated (default: all of "
                                          f"{', '.join(kernels.names())})")
    parser.add_argument("--target-s", type=float, default=0.3,
                        help="seconds one run should last (default: 0.3)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default: 5)")
    parser.add_argument("--chunks", type=int, default=8,
                        help="chunks per run (default: 8, as a 2-worker gilbench run)")
    args = parser.parse_args(argv)
    names = args.kernels.split(",") if args.kernels else kernels.names()
    unknown = [n for n in names if n not in kernels.names()]
    if unknown:
        parser.error(f"unknown kernel(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(kernels.names())}")

    header = (f"{'kernel':<11} {'variant':<13} {'size':>12} {'median s':>9} "
              f"{'throughput /s':>14} {'min..max /s':>23} {'x python':>9}")
    print(header)
    print("-" * len(header))
    for name in names:
        kernel = kernels.get(name)
        with kernel.session():
            python_rate = None
            for variant in kernel.variants:
                if not variant.available:
                    print(f"{name:<11} {variant.name:<13} unavailable: {variant.reason}")
                    continue
                size, times = measure(kernel, variant, args.target_s, args.repeats, args.chunks)
                rate = size / statistics.median(times)
                if variant.name == "python":
                    python_rate = rate
                ratio = f"{rate / python_rate:9.1f}" if python_rate else f"{'-':>9}"
                spread = f"{size / max(times):.3g}..{size / min(times):.3g}"
                print(f"{name:<11} {variant.name:<13} {size:>12,} {statistics.median(times):9.3f} "
                      f"{rate:>14.4g} {spread:>23} {ratio}  ({kernel.unit})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
