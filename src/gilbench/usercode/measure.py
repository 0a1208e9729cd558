"""Measuring a ``Workload``: a serial check run, the executor matrix (the engine of
``gilbench run`` without calibration), each executor's cost per task, the GIL check and the
recommendation, all in one results document with a ``workload`` section."""

from __future__ import annotations

import math
import os
import pickle
import tempfile
import time
import traceback
from typing import Any, Callable, Iterable, Sequence

from gilbench import executors, host, kernels, results
from gilbench.errors import UsageError, one_line
from gilbench.executors.base import RunTimeout, alarm
from gilbench.gilcheck import check_gil
from gilbench.kernels.user import EMPTY_TASK, VARIANT, spec_of
from gilbench.run.config import (MIN_TIMEOUT_S, RunConfig, check_options, default_timeout,
                                 default_workers)
from gilbench.run.matrix import error_cell, finish_document, plan, run_matrix, start_document
from gilbench.run.options import given_engine_options
from gilbench.stress import not_run, stress
from gilbench.usercode.advice import recommend
from gilbench.usercode.workload import Workload

# ---------------------------------------------------------------------------- facts


def pickle_costs(values: Sequence[Any], sample: int = 20) -> dict[str, Any]:
    """Mean pickled size and dumps+loads time per value (up to ``sample`` values), or the
    reason they cannot be pickled."""
    sizes, seconds = [], []
    for value in list(values)[:sample]:
        try:
            start = time.perf_counter()
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(data)
            seconds.append(time.perf_counter() - start)
        except Exception as exc:
            return {"error": one_line(exc, line="last")}
        sizes.append(len(data))
    return {"bytes": sum(sizes) / len(sizes), "seconds": sum(seconds) / len(seconds)}


def preflight(workload: Workload, timeout_s: float) -> dict[str, Any]:
    """One serial pass over every task in this thread, each timed: results, per-task seconds,
    the first failure (and its traceback). UsageError if the pass lasts longer than ``timeout_s`` (the function
    never returns), so nothing is written."""

    results: list[Any] = []
    task_s: list[float] = []
    error = trace = None
    started = time.perf_counter()
    try:
        with alarm(timeout_s, "the serial check run"):
            for i, args in enumerate(workload.tasks):
                t0 = time.perf_counter()
                try:
                    results.append(workload.fn(*args))
                except RunTimeout:
                    raise
                except Exception as exc:
                    error = f"task {i}: {one_line(exc, line='last')}"
                    trace = traceback.format_exc()
                    break
                task_s.append(time.perf_counter() - t0)
    except RunTimeout:
        raise UsageError(f"{workload.name} did not return within {timeout_s:g} s on task "
                         f"{len(results)} of the serial check run; fix it, or give a longer "
                         "--timeout") from None
    total = time.perf_counter() - started
    if total > timeout_s:  # not interruptible here (not the main thread, or C code)
        raise UsageError(f"the serial check run of {workload.name} took {total:.1f} s, over the "
                         f"{timeout_s:g} s limit; give fewer tasks or a longer --timeout")
    return {"results": results, "task_s": task_s, "total_s": total, "error": error,
            "traceback": trace}


