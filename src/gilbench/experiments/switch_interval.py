"""Switch interval: the 1 ms probe beside one pure-Python CPU thread across
``sys.setswitchinterval`` values — the article's "the GIL is handed over every 5 ms".

A thread that wants the GIL waits one interval before asking the holder to drop it, so the
probe's lateness should track the interval. The echo server's rate is measured too (each
request needs the GIL back twice: after ``recv`` and after ``sendall``). The original interval
is restored afterwards, whatever happens.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from ._common import (
    CpuLoad,
    Progress,
    calibrate_chunk,
    echo_probe,
    latency_stats,
    mp_context,
    no_progress,
    sleep_probe,
)

NAME = "switch-interval"
TITLE = "The switch interval sets how late a waiting thread is"
MEASURES = (
    "Lateness of a thread asking to wake every 1 ms, and echo-server requests/s, beside one "
    "pure-Python CPU-bound thread, for each sys.setswitchinterval value (plus the probe alone)."
)
CLAIMS = ("switch-interval-5ms",)

INTERVALS_MS = (0.5, 1, 2, 5, 10, 20, 50)
QUICK_INTERVALS_MS = (1, 5, 20)


def run(
    quick: bool,
    *,
    intervals_ms: Sequence[float] | None = None,
    window_s: float | None = None,
    min_samples: int | None = None,
    echo: bool = True,
    chunk_s: float = 0.05,
    period_s: float = 0.001,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "original_interval_s", "alone": {...}, "points": [...]}``; a point
    is ``{"interval_ms", "window_s", "lateness": stats, "echo": {...} | None, "load"}``.

    The window grows to hold at least ``min_samples`` probe wake-ups at long intervals.
    """
    progress = progress or no_progress
    intervals_ms = list(intervals_ms or (QUICK_INTERVALS_MS if quick else INTERVALS_MS))
    window_s = window_s if window_s is not None else (0.3 if quick else 1.0)
    min_samples = min_samples if min_samples is not None else (15 if quick else 40)
    ctx = mp_context()
    original = sys.getswitchinterval()

    progress("calibrating a pure-Python chunk")
    chunk = calibrate_chunk("python", chunk_s)

    progress("probe alone")
    alone = {"lateness": latency_stats(sleep_probe(window_s, period_s)),
             "echo": echo_probe(window_s, ctx, runs=2) if echo else None}

    points = []
    try:
        for i, interval_ms in enumerate(intervals_ms, 1):
            progress(f"interval {interval_ms:g} ms ({i}/{len(intervals_ms)})")
            # enough wake-ups for a p99 even when each waits a whole interval
            window = max(window_s, min_samples * (interval_ms / 1e3 + period_s))
            sys.setswitchinterval(interval_ms / 1e3)
            load = CpuLoad("threads", "python", 1, chunk["chunk"], ctx)
            with load:
                lateness = latency_stats(sleep_probe(window, period_s))
                echo_result = echo_probe(window, ctx, runs=2) if echo else None
            points.append({"interval_ms": interval_ms,
                           "interval_set_s": sys.getswitchinterval(),
                           "window_s": window, "lateness": lateness, "echo": echo_result,
                           "load": load.stats()})
    finally:
        sys.setswitchinterval(original)

    return {
        "params": {"intervals_ms": intervals_ms, "window_s": window_s,
                   "min_samples": min_samples, "echo": echo, "chunk_s": chunk_s,
                   "period_s": period_s, "start_method": ctx.get_start_method()},
        "original_interval_s": original,
        "chunk": chunk,
        "alone": alone,
        "points": points,
    }
