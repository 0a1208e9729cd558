"""Break-even task size: below what size of task is a pool slower than doing it serially?

``tasks`` equal tasks (prime counting over ``k`` consecutive odd numbers near 100 001, so the
cost grows linearly with ``k``) run serially, on a warm ThreadPoolExecutor and on a warm
ProcessPoolExecutor (``usable_cores`` workers each, one task per submission: ``map`` with
chunksize 1), for task sizes swept from a few microseconds to ~10 ms of serial work. The task
size is reported as the *measured* serial time per task. Pool start-up is excluded (see the
``startup`` experiment); results are checked against the serial ones. Each time is the best
(minimum) of ``repeats`` interleaved runs: on a shared host other processes only ever add
time, and a median of a few runs still carries their noise.

Two task kinds: ``python`` (holds the GIL: a thread pool cannot beat serial at any size) and
``cython-nogil`` (releases it: a thread pool can, once a task outweighs the hand-off cost).
The break-even is where pool time / serial time falls below ``WIN_RATIO`` (0.9: a 10% margin,
so that noise on a shared host does not count as a win) and stays there, interpolated on log
axes.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import math
import time
from typing import Any, Sequence

from ._common import Progress, cpu_variant, mp_context, no_progress, variant_unavailable

NAME = "break-even"
TITLE = "Break-even task size for thread and process pools"
MEASURES = (
    "Time for N equal small CPU tasks serially, on a warm thread pool and on a warm process "
    "pool (usable-cores workers, one task per submission), as the task size grows; the task "
    "size above which each pool beats serial."
)
CLAIMS = ("process-startup-cost",)

START = 100_001  # odd; numbers this size cost about the same to test, so cost ~ k
TASK_US = (3, 10, 30, 100, 300, 1_000, 3_000, 10_000)
QUICK_TASK_US = (10, 100, 1_000)
KINDS = ("python", "cython-nogil")
EXECUTORS = ("serial", "thread-pool", "process-pool")
#: a pool "wins" at a task size when its time is below this fraction of the serial time
WIN_RATIO = 0.9


def _task(variant: str, chunk: tuple[int, int, int]) -> int:
    """Worker: one task (looked up by name, so it pickles as a reference)."""
    return cpu_variant(variant)(chunk)


def per_number_s(variant: str) -> float:
    """Seconds per odd number tested just above START, for ``variant``.

    The fastest of repeated calls on a chunk of about 0.5 ms (~20 ms in all), not one huge
    chunk: numbers far above START cost more (trial division costs ~sqrt(n)).
    """
    fn = cpu_variant(variant)
    k = 16
    while True:
        t0 = time.perf_counter()
        fn((START, START + 2 * k, 2))
        if time.perf_counter() - t0 > 5e-4 or k > 1 << 20:
            break
        k *= 2
    # the fastest of ~20 ms of calls: preemption by other tenants only ever adds time
    best = float("inf")
    end = time.perf_counter() + 0.02
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn((START, START + 2 * k, 2))
        best = min(best, time.perf_counter() - t0)
    return best / k


def break_even(points: list[dict], executor: str) -> dict[str, Any]:
    """Where ``executor``'s time / serial time falls below 1 and stays there.

    Returns ``{"task_us": estimate or None, "between_us": [lo, hi] or None, "rule", "note"}``;
    ``task_us`` is interpolated on log-log axes between the last size where the pool lost and
    the first where it won (time below ``WIN_RATIO`` x serial) for good.
    """
    ratios = [(p["task_us"], p[f"{executor}_s"] / p["serial_s"]) for p in points
              if p.get(f"{executor}_s") and p.get("serial_s")]
    rule = (f"the task size from which the pool takes under {WIN_RATIO:g} x the serial time at "
            "every larger size (interpolated on log axes)")
    if not ratios:
        return {"task_us": None, "between_us": None, "rule": rule, "note": "not measured"}
    first_win = None
    for i in range(len(ratios) - 1, -1, -1):
        if ratios[i][1] < WIN_RATIO:
            first_win = i
        else:
            break
    if first_win is None:
        return {"task_us": None, "between_us": None, "rule": rule,
                "note": f"never {1 - WIN_RATIO:.0%} faster than serial up to "
                        f"{ratios[-1][0]:.3g} us per task"}
    if first_win == 0:
        return {"task_us": None, "between_us": [None, ratios[0][0]], "rule": rule,
                "note": f"{1 - WIN_RATIO:.0%} faster than serial already at "
                        f"{ratios[0][0]:.3g} us per task"}
    (x0, r0), (x1, r1) = ratios[first_win - 1], ratios[first_win]
    # interpolate log(ratio) against log(size) to ratio = WIN_RATIO
    lx0, lx1 = math.log(x0), math.log(x1)
    lr0, lr1, lw = math.log(r0), math.log(r1), math.log(WIN_RATIO)
    estimate = math.exp(lx0 + (lx1 - lx0) * (lr0 - lw) / (lr0 - lr1)) if lr0 != lr1 else x1
    return {"task_us": estimate, "between_us": [x0, x1], "rule": rule, "note": None}


def run(
    quick: bool,
    *,
    task_us: Sequence[float] | None = None,
    kinds: Sequence[str] = KINDS,
    workers: int | None = None,
    total_s: float | None = None,
    max_tasks: int = 1_000,
    repeats: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "sweeps": {kind: {"points": [...], "break_even": {executor:
    ...}}}}``; a point is ``{"target_us", "k", "tasks", "task_us", "serial_s",
    "thread-pool_s", "process-pool_s", "<executor>_times_s", "results_agree"}``."""
    from gilbench import host

    progress = progress or no_progress
    task_us = list(task_us or (QUICK_TASK_US if quick else TASK_US))
    workers = workers or host.usable_cores()
    total_s = total_s if total_s is not None else (0.03 if quick else 0.1)
    repeats = repeats if repeats is not None else (2 if quick else 5)
    ctx = mp_context()

    sweeps: dict[str, Any] = {}
    with cf.ThreadPoolExecutor(workers) as thread_pool, \
            cf.ProcessPoolExecutor(workers, mp_context=ctx) as process_pool:
        progress(f"warming {workers}-worker pools")
        # every process worker started and imported its modules before any timing
        list(process_pool.map(_task, ["python"] * workers * 4, [(3, 5, 2)] * workers * 4))
        list(thread_pool.map(_task, ["python"] * workers, [(3, 5, 2)] * workers))
        for kind in kinds:
            why = variant_unavailable(kind)
            if why is not None:
                sweeps[kind] = {"points": [], "break_even": {}, "error": f"unavailable: {why}"}
                continue
            progress(f"{kind}: cost per number")
            cost = per_number_s(kind)
            plan = []
            for target in task_us:
                k = max(1, round(target * 1e-6 / cost))
                tasks = int(min(max_tasks, max(4 * workers, total_s / (k * cost))))
                chunk = (START, START + 2 * k, 2)
                plan.append({"target_us": target, "k": k, "tasks": tasks, "chunk": chunk,
                             "times": {e: [] for e in EXECUTORS}, "results": {}})
            fn = cpu_variant(kind)
            for r in range(repeats):
                # interleaved: each repeat sweeps every size and executor, so drift hits all
                for i, p in enumerate(plan, 1):
                    progress(f"{kind}: repeat {r + 1}/{repeats}, size {i}/{len(plan)}")
                    chunks = [p["chunk"]] * p["tasks"]
                    runs = {
                        "serial": lambda: [fn(c) for c in chunks],
                        "thread-pool": lambda: list(thread_pool.map(
                            _task, itertools.repeat(kind, len(chunks)), chunks)),
                        "process-pool": lambda: list(process_pool.map(
                            _task, itertools.repeat(kind, len(chunks)), chunks)),
                    }
                    for executor, go in runs.items():
                        t0 = time.perf_counter()
                        results = go()
                        p["times"][executor].append(time.perf_counter() - t0)
                        p["results"][executor] = sum(results)
            points = []
            for p in plan:
                serial = min(p["times"]["serial"])
                point = {"target_us": p["target_us"], "k": p["k"], "tasks": p["tasks"],
                         "task_us": serial / p["tasks"] * 1e6,
                         "results_agree": len(set(p["results"].values())) == 1}
                for executor in EXECUTORS:
                    point[f"{executor}_s"] = min(p["times"][executor])
                    point[f"{executor}_times_s"] = p["times"][executor]
                points.append(point)
            sweeps[kind] = {
                "per_number_s": cost,
                "points": points,
                "break_even": {e: break_even(points, e) for e in ("thread-pool", "process-pool")},
                "error": None,
            }
    return {
        "params": {"task_us": task_us, "kinds": list(kinds), "workers": workers,
                   "win_ratio": WIN_RATIO,
                   "total_s": total_s, "max_tasks": max_tasks, "repeats": repeats,
                   "start": START, "start_method": ctx.get_start_method()},
        "sweeps": sweeps,
    }