def empty_task_cost(executor: str, workers: int, start_method: str | None,
                    timeout_s: float, n_tasks: int = 100, rounds: int = 3) -> dict[str, Any]:
    """Seconds per empty task through ``executor`` at ``workers`` (one task per submission,
    warm pool): the median over ``rounds`` of (wall of ``n_tasks`` tasks) / ``n_tasks``."""

    cls = executors.get(executor)
    why = cls.unavailable_reason()
    if why:
        return {"error": f"executor unavailable: {why}"}
    kernels.get(EMPTY_TASK)
    chunks = [((),)] * n_tasks
    ex = cls(EMPTY_TASK, VARIANT, workers, n_tasks, start_method if cls.uses_processes else None,
             timeout_s=timeout_s)
    try:
        ex.start()
        ex.run(chunks)  # warm-up: pool start-up is not a per-task cost
        walls = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            ex.run(chunks)
            walls.append(time.perf_counter() - t0)
        ex.close()
    except Exception as exc:
        ex.abort()
        return {"error": one_line(exc, line="last")}
    walls.sort()
    return {"per_task_s": walls[len(walls) // 2] / n_tasks, "workers": workers}


def break_even_s(per_task_s: float, workers: int) -> float:
    """The task duration below which ``workers`` workers cannot beat serial when each task costs
    ``per_task_s`` extra: n·d > n·d/W + n·c  <=>  d > c·W/(W−1)."""
    if workers < 2:
        return math.inf
    return per_task_s * workers / (workers - 1)


# ---------------------------------------------------------------------------- measuring


def default_executors() -> list[str]:
    """Serial, the thread executors, a process pool, and subinterpreters where Python has them."""

    names = ["serial", "threads", "thread-pool", "asyncio-to-thread", "process-pool"]
    if not executors.get("interpreters").unavailable_reason():
        names.append("interpreters")
    return names


def _cannot_run(workload: Workload, executor: str, start_method: str | None,
                args_cost: dict, results_cost: dict) -> str | None:
    """Why ``executor`` cannot run this workload at all (its cells fail with it), or None."""

    cls = executors.get(executor)
    crosses = cls.uses_processes or cls.family == "interpreters"
    if not crosses:
        return None
    if "error" in args_cost:
        return (f"the arguments cannot be pickled ({args_cost['error']}); process workers need "
                "picklable arguments (the thread executors ran)")
    if "error" in results_cost:
        return (f"the results cannot be pickled ({results_cost['error']}); process workers must "
                "send them back (the thread executors ran)")
    fresh = cls.family == "interpreters" or start_method != "fork"
    if fresh and not workload.importable:
        where = ("the script's __main__" if workload.name.startswith(("__main__:", "__mp_main__:"))
                 else "a place no other interpreter can import (a local function or a lambda)")
        how = "subinterpreters" if cls.family == "interpreters" else f"{start_method} workers"
        return (f"{workload.function_name} is defined in {where}, which {how} cannot import: "
                "move it into a module (e.g. mywork.py) and pass mywork.function"
                + ("" if cls.family == "interpreters" else ", or use start method fork"))
    return None


def measure(workload: Workload, *, executors_: Sequence[str] | None = None,
            workers: Sequence[int] | None = None, repeats: int | None = None,
            max_repeats: int | None = None,
            quick: bool = False, start_method: str | None = None, timeout_s: float | None = None,
            out: str | os.PathLike | None = None, argv: Sequence[str] | None = None,
            stress: int | None = None, dask_scheduler: str | None = None,
            max_wait_s: float | None = None,
            say: Callable[[str], None] = lambda text: None) -> dict:
    """Measure ``workload`` under the executor matrix; returns the results document (written
    to ``out`` as cells finish, when given) with a ``workload`` section and a recommendation.
    ``stress`` N also runs the tasks N times under threads at each worker count and compares
    every result with the serial run's (``gilbench.stress``; ``workload.stress``).
    ``dask_scheduler`` (else ``$GILBENCH_DASK_SCHEDULER``) is the cluster of the executor
    ``dask``, as ``gilbench run --dask-scheduler`` takes it; ``max_wait_s`` the seconds the
    run may wait for a busy host to settle, as ``gilbench run --max-wait`` takes it.

    Every check that can fail on the user's input runs before anything is written: the run
    options through ``run.config.check_options``, as ``gilbench run`` and ``try`` check them."""


    names = list(executors_ or default_executors())
    engine = given_engine_options({"dask_scheduler": dask_scheduler}.get)
    repeats, method = check_options(executors=names, workers=workers, repeats=repeats,
                                    max_repeats=max_repeats, start_method=start_method,
                                    timeout_s=timeout_s, max_wait_s=max_wait_s, **engine)
    scheduler = engine["dask_scheduler"]
    if "serial" not in names:
        names.insert(0, "serial")
    usable = host.usable_cores()
    counts = sorted(set(workers or default_workers(host.ceiling(), quick)))
    if stress is not None and (isinstance(stress, bool) or not isinstance(stress, int)
                               or stress < 1):
        raise UsageError(f"stress is the number of threaded runs to compare with the serial "
                         f"run: a positive integer such as 100, got {stress!r}")
    started = time.perf_counter()
    say(f"checking {workload.name} on {len(workload.tasks)} tasks, serially")
    check = preflight(workload, timeout_s or MIN_TIMEOUT_S)
    limit = timeout_s or default_timeout(check["total_s"])
    args_cost = pickle_costs(workload.tasks)
    results_cost = pickle_costs(check["results"]) if check["results"] else {"bytes": 0.0,
                                                                            "seconds": 0.0}
    kernel = workload.kernel
    config = RunConfig(kernels=[workload.name], variants=[VARIANT], executors=names,
                       workers=counts, repeats=repeats, max_repeats=max_repeats,
                       target_time_s=max(check["total_s"], 1e-6),
                       quick=quick, start_method=method,
                       sizes={workload.name: len(workload.tasks)}, timeout_s=limit,
                       dask_scheduler=scheduler.strip() if scheduler and "dask" in names
                       else None, max_wait_s=max_wait_s,
                       gil_check=False)  # measured below, on the user's first task
    config.prepare_engines()  # the Dask scheduler answers, before anything is written
    blocked = {name: why for name in names
               if (why := _cannot_run(workload, name, method, args_cost, results_cost))}
    specs = [s for _, _, group in plan(config) for s in group]
    skip = {s.key for s in specs if s.executor in blocked}
    command = list(argv) if argv is not None else ["gilbench.workload", workload.name]
    doc = start_document(config, command)
    doc["workload"] = {
        "function": workload.name, "tasks": len(workload.tasks),
        "compare": spec_of(workload.compare) if workload.compare else None,
        "importable": workload.importable, "check_error": check["error"],
        "check_traceback": check["traceback"],
        "task_s": _summary(check["task_s"]), "args_pickle": args_cost,
        "results_pickle": results_cost, "blocked": blocked,
    }
    with tempfile.TemporaryDirectory(prefix="gilbench-workload-") as tmp:
        writer = results.ResultsWriter(out if out is not None else os.path.join(tmp, "r.json"),
                                       doc)
        say(f"measuring {len(specs)} cells, {repeats} to {config.budget.max_rounds} paired rounds "
            f"each (time limit {limit:g} s/run)")
        run_matrix(config, writer, skip=skip)
        for spec in specs:
            if spec.key in skip:
                doc["cells"].append(error_cell(spec, kernel, blocked[spec.executor]))
        _explain_mismatches(doc)
        say("measuring each executor's cost per task and the GIL release")
        doc["workload"]["executors"] = _costs(doc, names, counts, usable, method, limit,
                                              args_cost, results_cost)
        doc["workload"]["gil"] = _gil(workload)
        if stress is not None:
            doc["workload"]["stress"] = _stress(workload, check, stress, counts, limit, say)
        doc["workload"]["recommendation"] = recommend(doc).as_dict()
        finish_document(writer, started)
    return doc


def _summary(values: Sequence[float]) -> dict[str, Any] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "min": ordered[0], "max": ordered[-1],
            "n": len(ordered)}


def _explain_mismatches(doc: dict) -> None:
    """Say in words what a result that differs from the serial run's (or from the cell's own
    first run) means; the engine's message quotes the results, which says little here."""
    for cell in doc["cells"]:
        error = cell.get("error") or ""
        if error.startswith("result ") and ("differs from the serial" in error
                                            or "changed between runs" in error):
            cell["error"] = ("results differ from serial: the function may not be thread-safe"
                             if cell.get("family") != "processes" else
                             "results differ from serial: the function may depend on state "
                             "its worker processes do not share")


def _costs(doc: dict, names: list[str], counts: list[int], usable: int, method: str,
           limit: float, args_cost: dict, results_cost: dict) -> dict[str, dict]:
    """Per executor: the empty-task round trip at W workers (the largest count <= usable cores,
    at least 2), the pickling cost per task for executors that cross a process or interpreter,
    and the break-even task duration."""

    at = max([w for w in counts if 2 <= w <= max(usable, 2)] or [2])
    costs: dict[str, dict] = {}
    for name in names:
        if name == "serial":
            continue
        cls = executors.get(name)
        entry = empty_task_cost(name, at, method, limit)
        crosses = cls.uses_processes or cls.family == "interpreters"
        if crosses and "error" not in args_cost and "error" not in results_cost:
            entry["pickle_s"] = args_cost["seconds"] + results_cost["seconds"]
            entry["args_bytes"] = args_cost["bytes"]
            entry["results_bytes"] = results_cost["bytes"]
        if "per_task_s" in entry:
            entry["per_task_s"] += entry.get("pickle_s", 0.0)
            entry["break_even_task_s"] = break_even_s(entry["per_task_s"], at)
        costs[name] = entry
    return costs


def _stress(workload: Workload, check: dict, runs: int, counts: Sequence[int], limit: float,
            say: Callable[[str], None]) -> dict[str, Any]:
    """The stress test's outcome (``gilbench.stress``), or why it did not run."""

    if check["error"]:
        return not_run(f"the serial check run failed on {check['error']}", runs)
    return stress(workload.fn, workload.tasks, check["results"], runs, counts,
                  compare=workload.compare, timeout_s=limit, name=workload.function_name,
                  say=say)


def _gil(workload: Workload) -> dict[str, Any]:
    """check_gil on the first task: the fraction of its run other threads progress."""
    try:
        r = check_gil(workload.fn, *workload.tasks[0])
    except Exception as exc:
        return {"verdict": "undecided", "fraction": None, "low": None, "high": None,
                "reason": f"the check failed: {one_line(exc, line='last')}"}
    return {"verdict": r.verdict, "fraction": r.fraction, "low": r.low, "high": r.high,
            "reason": r.reason}


def workload(fn: Callable | str, tasks: Iterable[tuple] | str, *,
             executors: Sequence[str] | None = None, workers: Sequence[int] | None = None,
             repeats: int | None = None, max_repeats: int | None = None,
             out: str | os.PathLike | None = None,
             compare: Callable[[Any, Any], bool] | None = None,
             stress: int | None = None, max_wait_s: float | None = None) -> dict:
    """Measure ``fn`` over ``tasks`` under serial, threads, a thread pool, asyncio.to_thread, a
    process pool (and subinterpreters where Python has them); returns the results document.

    ``tasks`` is a list of argument tuples (or ``"MODULE:FACTORY"``); ``fn`` a function (or
    ``"MODULE:FUNCTION"``). ``executors``/``workers``/``repeats`` as ``gilbench run`` takes
    them; ``out`` also writes the document there (``gilbench report OUT`` renders it);
    ``compare(a, b) -> bool`` decides whether two results of a task agree (default ``==``).
    The document's ``workload`` section holds the GIL check, each executor's cost per task,
    the break-even task durations and the recommendation (``["recommendation"]["text"]``).
    ``stress`` N runs the tasks N times under threads at each worker count, every result
    compared with the serial run's (``["stress"]``; the advice never picks threads for a
    function that fails it). ``max_wait_s``: seconds the run may wait in all for a busy host
    to settle (``gilbench run --max-wait``). Raises ``gilbench.errors.UsageError`` for bad
    input.
    """
    return measure(Workload(fn, tasks, compare), executors_=executors, workers=workers,
                   repeats=repeats, max_repeats=max_repeats, out=out, stress=stress,
                   max_wait_s=max_wait_s)
