"""``interpreters``: subinterpreters, each with its own GIL (PEP 684), where Python has them.

Each of the W workers is a subinterpreter created with the "isolated" configuration (its own
GIL, its own object allocator) and driven by one thread of the main interpreter, so W chunks run
at once, each under a different GIL. Two implementations, chosen by what the interpreter offers:

* 3.14+: ``concurrent.futures.InterpreterPoolExecutor`` (the public API): ``timed_task`` is
  submitted as in ``thread-pool``; the pool pickles the call and its result across interpreters.
* 3.13: the private ``_interpreters`` module (what 3.13's ``test.support.interpreters`` wraps).
  ``start()`` creates the interpreters and imports gilbench in each; every chunk is then one
  ``_interpreters.exec`` of a one-line script on the worker's interpreter, the chunk going in
  pickled (bytes are shareable) and ``(partial, cpu)`` coming back pickled through a
  cross-interpreter queue (``_interpqueues``), one per interpreter. The main-interpreter thread
  that calls ``exec`` waits with its own interpreter's GIL released, so the W threads overlap.

Extension modules must declare support for several interpreters with their own GIL. The Cython
twins without module state do (``subinterpreters_compatible=own_gil``, see setup.py), so their
variants run here; NumPy does not (numpy#24755), nor do the twins built on typed memoryviews.
``variant_unavailable_reason`` finds those in a throw-away subinterpreter before a run, so their
cells are listed as unavailable with the reason, not failed; ``start()`` still checks the
variant in every interpreter, so anything else that breaks there fails the cold run, saying why.

Time limit (3.13): code running in one interpreter cannot be interrupted from another, so each
interpreter runs a watchdog thread of its own during a run, which sends the task thread
``ThreadStopped`` at the deadline, as ``base.stop_task_threads`` does for ``threads``. A chunk
blocked in C code is abandoned (``lingering_threads``), as are 3.14 pool workers over the limit.
"""

from __future__ import annotations

import functools
import pickle
import re
import sys
import threading
import time
from typing import Any, Sequence

from gilbench import host, kernels
from gilbench.placement import pin_thread

from ._workers import ChunkQueue, start_and_join
from .base import (STOP_GRACE_S, Executor, RunResult, RunTimeout, collect, linger, lookup,
                   prepare_worker, timed_task)

#: _interpqueues "unbound item" policy: raise if the putting interpreter is gone (we read every
#: item right after the exec that put it, while the interpreter exists, so it never happens)
_UNBOUND_ERROR = 2
#: _interpqueues item format tag: we pass plain bytes (shareable) and unpickle ourselves
_FMT_SHARED = 0

# Run once in each new subinterpreter (its __main__ namespace): the same sys.path as the parent
# (so the same gilbench is imported), the kernel's per-worker set-up, and the variant looked up
# now so that a variant that cannot load in a subinterpreter fails in start(), with the reason.
_SETUP = """\
import sys
sys.path[:] = list(sys_path)
import pickle
import threading
import time
import _interpqueues
from gilbench.executors.base import lookup, prepare_worker, stop_task_threads, timed_task
prepare_worker(kernel_name, size)
lookup(kernel_name, variant_name)

def _gilbench_run(task):
    index, chunk = pickle.loads(task)
    partial, cpu = timed_task(kernel_name, variant_name, chunk)
    _interpqueues.put(qid, pickle.dumps((index, partial, cpu)), {fmt}, {unbound})

# The run's time limit is enforced from inside: code running in an interpreter cannot be
# interrupted from another one, but a thread of the same interpreter can send the task thread
# ThreadStopped (base.stop_task_threads), as the `threads` executor does.
_gilbench_watch = None

def _gilbench_watchdog(deadline, cancelled):
    if not cancelled.wait(max(0.0, deadline - time.monotonic())):
        stop_task_threads()

def _gilbench_arm(deadline):
    global _gilbench_watch
    cancelled = threading.Event()
    thread = threading.Thread(target=_gilbench_watchdog, args=(deadline, cancelled),
                              name="gilbench-watchdog")
    thread.start()
    _gilbench_watch = (thread, cancelled)

def _gilbench_disarm():
    # an interpreter cannot be destroyed while it has a thread: always joined here
    global _gilbench_watch
    if _gilbench_watch is not None:
        thread, cancelled = _gilbench_watch
        cancelled.set()
        thread.join()
        _gilbench_watch = None
""".format(fmt=_FMT_SHARED, unbound=_UNBOUND_ERROR)

