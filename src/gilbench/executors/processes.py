"""Process executors: ``processes`` (Process workers fed and drained through Queues),
``process-pipe`` (one duplex Pipe per worker) and ``process-pool`` (ProcessPoolExecutor).

Each worker is a separate interpreter with its own GIL; the price is start-up (measured as the
cold run) and pickling chunks and partials. Workers stay up between runs of one cell, so warm
runs measure steady-state work.

Faults: a worker that dies (a crash, ``os._exit``, the OOM killer) fails the run with its exit
code or signal (``WorkerDied``, or ``BrokenProcessPool`` naming the worker); a run over the time
limit terminates the workers and raises ``RunTimeout``. Workers ignore SIGINT: on Ctrl-C the
parent stops them (``abort``), so none is left behind.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.connection
import queue
import signal
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Sequence

from .base import (STOP_GRACE_S, Executor, RunResult, RunTimeout, collect,
                   init_worker_process, timed_task)

POLL_S = 0.2  # how often a waiting parent checks that its workers are still alive


class WorkerDied(RuntimeError):
    """A worker process exited while the run was waiting for it."""


def describe_exit(proc: multiprocessing.process.BaseProcess) -> str:
    """``worker pid N was killed by SIGSEGV (exit code -11)`` / ``... exited with code 3``."""
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker pid {proc.pid} was killed by {name} (exit code {code})"
    if code == 255 and getattr(proc, "_start_method", None) in (None, "forkserver"):
        # forkserver children report their status through the fork server; 255 is what
        # multiprocessing gives when that report never arrived, not the worker's own code
        return (f"worker pid {proc.pid} exited with code 255 (under forkserver: the status "
                "could not be read, the real cause is unknown)")
    return f"worker pid {proc.pid} exited with code {code}"


def stop_processes(procs: Iterable[multiprocessing.process.BaseProcess],
                   grace_s: float = STOP_GRACE_S) -> None:
    """Terminate (SIGTERM), then kill (SIGKILL) whatever is still alive; reaps every one."""
    procs = [p for p in procs if p.pid is not None]  # never started: nothing to stop
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(grace_s)


def pool_processes(pool: ProcessPoolExecutor | None) -> list:
    """The worker processes a ProcessPoolExecutor has started so far."""
    return list((getattr(pool, "_processes", None) or {}).values())


def death_cause(procs: Sequence[multiprocessing.process.BaseProcess]) -> str:
    """Which worker of a broken pool died, and how (``describe_exit``); the pool itself sends
    SIGTERM to the others once one dies, so a worker that ended otherwise is the culprit."""
    deadline = time.monotonic() + STOP_GRACE_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    # The pool's manager thread joins its workers too. When it reaps one first, our waitpid
    # fails (ECHILD) and exitcode stays None until that thread stores the code: a dead
    # culprit would look alive and a sibling the pool sent SIGTERM would be blamed instead.
    # A worker whose sentinel is ready has ended, so wait (briefly) for its code to appear.
    while time.monotonic() < deadline and any(
            p.exitcode is None and _ended(p) for p in procs):
        time.sleep(0.005)
    ended = [p for p in procs if p.exitcode not in (None, 0)]
    culprits = [p for p in ended if p.exitcode != -signal.SIGTERM] or ended
    # 255 is what the fork server reports when it could not learn a child's status: a worker
    # whose real cause is known (a signal, an exit code) comes first
    culprits.sort(key=lambda p: p.exitcode == 255)
    if not culprits:
        early = [p for p in procs if p.exitcode == 0]
        if early:
            return (f"worker pid {early[0].pid} exited (code 0) before its tasks were done; "
                    "its initializer may have failed (see the messages above)")
        return "a worker process ended abruptly (exit code unknown)"
    text = describe_exit(culprits[0])
    if len(culprits) > 1:
        text += f" (and {len(culprits) - 1} more)"
    return text


def _ended(proc: multiprocessing.process.BaseProcess) -> bool:
    """True once the process has ended (its sentinel is ready), whoever reaped it."""
    try:
        return bool(multiprocessing.connection.wait([proc.sentinel], 0))
    except (OSError, ValueError):  # sentinel closed: the process object was closed after exit
        return True


def kill_pool(pool: ProcessPoolExecutor, procs: Sequence = ()) -> None:
    """Stop a ProcessPoolExecutor now: terminate its workers, then shut it down."""
    stop_processes([*procs, *pool_processes(pool)])
    # with its workers gone the pool is broken and its manager thread ends promptly
    pool.shutdown(wait=True, cancel_futures=True)


def _task_message(kernel_name: str, variant_name: str, index: int, chunk: tuple) -> tuple:
    try:
        partial, cpu = timed_task(kernel_name, variant_name, chunk)
        return index, partial, cpu, None
    except Exception as exc:  # sent back and re-raised in the parent
        return index, None, 0.0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def _queue_worker(tasks, results, kernel_name: str, variant_name: str, size: int,
                  placement=None, worker: int = 0) -> None:
    init_worker_process(kernel_name, size, placement, worker)
    while True:
        item = tasks.get()
        if item is None:
            return
        index, chunk = item
        results.put(_task_message(kernel_name, variant_name, index, chunk))


def _pipe_worker(conn, kernel_name: str, variant_name: str, size: int, placement=None,
                 worker: int = 0) -> None:
    init_worker_process(kernel_name, size, placement, worker)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        index, chunk = item
        conn.send(_task_message(kernel_name, variant_name, index, chunk))


class _ProcessWorkers(Executor):
    uses_processes = True
    procs: list

    def _context(self):
        return multiprocessing.get_context(self.start_method)

    def _check_alive(self, deadline: float | None) -> None:
        for p in self.procs:
            if not p.is_alive():
                raise WorkerDied(describe_exit(p))
        if deadline is not None and time.monotonic() > deadline:
            n = len(self.procs)
            self.abort()
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"its {n} worker process{'es were' if n > 1 else ' was'} terminated")

    def _store(self, results: list, message: tuple) -> None:
        index, partial, cpu, error = message
        if error is not None:
            raise RuntimeError(f"task {index} failed in a worker: {error}")
        results[index] = (partial, cpu)

    def _stop(self, send_stop) -> None:
        for p in getattr(self, "procs", []):
            if p.is_alive():
                try:
                    send_stop(p)
                except (OSError, ValueError, BrokenPipeError):
                    pass
        for p in getattr(self, "procs", []):
            p.join(timeout=2)
        stop_processes(getattr(self, "procs", []))
        self.procs = []


class ProcessesExecutor(_ProcessWorkers):
    name = "processes"
    family = "processes"
    description = "multiprocessing.Process workers fed and drained through a Queue"

    def start(self) -> None:
        ctx = self._context()
        self.procs = []
        self.tasks = ctx.Queue()
        self.results = ctx.Queue()
        for k in range(self.workers):
            p = ctx.Process(target=_queue_worker, daemon=True,
                            args=(self.tasks, self.results, self.kernel_name, self.variant_name,
                                  self.size, self.placement, k))
            self.procs.append(p)  # before start(): abort() must find a half-started worker
            p.start()

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        deadline = self.deadline()
        for item in enumerate(chunks):
            self.tasks.put(item)
        results: list[Any] = [None] * len(chunks)
        for _ in range(len(chunks)):
            while True:
                try:
                    message = self.results.get(timeout=POLL_S)
                    break
                except queue.Empty:
                    self._check_alive(deadline)
            self._store(results, message)
        return collect(results)

    def _close_queues(self, wait: bool) -> None:
        for q in (getattr(self, "tasks", None), getattr(self, "results", None)):
            if q is not None:
                if not wait:
                    # nobody reads them any more: do not wait for buffered items to be flushed
                    q.cancel_join_thread()
                q.close()
                q.join_thread()
        self.tasks = self.results = None

    def close(self) -> None:
        self._stop(lambda p: self.tasks.put(None))
        self._close_queues(wait=True)

    def abort(self) -> None:
        stop_processes(getattr(self, "procs", []))
        self.procs = []
        self._close_queues(wait=False)


class ProcessPipeExecutor(_ProcessWorkers):
    name = "process-pipe"
    family = "processes"
    description = "multiprocessing.Process workers, one duplex Pipe each"

    def start(self) -> None:
        ctx = self._context()
        self.conns = []
        self.procs = []
        for k in range(self.workers):
            parent, child = ctx.Pipe(duplex=True)
            p = ctx.Process(target=_pipe_worker, daemon=True,
                            args=(child, self.kernel_name, self.variant_name, self.size,
                                  self.placement, k))
            self.conns.append(parent)
            self.procs.append(p)  # before start(): abort() must find a half-started worker
            p.start()
            child.close()

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        deadline = self.deadline()
        pending = list(enumerate(chunks))
        pending.reverse()
        results: list[Any] = [None] * len(chunks)
        busy = set()
        for conn in self.conns:  # one chunk to each worker, then one more as each answers
            if pending:
                conn.send(pending.pop())
                busy.add(conn)
        while busy:
            ready = multiprocessing.connection.wait(list(busy), timeout=POLL_S)
            if not ready:
                self._check_alive(deadline)
                continue
            for conn in ready:
                try:
                    message = conn.recv()
                except EOFError:
                    # the worker is gone; wait for its exit status to say how it ended
                    proc = self.procs[self.conns.index(conn)]
                    proc.join(STOP_GRACE_S)
                    if proc.exitcode is not None:
                        raise WorkerDied(describe_exit(proc)) from None
                    raise WorkerDied(f"worker pid {proc.pid} closed its pipe") from None
                self._store(results, message)
                busy.discard(conn)
                if pending:
                    conn.send(pending.pop())
                    busy.add(conn)
            if deadline is not None and time.monotonic() > deadline:
                self._check_alive(deadline)  # answers keep coming, but too slowly
        return collect(results)

    def close(self) -> None:
        conns = dict(zip(map(id, getattr(self, "procs", [])), getattr(self, "conns", [])))
        self._stop(lambda p: conns[id(p)].send(None))
        for conn in getattr(self, "conns", []):
            conn.close()
        self.conns = []

    def abort(self) -> None:
        stop_processes(getattr(self, "procs", []))
        self.procs = []
        for conn in getattr(self, "conns", []):
            conn.close()
        self.conns = []


class ProcessPoolRunner(Executor):
    name = "process-pool"
    family = "processes"
    description = "concurrent.futures.ProcessPoolExecutor"
    uses_processes = True

    pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        ctx = multiprocessing.get_context(self.start_method)
        # placed: the pool starts every worker with the same arguments, so each one takes the
        # next worker number from a shared counter
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=init_worker_process,
            initargs=(self.kernel_name, self.size, self.placement,
                      ctx.Value("i", 0) if self.placement else None),
        )

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.pool is not None, "start() first"
        futures = [self.pool.submit(timed_task, self.kernel_name, self.variant_name, c)
                   for c in chunks]
        procs = pool_processes(self.pool)  # workers exist once tasks are submitted
        _, pending = concurrent.futures.wait(futures, timeout=self.timeout_s)
        if pending:
            n = len(pool_processes(self.pool)) or len(procs)
            self.abort()
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"its {n} worker process{'es were' if n > 1 else ' was'} terminated")
        try:
            return collect([f.result() for f in futures])
        except BrokenProcessPool as exc:
            raise BrokenProcessPool(death_cause(procs)) from exc

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def abort(self) -> None:
        if self.pool is not None:
            kill_pool(self.pool)
            self.pool = None
