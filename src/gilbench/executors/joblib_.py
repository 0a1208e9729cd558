"""joblib executors: ``joblib-loky`` (loky worker processes) and ``joblib-threads`` (the
threading backend); extra ``[joblib]``.

One ``joblib.Parallel`` per cell, entered as a context manager in ``start()`` and left in
``close()``: joblib's *managed* mode, documented for calling one Parallel many times, keeps the
backend's pool (loky's executor, the ThreadPool) alive between calls, so warm runs pay no pool
start-up and the cold run carries it. Each chunk is one ``delayed`` call with joblib's default
``batch_size="auto"`` (what a user gets; joblib batches only once tasks are shorter than its
target). With ``n_jobs=1`` joblib runs every task in the calling thread: the facts say so.

loky's executor is one per process (``get_reusable_executor``) and outlives a Parallel:
``close()`` shuts it down, so a cell leaves no process behind and the next cell's workers start
under the environment of the moment (PYTHON_GIL, PYTHON_CPU_COUNT). Two joblib-loky cells with
different worker counts open at once resize the same executor: a run that finds it resized
re-enters its Parallel first (that run pays the respawn) and counts it (``pool_resized``).

Faults: a dead loky worker fails the run with joblib's ``TerminatedWorkerError`` (its exit
code); a run over the time limit raises RunTimeout (joblib's own ``timeout``: loky workers are
killed, threads are stopped or abandoned as in ``thread-pool``).
"""

from __future__ import annotations

import multiprocessing
from typing import Any, ClassVar, Sequence

from gilbench.lifeline import die_with_parent

from . import _engine
from .base import (Executor, RunResult, RunTimeout, collect, linger, stop_message,
                   stop_task_threads)


class _JoblibExecutor(Executor):
    backend: ClassVar[str]
    keeps_workers = True

    _parallel: Any = None
    _workers: list[dict[str, Any]]
    _resized = 0

    @classmethod
    def unavailable_reason(cls) -> str:
        return _engine.missing("joblib", "joblib")

    @classmethod
    def placement_reason(cls) -> str:
        return ("joblib starts and reuses its workers itself (loky's processes, the threading "
                "backend's pool), with no hook that runs once in each")

    def _pool(self) -> Any:
        """The backend's pool object (loky executor or ThreadPool); None when sequential."""
        backend = getattr(self._parallel, "_backend", None)
        return getattr(backend, "_workers", None) or getattr(backend, "_pool", None)

    def _enter(self) -> None:
        import joblib

        # n_jobs=1 runs sequentially, where joblib warns that a timeout is ignored
        timeout = self.timeout_s if self.workers > 1 else None
        # loky's worker processes die with gilbench, as every process executor's do
        extra = {"initializer": die_with_parent} if self.backend == "loky" else {}
        self._parallel = joblib.Parallel(n_jobs=self.workers, backend=self.backend,
                                         timeout=timeout, **extra)
        self._parallel.__enter__()

    def _setup_workers(self) -> list[dict[str, Any]]:
        """Start every worker (loky spawns lazily) and load the variant in it, so a variant that
        cannot load fails in the cold run; returns their facts."""
        from joblib import delayed

        parent = _engine.origin()
        limit, self._parallel.timeout = self._parallel.timeout, None  # start-up has no limit,
        try:  # as for every executor's start()
            return _engine.distinct_workers(self._parallel(
                delayed(_engine.setup_worker)(parent, self.kernel_name, self.variant_name,
                                              self.size) for _ in range(2 * self.workers)))
        finally:
            self._parallel.timeout = limit

    def start(self) -> None:
        self._workers = []
        self._enter()
        self._workers = self._setup_workers()

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        from joblib import delayed

        assert self._parallel is not None, "start() first"
        pool = self._pool()
        if pool is not None and getattr(pool, "_max_workers", self.workers) != self.workers:
            self._parallel.__exit__(None, None, None)  # another cell resized loky's executor
            self._enter()
            self._resized += 1
        parent = _engine.origin()
        try:
            return collect(self._parallel(
                delayed(_engine.engine_task)(parent, self.kernel_name, self.variant_name,
                                             self.size, c) for c in chunks))
        except (TimeoutError, multiprocessing.TimeoutError):  # joblib raises the latter
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"{self._stop_after_timeout()}") from None

    def _stop_after_timeout(self) -> str:
        return "its worker processes were terminated (joblib kills loky's workers on a timeout)"

    def facts(self) -> dict[str, Any]:
        return {"engine": "joblib", "version": _engine.version("joblib"),
                "backend": self.backend, "n_jobs": self.workers, "batch_size": "auto",
                "runs_in": ("the calling thread (joblib runs n_jobs=1 sequentially)"
                            if self.workers == 1 else f"{self.backend} workers"),
                "pool_resized": self._resized, "workers": list(getattr(self, "_workers", []))}

    def close(self) -> None:
        if self._parallel is not None:
            pool = self._pool()
            parallel, self._parallel = self._parallel, None
            parallel.__exit__(None, None, None)
            if self.backend == "loky" and pool is not None:
                # loky keeps its executor for the next Parallel; a cell leaves no process behind
                pool.shutdown(wait=True, kill_workers=True)

    def abort(self) -> None:
        if self._parallel is not None:
            parallel, self._parallel = self._parallel, None
            backend = getattr(parallel, "_backend", None)
            pool = self._pool()
            try:
                backend.abort_everything(ensure_ready=False)  # loky: kills its workers
            finally:
                parallel.__exit__(None, None, None)
                if self.backend == "loky" and pool is not None:
                    pool.shutdown(wait=True, kill_workers=True)


class JoblibLokyExecutor(_JoblibExecutor):
    name = "joblib-loky"
    family = "processes"
    description = "joblib.Parallel, loky backend (worker processes), one Parallel kept open"
    backend = "loky"
    # loky spawns its workers itself (its own start method), after our threads exist: no
    # fork-after-threads hazard, so it needs no early start and records no start method
    uses_processes = False


class JoblibThreadsExecutor(_JoblibExecutor):
    name = "joblib-threads"
    family = "threads"
    description = "joblib.Parallel, threading backend, one Parallel kept open"
    backend = "threading"

    def _stop_after_timeout(self) -> str:
        pool = self._pool()
        threads = list(getattr(pool, "_pool", None) or ())  # ThreadPool's worker threads
        stopped, abandoned = stop_task_threads(threads or None)
        linger(threads)
        return stop_message(stopped, abandoned)
