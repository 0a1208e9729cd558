"""Responsiveness / convoy: how late other threads are while CPU-bound workers run.

Three probes run, one after another, while 0..W workers run a variant of the prime-counting
kernel under threads (sharing this process's GIL) or under processes (each its own GIL):

- ``thread-sleep``: this thread asks to wake every 1 ms (``time.sleep(0.001)``); lateness is the
  time slept beyond 1 ms.
- ``asyncio-sleep``: an asyncio loop in this thread awaits ``asyncio.sleep(0.001)`` likewise.
- ``echo``: a blocking TCP echo server thread in this process answers 64-byte requests on
  127.0.0.1 from a client in a child process. The client does the timing so that its clock
  readings are not delayed by our GIL (the published case: the server shares the process with
  the CPU-bound threads, the client does not).

A ``cython-gil`` worker holds the GIL for a whole call, which the switch interval cannot cut
short, so its probe lateness is set by the chunk length (``chunk_s``, recorded).
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from ._common import (
    PROBES,
    CpuLoad,
    Progress,
    calibrate_chunk,
    mp_context,
    no_progress,
    run_probe,
    variant_unavailable,
)

NAME = "convoy"
TITLE = "Responsiveness beside CPU-bound workers (the convoy effect)"
MEASURES = (
    "Lateness (p50/p99) of a thread and of an asyncio loop that ask to wake every 1 ms, and "
    "requests/s of a loopback TCP echo server thread in this process (client in a child "
    "process), while 0..W CPU-bound workers run a variant of the prime-counting kernel under "
    "threads or under processes."
)
CLAIMS = ("cpu-threads-hurt-latency",)

VARIANTS = ("python", "cython-gil", "cython-nogil")
QUICK_VARIANTS = ("python", "cython-nogil")
#: a worker process has its own GIL, so which variant it runs does not matter to the probe
#: (only that it keeps a core busy): pure Python, the case the article contrasts with threads
PROCESS_VARIANTS = ("python",)


def run(
    quick: bool,
    *,
    window_s: float | None = None,
    workers: Sequence[int] | None = None,
    variants: Sequence[str] | None = None,
    process_variants: Sequence[str] = PROCESS_VARIANTS,
    probes: Sequence[str] = PROBES,
    chunk_s: float = 0.05,
    period_s: float = 0.001,
    echo_runs: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Probe results per case; returns ``{"params", "chunks", "cases": [...]}``.

    Threads run each of ``variants`` (quick: python and cython-nogil; full: also the
    cython-gil control); processes run each of ``process_variants``. Each case is
    ``{"executor", "variant", "workers", "load", "probes": {probe: ...}, "error"}``; the
    first case (executor ``none``, 0 workers) is the probe alone.
    """
    progress = progress or no_progress
    window_s = window_s if window_s is not None else (0.2 if quick else 1.0)
    workers = list(workers if workers is not None else ((0, 1) if quick else (0, 1, 2)))
    echo_runs = echo_runs if echo_runs is not None else (2 if quick else 4)
    variants = list(variants if variants is not None else (QUICK_VARIANTS if quick else VARIANTS))
    for p in probes:
        if p not in PROBES:
            raise ValueError(f"unknown probe {p!r}; probes: {', '.join(PROBES)}")
    ctx = mp_context()

    chunks: dict[str, Any] = {}
    for v in dict.fromkeys([*variants, *process_variants]):
        why = variant_unavailable(v)
        if why is None:
            progress(f"calibrating a {chunk_s * 1e3:g} ms chunk for {v}")
            chunks[v] = calibrate_chunk(v, chunk_s)
        else:
            chunks[v] = {"chunk": None, "seconds": None, "unavailable": why}

    plan: list[tuple[str, str | None, int]] = []
    if 0 in workers:
        plan.append(("none", None, 0))
    for executor, executor_variants in (("threads", variants), ("processes", process_variants)):
        for v in executor_variants:
            for w in workers:
                if w > 0:
                    plan.append((executor, v, w))

    cases = []
    for i, (executor, v, w) in enumerate(plan, 1):
        label = "alone" if w == 0 else f"{w} x {v} {executor}"
        progress(f"case {i}/{len(plan)}: probes beside {label}")
        case: dict[str, Any] = {"executor": executor, "variant": v, "workers": w,
                                "load": None, "probes": {}, "error": None}
        if v is not None and chunks[v]["chunk"] is None:
            case["error"] = f"variant unavailable: {chunks[v]['unavailable']}"
            cases.append(case)
            continue
        load = CpuLoad(executor, v, w, chunks[v]["chunk"] if v else None, ctx)
        with load:
            for probe in probes:
                case["probes"][probe] = run_probe(probe, window_s, period_s, ctx, echo_runs)
        case["load"] = load.stats()
        cases.append(case)

    return {
        "params": {"window_s": window_s, "workers": workers, "variants": variants,
                   "process_variants": list(process_variants), "probes": list(probes),
                   "chunk_s": chunk_s, "period_s": period_s, "echo_runs": echo_runs,
                   "start_method": ctx.get_start_method()},
        "switch_interval_s": sys.getswitchinterval(),
        "chunks": chunks,
        "cases": cases,
    }