_RUN = "_gilbench_run(task)"
_ARM = "_gilbench_arm(deadline)"
_DISARM = "_gilbench_disarm()"

#: how an extension that is not multi-interpreter-safe fails to import (CPython 3.12+)
_NOT_SUBINTERPRETER_SAFE = "does not support loading in subinterpreters"


class SubinterpreterError(RuntimeError):
    """Code failed inside a subinterpreter; the message is its exception, made one line."""


def _one_line(type_name: str, message: str) -> str:
    text = " ".join(": ".join(part for part in (type_name, message) if part).split())
    found = re.search(r"module (\S+) " + _NOT_SUBINTERPRETER_SAFE, text)
    if found:
        # load_extension's "reinstall with a C compiler" hint (and NumPy's page of install
        # advice) would be wrong: the extension is installed and works in the main interpreter,
        # it just does not declare itself safe for several (Py_mod_multiple_interpreters).
        module = found.group(1)
        if module.split(".")[0] == "numpy":
            return f"NumPy does not load in subinterpreters (numpy#24755: module {module} " \
                   f"{_NOT_SUBINTERPRETER_SAFE})"
        return (f"extension module {module} {_NOT_SUBINTERPRETER_SAFE} (a C extension must opt "
                "in: the Py_mod_multiple_interpreters slot, or Cython's directive "
                "subinterpreters_compatible)")
    return text


def _raise_excinfo(excinfo: Any, what: str) -> None:
    """Raise SubinterpreterError for the exception info ``_interpreters.exec`` returned."""
    type_name = getattr(getattr(excinfo, "type", None), "__name__", None) or "Exception"
    message = getattr(excinfo, "msg", None) or ""
    err = SubinterpreterError(f"{what} in a subinterpreter: {_one_line(type_name, message)}")
    err.traceback_text = getattr(excinfo, "errdisplay", None)  # type: ignore[attr-defined]
    raise err


def _backend() -> str:
    """``"pool"`` (3.14 InterpreterPoolExecutor), ``"interpreters"`` (3.13) or ``""``."""
    import concurrent.futures as cf

    if hasattr(cf, "InterpreterPoolExecutor"):
        return "pool"
    try:
        import _interpreters  # noqa: F401
        import _interpqueues  # noqa: F401
    except ImportError:
        return ""
    return "interpreters"


# Run in a throw-away subinterpreter by _unloadable, then one lookup per variant.
_PROBE = """\
import sys
sys.path[:] = list(sys_path)
from gilbench.executors.base import lookup
"""


@functools.lru_cache(maxsize=None)
def _unloadable(kernel_name: str) -> dict[str, str]:
    """The variants of ``kernel_name`` (available here) that cannot be loaded in an isolated
    subinterpreter, each with the reason in one line. Once per kernel and process: about 0.15 s
    (one interpreter, importing gilbench). Empty where gilbench itself does not import there:
    then ``start()`` fails, with that reason."""
    import _interpreters

    variants = [v.name for v in kernels.get(kernel_name).available_variants()]
    reasons: dict[str, str] = {}
    iid = _interpreters.create("isolated")
    try:
        if _interpreters.exec(iid, _PROBE, shared={"sys_path": tuple(sys.path)}) is not None:
            return {}
        for name in variants:
            excinfo = _interpreters.exec(iid, "lookup(kernel_name, variant_name)",
                                         shared={"kernel_name": kernel_name,
                                                 "variant_name": name})
            if excinfo is not None and excinfo.type.__name__ == "VariantUnavailable":
                # "kernel/variant: why": the cell already names the variant
                reasons[name] = _one_line("", (excinfo.msg or "").split(": ", 1)[-1])
    finally:
        _interpreters.destroy(iid)
    return reasons


def _init_pool_worker(sys_path: tuple, kernel_name: str, variant_name: str, size: int) -> None:
    """InterpreterPoolExecutor initializer: the parent's sys.path, set-up, variant check."""
    sys.path[:] = list(sys_path)
    prepare_worker(kernel_name, size)
    lookup(kernel_name, variant_name)


