"""How long a run will take, before it starts, and the default worker counts that fit a host.

The estimate is a model, not a measurement: per kernel variant, its calibration, the GIL check,
the minimum paired rounds (the serial baseline and every cell, each cell taking the serial target
divided by the speedup it can reach) and half of the extra-round budget; plus the start-up of
every worker process. Its constants come from the default run measured on the 2-core VM (README:
230 cells, 284–310 s; the model says about 300 s there).

The default worker counts are 1, 2, 4, … up to the physical cores, the hardware threads, and one
oversubscribed point (``oversubscribed``); when the model puts the default run above
``LIMIT_S``, intermediate counts of the ladder are dropped (the one closest to its upper
neighbour first), then the oversubscribed point; never 1, 2, the cores or the threads.
"""

from __future__ import annotations

import math
from typing import Iterable

from gilbench import executors as _executors
from gilbench import kernels as _kernels
from gilbench.verdicts import Ceiling

#: the default run must stay within this many seconds on any host up to 64 cores
LIMIT_S = 360.0
#: seconds of calibration per kernel variant, in serial target times (a few tries of doubling)
CALIBRATION_TARGETS = 3.0
#: seconds of the direct GIL check per kernel variant (gilcheck's windows)
GIL_CHECK_S = 1.0
#: the share of the extra-round budget (``--max-time``) undecided cells use: all of it, so the
#: estimate errs long (the 2-core VM: 290 s modelled for 284–310 s measured by default,
#: 112 s for 72–80 s with --quick)
EXTRA_ROUNDS_SHARE = 1.0
#: seconds to start one worker process (fork on Linux; spawn costs more and is not modelled)
PROCESS_START_S = 0.01
#: the oversubscribed point is the hardware threads plus this many workers at most (on a host
#: of up to this many cores, twice the threads: the 1, 2, 4 of a 2-core host)
OVERSUBSCRIBED_EXTRA = 8


def oversubscribed(cores: int, threads: int) -> int:
    """One worker count past the hardware threads: threads + min(cores, OVERSUBSCRIBED_EXTRA)
    (twice the threads on a small host without SMT; a few more than the threads on a big one,
    where 2× the threads would fork hundreds of processes to show the same cost)."""
    return threads + min(cores, OVERSUBSCRIBED_EXTRA)


def ladder(ceiling: Ceiling | float) -> list[int]:
    """1, 2, 4, … up to the physical cores (a quota's fraction rounded up), the hardware threads
    and the oversubscribed point, before any is dropped to fit the time limit."""
    c = Ceiling.of(ceiling)
    cores = max(1, math.ceil(c.cores - 1e-9))
    threads = max(cores, c.threads)
    counts = {1, cores, threads, oversubscribed(cores, threads)}
    w = 2
    while w < cores:
        counts.add(w)
        w *= 2
    return sorted(counts)


def _cell_s(target_s: float, kind: str, variant: _kernels.Variant, family: str, workers: int,
            cores: float) -> float:
    """Seconds of one run of a cell: the serial target over the speedup it can reach."""
    if family == "serial":
        return target_s
    if kind == "io":
        return target_s / workers
    holds_gil = family in ("threads", "asyncio") and not variant.releases_gil
    if family == "asyncio" and kind != "io":
        holds_gil = True  # CPU work blocks the loop whatever the variant
    return target_s if holds_gil else target_s / max(1.0, min(workers, cores))


def estimate_s(kernel_names: Iterable[str], variants: Iterable[str] | None,
               executor_names: Iterable[str], workers: Iterable[int], ceiling: Ceiling | float,
               target_s: float, min_rounds: int, max_time_s: float) -> float:
    """The model's seconds for a run of this matrix on a host with this ceiling."""
    cores = Ceiling.of(ceiling).cores
    chosen = None if variants is None else set(variants)
    families = {e: _executors.get(e) for e in executor_names if e != "serial"}
    total = 0.0
    for name in kernel_names:
        kernel = _kernels.get(name)
        for variant in kernel.variants:
            if chosen is not None and variant.name not in chosen:
                continue
            rounds = target_s
            starts = 0
            for cls in families.values():
                for w in workers:
                    rounds += _cell_s(target_s, kernel.kind, variant, cls.family, w, cores)
                    starts += w if cls.uses_processes else 0
            total += (CALIBRATION_TARGETS * target_s + GIL_CHECK_S + min_rounds * rounds
                      + EXTRA_ROUNDS_SHARE * max_time_s + starts * PROCESS_START_S)
    return total


def fit_counts(counts: list[int], ceiling: Ceiling | float, seconds) -> list[int]:
    """``counts`` with points dropped until ``seconds(counts)`` is within LIMIT_S: first the
    ladder's intermediate points (the one closest, by ratio, to the next count goes first),
    then the oversubscribed point; 1, 2, the cores and the threads stay."""
    c = Ceiling.of(ceiling)
    cores = max(1, math.ceil(c.cores - 1e-9))
    threads = max(cores, c.threads)
    over = oversubscribed(cores, threads)
    keep = {1, 2, cores, threads}
    counts = sorted(counts)
    while seconds(counts) > LIMIT_S:
        droppable = [(counts[i + 1] / w, w) for i, w in enumerate(counts[:-1])
                     if w not in keep and w != over]
        if droppable:
            counts.remove(min(droppable)[1])
        elif over in counts and over not in keep:
            counts.remove(over)
        else:
            break
    return counts
