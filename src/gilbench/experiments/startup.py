"""Process start-up: what it costs to start a worker, per start method, against a thread.

For each start method this Python offers (fork, spawn, forkserver) a child is started that
sends one message back at once and exits: ``ready_s`` is ``start()`` until that message
(the child runs Python code), ``total_s`` until ``join()`` returns. The first forkserver start
also starts the fork server, so it is kept apart (``first_s``). A thread started and joined the
same way is the yardstick, and so are the cold starts of a ProcessPoolExecutor and a
ThreadPoolExecutor (create, one trivial task, shut down).

``fork`` is measured only while this process has a single thread: forking a multi-threaded
process can deadlock the child (Python 3.12+ warns). Otherwise it is recorded as skipped.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import threading
import time
from typing import Any, Sequence

from gilbench.child_targets import nothing, report_ready

from ._common import Progress, median, no_progress

NAME = "startup"
TITLE = "Process start-up cost per start method"
MEASURES = (
    "Time from Process.start() until the child runs Python code (and until join), per start "
    "method, against starting a thread; and the cold start of a process pool and a thread "
    "pool with one trivial task."
)
CLAIMS = ("process-startup-cost",)


def start_once(ctx: Any) -> tuple[float, float]:
    """One child: (seconds until it ran Python code, seconds until joined)."""
    here, there = ctx.Pipe(duplex=False)
    p = ctx.Process(target=report_ready, args=(there,), daemon=True)
    t0 = time.perf_counter()
    p.start()
    there.close()
    try:
        if not here.poll(60):
            raise TimeoutError(f"{ctx.get_start_method()} child did not start within 60 s")
        here.recv()
        ready = time.perf_counter() - t0
        p.join(timeout=60)
        total = time.perf_counter() - t0
    finally:
        here.close()
        if p.is_alive():
            p.terminate()
            p.join(timeout=5)
        p.close()
    return ready, total


def thread_once() -> tuple[float, float]:
    """One thread: (seconds until it ran, seconds until joined)."""
    ran = threading.Event()
    ran_at = [0.0]

    def target() -> None:
        ran_at[0] = time.perf_counter()
        ran.set()

    t = threading.Thread(target=target)
    t0 = time.perf_counter()
    t.start()
    ran.wait(60)
    t.join()
    return ran_at[0] - t0, time.perf_counter() - t0


def pool_cold_start(make_pool: Any) -> float:
    """Seconds to create a pool, run one trivial task, and shut it down."""
    t0 = time.perf_counter()
    with make_pool() as pool:
        pool.submit(nothing).result(timeout=60)
    return time.perf_counter() - t0


def run(
    quick: bool,
    *,
    repeats: int | None = None,
    methods: Sequence[str] | None = None,
    pool_workers: int = 2,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "thread": {...}, "methods": [...], "pools": [...]}``; a method row is
    ``{"method", "first_s", "ready_s": [..], "total_s": [..], "ready_median_s",
    "total_median_s", "skipped"}``."""
    progress = progress or no_progress
    repeats = repeats if repeats is not None else (3 if quick else 10)
    available = multiprocessing.get_all_start_methods()
    methods = [m for m in (methods or ("fork", "forkserver", "spawn")) if m in available]

    progress("threads (the yardstick)")
    thread_times = [thread_once() for _ in range(max(repeats, 10))]
    thread = {"ready_s": [t[0] for t in thread_times], "total_s": [t[1] for t in thread_times],
              "ready_median_s": median([t[0] for t in thread_times]),
              "total_median_s": median([t[1] for t in thread_times])}

    rows = []
    for method in methods:
        row: dict[str, Any] = {"method": method, "first_s": None, "ready_s": [], "total_s": [],
                               "ready_median_s": None, "total_median_s": None, "skipped": None}
        if method == "fork" and threading.active_count() > 1:
            row["skipped"] = (f"this process has {threading.active_count()} threads; forking "
                              "it could deadlock the child")
            rows.append(row)
            continue
        progress(f"starting {repeats} children with {method}")
        ctx = multiprocessing.get_context(method)
        first_ready, _ = start_once(ctx)  # includes the fork server's own start, if any
        row["first_s"] = first_ready
        times = [start_once(ctx) for _ in range(repeats)]
        row["ready_s"] = [t[0] for t in times]
        row["total_s"] = [t[1] for t in times]
        row["ready_median_s"] = median(row["ready_s"])
        row["total_median_s"] = median(row["total_s"])
        rows.append(row)

    pools = []
    pool_method = "forkserver" if "forkserver" in available else "spawn"
    progress(f"cold pools ({pool_workers} workers)")
    pool_ctx = multiprocessing.get_context(pool_method)
    pool_repeats = 1 if quick else 3
    process_pool = [pool_cold_start(lambda: cf.ProcessPoolExecutor(pool_workers,
                                                                   mp_context=pool_ctx))
                    for _ in range(pool_repeats)]
    thread_pool = [pool_cold_start(lambda: cf.ThreadPoolExecutor(pool_workers))
                   for _ in range(max(pool_repeats, 5))]
    pools.append({"pool": "process-pool", "start_method": pool_method, "workers": pool_workers,
                  "seconds": process_pool, "median_s": median(process_pool)})
    pools.append({"pool": "thread-pool", "start_method": None, "workers": pool_workers,
                  "seconds": thread_pool, "median_s": median(thread_pool)})

    return {
        "params": {"repeats": repeats, "methods": methods, "pool_workers": pool_workers},
        "thread": thread,
        "methods": rows,
        "pools": pools,
    }