class InterpretersExecutor(Executor):
    name = "interpreters"
    family = "interpreters"
    description = ("subinterpreters with a per-interpreter GIL (PEP 684), one thread each "
                   "(3.14 InterpreterPoolExecutor, or 3.13's _interpreters)")

    _ids: list[int]
    _queues: list[int]
    _pool: Any = None
    _mode: str = ""

    @classmethod
    def unavailable_reason(cls) -> str:
        if not host.has_subinterpreters() or not _backend():
            return ("this Python has no subinterpreter API (needs 3.13's _interpreters or "
                    "3.14's concurrent.futures.InterpreterPoolExecutor)")
        return ""

    @classmethod
    def variant_unavailable_reason(cls, kernel_name: str, variant_name: str) -> str:
        if cls.unavailable_reason():
            return ""  # the executor's own reason says it all
        try:
            import _interpreters  # noqa: F401  (3.14 has it too, under its public API)
        except ImportError:
            return ""  # cannot look ahead: start() checks the variant, and fails with the reason
        why = _unloadable(kernel_name).get(variant_name, "")
        return why if not why or "subinterpreter" in why else f"in a subinterpreter: {why}"

    @classmethod
    def placement_reason(cls) -> str:
        # 3.13: the thread that runs a subinterpreter's code is ours, and pins itself
        if _backend() == "pool":
            return ("3.14's InterpreterPoolExecutor starts its worker threads itself, inside "
                    "their interpreters, where gilbench does not pin them yet")
        return ""

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._mode = _backend()
        self._ids, self._queues = [], []
        if self._mode == "pool":
            self._start_pool()
        elif self._mode == "interpreters":
            self._start_interpreters()
        else:
            raise RuntimeError(self.unavailable_reason())

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        if self._mode == "pool":
            return self._run_pool(chunks)
        if self._mode == "interpreters":
            return self._run_interpreters(chunks)
        raise RuntimeError("start() first")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._destroy()

    def abort(self) -> None:
        if self._pool is not None:
            # waiting could last as long as a task; its threads end after their current chunk
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False, cancel_futures=True)
            linger(getattr(pool, "_threads", ()))
        self._destroy()

    def _destroy(self) -> None:
        """Destroy the 3.13 interpreters and queues, except interpreters still running code (an
        abandoned chunk): destroying those would fail; they are kept for a later close(), or
        go when the process does."""
        busy: list[int] = []
        if self._mode == "interpreters" and (self._ids or self._queues):
            import _interpqueues
            import _interpreters

            for iid in self._ids:
                try:
                    if _interpreters.is_running(iid):
                        busy.append(iid)
                    else:
                        _interpreters.destroy(iid)
                except Exception:  # already gone: nothing left to free
                    pass
            for qid in self._queues:
                try:
                    _interpqueues.destroy(qid)
                except Exception:
                    pass
        self._ids, self._queues = busy, []

    def _timed_out(self, threads: list[threading.Thread], what: str) -> RunTimeout:
        """Abandon ``threads`` (still inside an interpreter) and say so."""
        linger(threads)
        n = len(threads)
        return RunTimeout(
            f"{what} did not finish within {self.timeout_s:g} s; {n} subinterpreter "
            f"thread{'s' if n > 1 else ''} could not be stopped (code running in another "
            f"interpreter cannot be interrupted from outside) and {'were' if n > 1 else 'was'} "
            "abandoned: it keeps running in the background and may disturb later cells")

    # -- 3.14: concurrent.futures.InterpreterPoolExecutor -----------------------------------

    def _start_pool(self) -> None:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]

        self._pool = InterpreterPoolExecutor(
            max_workers=self.workers, thread_name_prefix="gilbench-interp",
            initializer=_init_pool_worker,
            initargs=(tuple(sys.path), self.kernel_name, self.variant_name, self.size))
        # Workers are created lazily; make every one exist (and run its initializer) now, so the
        # cold run carries the start-up and a variant that cannot load fails here.
        futures = [self._pool.submit(_noop) for _ in range(self.workers)]
        for f in futures:
            f.result()

    def _run_pool(self, chunks: Sequence[tuple]) -> RunResult:
        import concurrent.futures

        futures = [self._pool.submit(timed_task, self.kernel_name, self.variant_name, c)
                   for c in chunks]
        done, pending = concurrent.futures.wait(futures, timeout=self.timeout_s)
        if pending:
            for f in pending:
                f.cancel()  # the ones not started yet
            threads = [t for t in getattr(self._pool, "_threads", ()) if t.is_alive()]
            self.abort()
            raise self._timed_out(threads, "the run")
        return collect([f.result() for f in futures])

    # -- 3.13: _interpreters + _interpqueues -------------------------------------------------

    def _start_interpreters(self) -> None:
        import _interpqueues
        import _interpreters

        shared = {"sys_path": tuple(sys.path), "kernel_name": self.kernel_name,
                  "variant_name": self.variant_name, "size": self.size}
        try:
            for _ in range(self.workers):
                # "isolated": own GIL, own allocator, only multi-interpreter-safe extensions
                self._ids.append(_interpreters.create("isolated"))
                self._queues.append(_interpqueues.create(0, _FMT_SHARED, _UNBOUND_ERROR))
            # set up in parallel too: importing gilbench is most of the cold start
            errors = self._each_in_thread(
                lambda iid, qid: _interpreters.exec(iid, _SETUP, shared={**shared, "qid": qid}),
                "start-up")
        except BaseException:
            self.abort()
            raise
        if errors:
            self.abort()
            _raise_excinfo(errors[0], f"{self.kernel_name}/{self.variant_name} cannot start")

    def _each_in_thread(self, fn, what: str) -> list[Any]:
        """Call ``fn(iid, qid)`` for every interpreter, each from its own thread, within the time
        limit; returns the non-None results."""
        out: list[Any] = [None] * len(self._ids)

        def call(k: int) -> None:
            out[k] = fn(self._ids[k], self._queues[k])

        alive = start_and_join(call, len(self._ids), self.deadline(), "gilbench-interp")
        if alive:
            raise self._timed_out(alive, what)
        return [x for x in out if x is not None]

    def _run_interpreters(self, chunks: Sequence[tuple]) -> RunResult:
        import _interpqueues
        import _interpreters

        pull = ChunkQueue(chunks, stop_on_error=True)
        stopped: list[int] = []  # chunks ended by the watchdog (ThreadStopped)
        deadline = self.deadline()

        # One main-interpreter thread per subinterpreter, pulling chunks like `threads` does.
        def worker(k: int) -> None:
            iid, qid = self._ids[k], self._queues[k]
            armed = False
            try:
                # placed: the subinterpreter's code runs in this very OS thread
                pin_thread(self.cpus_for(k))
                if deadline is not None:
                    # time.monotonic() is one clock for every interpreter of the process
                    armed = _interpreters.exec(iid, _ARM, shared={"deadline": deadline}) is None
                for i, chunk in pull.items():
                    excinfo = _interpreters.exec(iid, _RUN,
                                                 shared={"task": pickle.dumps((i, chunk))})
                    if excinfo is not None:
                        if getattr(excinfo.type, "__name__", "") == "ThreadStopped":
                            stopped.append(i)
                            return
                        _raise_excinfo(excinfo, f"chunk {i} failed")
                    # the item exec just put: (bytes, fmt, unbound op) in 3.13
                    index, partial, cpu = pickle.loads(_interpqueues.get(qid)[0])
                    pull.results[index] = (partial, cpu)
            finally:
                if armed:
                    _interpreters.exec(iid, _DISARM)

        alive = pull.run(worker, len(self._ids), deadline, "gilbench-interp")
        if alive or stopped:
            pull.stop.set()  # no new chunks; the watchdogs stop the running ones
            grace = time.monotonic() + STOP_GRACE_S + 0.5
            for t in alive:
                t.join(max(0.0, grace - time.monotonic()))
            stuck = [t for t in alive if t.is_alive()]
            if stuck:
                raise self._timed_out(stuck, "the run")
            n = len(stopped)
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; it was "
                             f"interrupted: {n} subinterpreter worker thread{'s' if n != 1 else ''}"
                             f" stopped")
        return pull.result()


def _noop() -> None:
    """Submitted once per pool worker at start-up, to create it."""
