"""Race hunting for the user's function (``gilbench try --stress N``): ``stress(...)``.

A race shows only sometimes, so one threaded run that agrees with the serial run proves little.
``stress`` runs the whole task list N times under W threads, for every worker count W of the
run that is at least 2 (one thread has nobody to race with), and compares every result with
the serial run's. The threads wait at a barrier and then call the function on their share of
the tasks (task i goes to thread i mod W), so they start together and overlap as much as the
host lets them; nothing else is shared between them, so every interleaving comes from the
function itself.

On a build with the GIL, threads switch only at the interpreter's switch points, every
``sys.getswitchinterval()`` (5 ms by default): a read-modify-write that takes less than that
rarely interleaves. While stressing, the interval is set to ``SWITCH_INTERVAL_S`` (1 µs) and
restored afterwards, so that the switches, and the races they expose, come often. On a
free-threaded build with the GIL off the threads run at once, and the interval changes nothing.

The outcome (a plain dict, stored as the results document's ``workload.stress``) counts the
runs whose results differed at each worker count, and names the first mismatch: worker count,
run number (from 1), task index (from 0), the expected and the got result as shortened reprs.
"""

from __future__ import annotations

import reprlib
import sys
import threading
import time
from typing import Any, Callable, Sequence

from gilbench.errors import one_line
from gilbench.kernels.user import _equal

#: the switch interval while stressing on a build with the GIL: a switch every microsecond
SWITCH_INTERVAL_S = 1e-6
#: the families whose executors run the function in this interpreter's threads: the ones a
#: failed stress test rules out (threads, thread pool, asyncio.to_thread, joblib/dask threads)
THREAD_FAMILIES = frozenset({"threads"})

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to about 60 characters (results can be megabytes)."""
    try:
        return _REPR.repr(value)
    except Exception as exc:  # a broken __repr__ must not hide the mismatch
        return f"<{type(value).__name__}: repr failed: {one_line(exc, line='last')}>"


def gil_enabled() -> bool:
    """Whether this interpreter runs with the GIL now (always, before free-threaded builds)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def stress_workers(counts: Sequence[int]) -> list[int]:
    """The worker counts to stress at: those of the run that are at least 2, or [2]."""
    return sorted({w for w in counts if w >= 2}) or [2]


