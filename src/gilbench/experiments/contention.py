"""GIL contention: the share of time a thread that wants the GIL waits for it.

A sampler thread (this one) repeatedly makes a call that releases the GIL and returns at
once, and times each call. Uncontended, a call costs a few microseconds (its median cost
alone is the baseline). A call that lasts more than ``HANDOVER_S`` (100 us) beyond the
baseline counts as a hand-over: another thread held the GIL (or, with more runnable threads
than cores, the core) and the sampler waited for it. ``wait_share`` is the sum of those waits
over the window; shorter excesses are jitter and are not counted. Two samplers:

- ``spin``: ``select.select([], [], [], 0)``: returns in under a microsecond, so the sampler
  always wants the GIL. A fair scheduler would give it 1/(N+1) of the time beside N
  pure-Python threads; the GIL gives it less, because each of its releases is a chance for a
  waiting worker to take over, and getting the GIL back then costs a whole switch interval.
- ``nap``: ``time.sleep(0)``: on Linux this really sleeps ~50-100 us (timer slack), long
  enough for a waiting worker to take the GIL every time: an I/O-like thread. Beside a
  pure-Python thread nearly every call should wait a whole switch interval.

What it does *not* measure: which thread holds the GIL (Python cannot ask), how long the
workers wait, or waits shorter than ``HANDOVER_S``; nor can it tell a wait for the GIL from a
wait for a core (compare with the process case). The sampler perturbs what it
measures: each of its releases invites a GIL hand-over that costs the workers too. Process
workers share no GIL with the sampler, so their case shows the part that is competition for
cores alone (the host has ``usable_cores``).
"""

from __future__ import annotations

import select
import time
from typing import Any, Callable, Sequence

from ._common import (
    CpuLoad,
    Progress,
    calibrate_chunk,
    median,
    mp_context,
    no_progress,
    percentile,
    variant_unavailable,
)

NAME = "contention"
TITLE = "GIL contention: how long a thread waits to get the GIL back"
MEASURES = (
    "The share of its time a sampler thread spends waiting to re-acquire the GIL after a "
    "call that releases it and returns at once (select(0): always wants the GIL; sleep(0): "
    "I/O-like), beside 0..W CPU-bound workers in threads (python, cython-nogil) and processes."
)
CLAIMS: tuple[str, ...] = ()

#: a call longer than this beyond the baseline counts as a hand-over (the holder had the GIL)
HANDOVER_S = 100e-6

SAMPLERS: dict[str, Callable[[], Any]] = {
    "spin": lambda: select.select([], [], [], 0),
    "nap": lambda: time.sleep(0),
}


def sample_calls(call: Callable[[], Any], window_s: float) -> tuple[list[float], float]:
    """Durations (s) of back-to-back ``call()``s for ``window_s``; and the elapsed time."""
    durations = []
    clock = time.perf_counter
    start = clock()
    end = start + window_s
    t0 = start
    while t0 < end:
        call()
        t1 = clock()
        durations.append(t1 - t0)
        t0 = clock()
    return durations, t0 - start


def wait_summary(durations: Sequence[float], elapsed_s: float, baseline_s: float) -> dict:
    """Wait share and hand-overs from call durations, given the uncontended call cost."""
    excess = sorted(max(0.0, d - baseline_s) for d in durations)
    handovers = [e for e in excess if e > HANDOVER_S]
    return {
        "calls": len(durations),
        "elapsed_s": elapsed_s,
        # only hand-overs count: sub-microsecond jitter summed over ~10^6 calls would add up
        # to several percent of the window and hide nothing of interest
        "wait_share": sum(handovers) / elapsed_s if elapsed_s > 0 else None,
        "handovers_per_s": len(handovers) / elapsed_s if elapsed_s > 0 else None,
        "wait_p50_ms": percentile(excess, 50) * 1e3 if excess else None,
        "wait_p99_ms": percentile(excess, 99) * 1e3 if excess else None,
        "handover_wait_median_ms": median(handovers) * 1e3 if handovers else None,
    }


def run(
    quick: bool,
    *,
    window_s: float | None = None,
    workers: Sequence[int] | None = None,
    thread_variants: Sequence[str] = ("python", "cython-nogil"),
    process_variants: Sequence[str] = ("python",),
    samplers: Sequence[str] = tuple(SAMPLERS),
    chunk_s: float = 0.05,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "baseline_s": {sampler: s}, "cases": [...]}``; a case is
    ``{"executor", "variant", "workers", "samplers": {name: wait_summary}, "load", "error"}``."""
    progress = progress or no_progress
    window_s = window_s if window_s is not None else (0.3 if quick else 1.0)
    workers = [w for w in (workers if workers is not None else ((1,) if quick else (1, 2)))
               if w > 0]
    for s in samplers:
        if s not in SAMPLERS:
            raise ValueError(f"unknown sampler {s!r}; samplers: {', '.join(SAMPLERS)}")
    ctx = mp_context()

    # the uncontended cost of each call: the median alone
    progress("sampler alone (baseline)")
    baseline: dict[str, float] = {}
    alone: dict[str, Any] = {}
    for s in samplers:
        durations, elapsed = sample_calls(SAMPLERS[s], window_s)
        baseline[s] = median(durations)
        alone[s] = wait_summary(durations, elapsed, baseline[s])
    cases: list[dict[str, Any]] = [{"executor": "none", "variant": None, "workers": 0,
                                    "samplers": alone, "load": None, "error": None}]

    chunks: dict[str, Any] = {}
    plan = [("threads", v, w) for v in thread_variants for w in workers]
    plan += [("processes", v, w) for v in process_variants for w in workers]
    for i, (executor, v, w) in enumerate(plan, 1):
        progress(f"case {i}/{len(plan)}: sampler beside {w} x {v} {executor}")
        case: dict[str, Any] = {"executor": executor, "variant": v, "workers": w,
                                "samplers": {}, "load": None, "error": None}
        why = variant_unavailable(v)
        if why is not None:
            case["error"] = f"variant unavailable: {why}"
            cases.append(case)
            continue
        if v not in chunks:
            chunks[v] = calibrate_chunk(v, chunk_s)
        load = CpuLoad(executor, v, w, chunks[v]["chunk"], ctx)
        with load:
            for s in samplers:
                durations, elapsed = sample_calls(SAMPLERS[s], window_s)
                case["samplers"][s] = wait_summary(durations, elapsed, baseline[s])
        case["load"] = load.stats()
        cases.append(case)

    return {
        "params": {"window_s": window_s, "workers": workers,
                   "thread_variants": list(thread_variants),
                   "process_variants": list(process_variants), "samplers": list(samplers),
                   "chunk_s": chunk_s, "handover_s": HANDOVER_S,
                   "start_method": ctx.get_start_method()},
        "baseline_s": baseline,
        "chunks": chunks,
        "cases": cases,
    }
