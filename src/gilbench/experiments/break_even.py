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

The engines people grow into run the same sweep beside the stdlib pools, each warm and with
``usable_cores`` workers, where installed: ``joblib-loky`` and ``joblib-threads`` (one
``Parallel`` kept open), ``dask-processes`` and ``dask-threads`` (a ``LocalCluster`` on
127.0.0.1, ``client.map``), ``interpreter-pool`` (on 3.13 its executor's subinterpreter path,
as in ``gilbench run``): their ``gilbench.executors``, started for one kind at a time (the
task is the executors' own, ``timed_task``). One missing is listed with the reason
(``engines``), never fails the experiment; one that cannot start for a kind says why in that
kind's points (``errors``). Every executor's *per-task overhead* is measured
too: the round trip of an empty task (a chunk with no number to test; best of ``repeats``
batches, divided by the batch size).
``RULES_OF_THUMB`` are the engines' published figures, kept beside this host's as data.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import math
import time
from typing import Any, Callable, Iterator, Sequence

from gilbench import executors, host
from gilbench.errors import one_line

from ._common import (CPU_KERNEL, Progress, cpu_variant, mp_context, no_progress,
                      variant_unavailable)

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
#: optional engines swept beside the stdlib pools, where installed
ENGINES = ("joblib-loky", "joblib-threads", "dask-processes", "dask-threads", "interpreter-pool")
#: what the engines' own documents and issues say, quoted beside this host's measurements
RULES_OF_THUMB = [
    {"engine": "dask", "source": "Dask documentation (best practices, scheduling overhead)",
     "claim": "each task costs about 0.2-1 ms of overhead; tasks faster than ~100 ms may see no "
              "speedup", "overhead_us": [200, 1000], "break_even_us": 100_000},
    {"engine": "ray", "source": "Ray documentation (tips for first-time users)",
     "claim": "tasks should take more than ~10 ms; below that, overhead dominates",
     "overhead_us": None, "break_even_us": 10_000},
    {"engine": "joblib", "source": "joblib documentation (Parallel, batch_size='auto')",
     "claim": "auto-batching groups tasks so that a batch takes ~0.2-2 s",
     "overhead_us": None, "break_even_us": None, "batch_s": [0.2, 2.0]},
    {"engine": "joblib", "source": "joblib issue #1830 (Python 3.14t)",
     "claim": "Parallel cost 206-339 us per call against 83 us for a ThreadPoolExecutor",
     "overhead_us": [206, 339], "thread_pool_overhead_us": 83, "break_even_us": None},
]
#: empty tasks per batch when measuring the per-task overhead
OVERHEAD_TASKS, QUICK_OVERHEAD_TASKS = 200, 50
#: a pool "wins" at a task size when its time is below this fraction of the serial time
WIN_RATIO = 0.9


#: the task of the per-task overhead: a chunk with no number to test
EMPTY_CHUNK = (3, 3, 2)


def _task(variant: str, chunk: tuple[int, int, int]) -> int:
    """Worker: one task (looked up by name, so it pickles as a reference)."""
    return cpu_variant(variant)(chunk)


#: a way to run tasks of one variant: chunks -> results in order
Mapper = Callable[[list], list]


def stdlib_mappers(variant: str, thread_pool: cf.Executor,
                   process_pool: cf.Executor) -> dict[str, Mapper]:
    """Serial and the two warm stdlib pools, running ``variant``."""
    return {
        "serial": lambda chunks: [_task(variant, c) for c in chunks],
        "thread-pool": lambda chunks: list(thread_pool.map(
            _task, itertools.repeat(variant, len(chunks)), chunks)),
        "process-pool": lambda chunks: list(process_pool.map(
            _task, itertools.repeat(variant, len(chunks)), chunks)),
    }


@contextlib.contextmanager
def engine_mappers(workers: int, variant: str, names: Sequence[str] = ENGINES
                   ) -> Iterator[tuple[dict[str, Mapper], dict[str, str]]]:
    """Warm mappers running ``variant`` on the engines ``names`` that are installed and can
    run it, each the engine's executor (``gilbench.executors``) started, and why the others
    cannot; every executor started here is closed on exit (aborted after a failed run)."""
    mappers: dict[str, Mapper] = {}
    missing: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name in names:
            cls = executors.get(name)
            reason = cls.unavailable_reason() or cls.variant_unavailable_reason(CPU_KERNEL,
                                                                                variant)
            if not reason:
                try:  # an engine that fails to start is reported, not fatal
                    mappers[name] = _started(cls(CPU_KERNEL, variant, workers, START), stack)
                except Exception as exc:
                    reason = one_line(exc, line="all")[:300]
            if reason:
                missing[name] = reason
        yield mappers, missing


def _started(executor: executors.Executor, stack: contextlib.ExitStack) -> Mapper:
    """``executor`` started, as a mapper; closed when ``stack`` exits (aborted if a start or
    a run failed)."""
    failed = False
    try:
        executor.start()
    except BaseException:
        executor.abort()
        raise
    stack.callback(lambda: executor.abort() if failed else executor.close())

    def go(chunks: list) -> list:
        nonlocal failed
        try:
            return executor.run(chunks).partials
        except BaseException:
            failed = True
            raise
    return go


def per_task_overhead_us(mappers: dict[str, Mapper], tasks: int, repeats: int) -> dict:
    """Microseconds per empty task (``EMPTY_CHUNK``) for each mapper: the best of ``repeats``
    batches of ``tasks`` empty tasks (after one warm-up batch), divided by ``tasks``."""
    out: dict[str, float | None] = {}
    chunks = [EMPTY_CHUNK] * tasks
    for name, go in mappers.items():
        try:
            go(chunks[:4])  # warm-up: workers up, modules imported
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                go(chunks)
                best = min(best, time.perf_counter() - t0)
            out[name] = best / tasks * 1e6
        except Exception:  # e.g. a subinterpreter that cannot import this module
            out[name] = None
    return out


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


def _sweep(kind: str, maps: dict[str, Mapper], failed: dict[str, str], *,
           task_us: list[float], workers: int, total_s: float, max_tasks: int, repeats: int,
           progress: Progress) -> dict[str, Any]:
    """One kind's sweep over the task sizes on ``maps`` (serial first) and on the engines of
    ``failed`` (those that could not start for it: each point says why, under ``errors``)."""
    why = variant_unavailable(kind)
    if why is not None:
        return {"points": [], "break_even": {}, "error": f"unavailable: {why}"}
    progress(f"{kind}: cost per number")
    cost = per_number_s(kind)
    plan = []
    names = sorted([*maps, *failed], key=[*EXECUTORS, *ENGINES].index)
    for target in task_us:
        k = max(1, round(target * 1e-6 / cost))
        tasks = int(min(max_tasks, max(4 * workers, total_s / (k * cost))))
        chunk = (START, START + 2 * k, 2)
        plan.append({"target_us": target, "k": k, "tasks": tasks, "chunk": chunk,
                     "times": {e: [] for e in names}, "results": {},
                     "errors": dict(failed)})
    fn = cpu_variant(kind)
    for r in range(repeats):
        # interleaved: each repeat sweeps every size and executor, so drift hits all
        for i, p in enumerate(plan, 1):
            progress(f"{kind}: repeat {r + 1}/{repeats}, size {i}/{len(plan)}")
            chunks = [p["chunk"]] * p["tasks"]
            for executor, go in maps.items():
                if executor == "serial":  # the kernel called directly: no wrapper
                    t0 = time.perf_counter()
                    results = [fn(c) for c in chunks]
                elif executor in p["errors"]:
                    continue
                else:
                    t0 = time.perf_counter()
                    try:
                        results = go(chunks)
                    except Exception as exc:  # e.g. NumPy in a subinterpreter
                        p["errors"][executor] = one_line(exc, line="all")[:300]
                        continue
                p["times"][executor].append(time.perf_counter() - t0)
                p["results"][executor] = sum(results)
    points = []
    for p in plan:
        serial = min(p["times"]["serial"])
        point = {"target_us": p["target_us"], "k": p["k"], "tasks": p["tasks"],
                 "task_us": serial / p["tasks"] * 1e6,
                 "results_agree": len(set(p["results"].values())) == 1}
        for executor in names:
            times = p["times"][executor]
            point[f"{executor}_s"] = min(times) if times else None
            point[f"{executor}_times_s"] = times
        if p["errors"]:
            point["errors"] = p["errors"]
        points.append(point)
    return {
        "per_number_s": cost,
        "points": points,
        "break_even": {e: break_even(points, e) for e in names if e != "serial"},
        "error": None,
    }


def run(
    quick: bool,
    *,
    task_us: Sequence[float] | None = None,
    kinds: Sequence[str] = KINDS,
    workers: int | None = None,
    total_s: float | None = None,
    max_tasks: int = 1_000,
    repeats: int | None = None,
    engines: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"overhead_us": {executor: us}, "engines": {"ran", "unavailable"},
    "rules_of_thumb", "params", "sweeps": {kind: {"points": [...], "break_even": {executor:
    ...}}}}``; a point is ``{"target_us", "k", "tasks", "task_us", "serial_s",
    "<executor>_s", "<executor>_times_s", "results_agree"}`` (``errors`` by executor when an
    engine could not run that kind). ``engines=False`` sweeps the stdlib pools only."""
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
        sweep = {"task_us": task_us, "workers": workers, "total_s": total_s,
                 "max_tasks": max_tasks, "repeats": repeats, "progress": progress}
        # the engines are executors started for one variant: the empty tasks run on those of
        # the python kind, the other kinds start their own in turn
        with engine_mappers(workers, "python", ENGINES if engines else ()) as (engine_maps,
                                                                                missing):
            maps = {**stdlib_mappers("python", thread_pool, process_pool), **engine_maps}
            progress("per-task overhead (empty tasks)")
            overhead = per_task_overhead_us(
                maps, QUICK_OVERHEAD_TASKS if quick else OVERHEAD_TASKS, repeats)
            if "python" in kinds:
                sweeps["python"] = _sweep("python", maps, {}, **sweep)
        for kind in kinds:
            if kind in sweeps:
                continue
            names = list(engine_maps) if variant_unavailable(kind) is None else []
            with engine_mappers(workers, kind, names) as (kind_maps, kind_missing):
                sweeps[kind] = _sweep(kind, {**stdlib_mappers(kind, thread_pool, process_pool),
                                             **kind_maps}, kind_missing, **sweep)
    sweeps = {kind: sweeps[kind] for kind in kinds}
    return {
        # executor -> us per empty task; engine -> why it did not run; the engines' own figures
        "overhead_us": overhead,
        "engines": {"ran": sorted(engine_maps), "unavailable": missing},
        "rules_of_thumb": RULES_OF_THUMB,
        "params": {"task_us": task_us, "kinds": list(kinds), "workers": workers,
                   "win_ratio": WIN_RATIO,
                   "total_s": total_s, "max_tasks": max_tasks, "repeats": repeats,
                   "start": START, "start_method": ctx.get_start_method()},
        "sweeps": sweeps,
    }