class _Failed:
    """A task that raised (or never returned) in a stressed run, in place of its result."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return self.what


_NOT_RUN = _Failed("no result: the run did not finish")


def run_once(fn: Callable, tasks: Sequence[tuple], workers: int, timeout_s: float) -> list:
    """One run of every task under ``workers`` threads started together; the results in task
    order (a task that raised holds a ``_Failed`` saying what it raised). Threads still
    running after ``timeout_s`` are left behind (daemon threads) and their tasks hold
    ``_NOT_RUN``.

    The threads meet at a spinning barrier, not ``threading.Barrier``: a thread woken from a
    lock can wait for a CPU until the thread that woke it has finished its whole share (seen
    on 3.13t on a busy 2-core host: the second thread started 38 ms later, exactly when the
    first ended, in 5 runs of 8), so the threads never overlapped and a race never showed.
    Spinning keeps every thread on a CPU until all have arrived."""
    results: list[Any] = [_NOT_RUN] * len(tasks)
    arrived = [0]
    arriving = threading.Lock()
    deadline = time.monotonic() + timeout_s

    def work(first: int) -> None:
        with arriving:
            arrived[0] += 1
        while arrived[0] < workers:
            if time.monotonic() > deadline:
                return
        for i in range(first, len(tasks), workers):
            try:
                results[i] = fn(*tasks[i])
            except Exception as exc:
                results[i] = _Failed(f"raised {one_line(exc, line='last')}")

    threads = [threading.Thread(target=work, args=(k,), daemon=True,
                                name=f"gilbench-stress-{k}") for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0.0))
    return list(results)  # a copy: a thread left behind may still write into ``results``


def stress(fn: Callable, tasks: Sequence[tuple], expected: Sequence[Any], runs: int,
           counts: Sequence[int], *, compare: Callable[[Any, Any], bool] | None = None,
           timeout_s: float = 60.0, switch_interval_s: float = SWITCH_INTERVAL_S,
           name: str = "the function",
           say: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Run ``tasks`` ``runs`` times under threads at each count of ``stress_workers(counts)``;
    every result is compared with ``expected`` (the serial run's) by ``compare`` (default ==).

    Returns the outcome: ``verdict`` ``"failed"`` (some run differed, raised or hung) or
    ``"passed"``; ``mismatched_runs`` of ``total_runs``; per worker count its ``runs`` and
    ``mismatched``; ``first`` (workers, run, task, expected, got) or None; the switch interval
    used (None when the GIL was off), the seconds it took, and ``text``: all that in one
    sentence about ``name`` (the terminal, the report and the advice quote it). A run that
    does not finish
    within ``timeout_s`` fails the test and ends it (its threads cannot be stopped)."""
    if runs < 1:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    if len(expected) != len(tasks):
        raise ValueError(f"{len(expected)} expected results for {len(tasks)} tasks")
    agree = compare or _equal
    workers = stress_workers(counts)
    with_gil = gil_enabled()
    outcome: dict[str, Any] = {
        "runs": runs, "workers": workers, "tasks": len(tasks), "gil_enabled": with_gil,
        "switch_interval_s": switch_interval_s if with_gil else None,
        "per_workers": {}, "first": None, "hung": None,
    }
    started = time.perf_counter()
    previous = sys.getswitchinterval()
    if with_gil:
        sys.setswitchinterval(switch_interval_s)
    try:
        for w in workers:
            bad = done = 0
            say(f"stress: {runs} runs of {len(tasks)} tasks under {w} threads")
            for run in range(1, runs + 1):
                got = run_once(fn, tasks, w, timeout_s)
                done += 1
                wrong = [i for i, (g, e) in enumerate(zip(got, expected))
                         if isinstance(g, _Failed) or not _agrees(agree, g, e)]
                if wrong:
                    bad += 1
                    if outcome["first"] is None:
                        i = wrong[0]
                        outcome["first"] = {"workers": w, "run": run, "task": i,
                                            "expected": short_repr(expected[i]),
                                            "got": short_repr(got[i])}
                if any(g is _NOT_RUN for g in got):
                    outcome["hung"] = (f"run {run} at {w} threads did not finish within "
                                       f"{timeout_s:g} s (a deadlock?); the stress test stopped")
                    break
            outcome["per_workers"][str(w)] = {"runs": done, "mismatched": bad}
            if outcome["hung"]:
                break
    finally:
        sys.setswitchinterval(previous)
    counted = outcome["per_workers"].values()
    outcome["total_runs"] = sum(p["runs"] for p in counted)
    outcome["mismatched_runs"] = sum(p["mismatched"] for p in counted)
    outcome["verdict"] = "failed" if outcome["mismatched_runs"] else "passed"
    outcome["seconds"] = round(time.perf_counter() - started, 3)
    outcome["text"] = stress_words(outcome, name)
    return outcome


def _agrees(agree: Callable[[Any, Any], bool], got: Any, expected: Any) -> bool:
    try:
        return bool(agree(got, expected))
    except Exception:  # a comparison that cannot decide is not agreement
        return False


def not_run(reason: str, runs: int) -> dict[str, Any]:
    """The outcome of a stress test that could not run (e.g. the serial check run failed)."""
    outcome = {"runs": runs, "verdict": "not run", "reason": reason, "first": None,
               "total_runs": 0, "mismatched_runs": 0}
    return {**outcome, "text": stress_words(outcome)}


def stress_words(outcome: dict | None, fn: str = "the function") -> str:
    """The stress outcome in one sentence (the terminal, the report and the advice share it)."""
    if not outcome:
        return ""
    if outcome.get("verdict") == "not run":
        return f"The stress test did not run: {outcome.get('reason')}."
    counts = ", ".join(f"{p['mismatched']} of {p['runs']} at {w} threads"
                       for w, p in (outcome.get("per_workers") or {}).items())
    how = (f"with the switch interval at {outcome['switch_interval_s']:g} s"
           if outcome.get("switch_interval_s") else "with the GIL off")
    first = outcome.get("first")
    if outcome.get("verdict") != "failed" or not first:
        return (f"`{fn}` passed the stress test: every result of {outcome.get('total_runs')} "
                f"threaded runs ({counts}; {how}) equals the serial run's.")
    hung = f"; {outcome['hung']}" if outcome.get("hung") else ""
    return (f"`{fn}` failed the stress test: {outcome['mismatched_runs']} of "
            f"{outcome['total_runs']} threaded runs differ from the serial run ({counts}; "
            f"{how}); first in run {first['run']} at {first['workers']} threads, task "
            f"{first['task']}: expected {first['expected']}, got {first['got']}{hung}.")
