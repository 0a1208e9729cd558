"""Process executors: ``processes`` (Process workers fed and drained through Queues),
``process-pipe`` (one duplex Pipe per worker) and ``process-pool`` (ProcessPoolExecutor).

Each worker is a separate interpreter with its own GIL; the price is start-up (measured as the
cold run) and pickling chunks and partials. Workers stay up between runs of one cell, so warm
runs measure steady-state work. A worker that dies fails the run with its exit code.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import queue
import traceback
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

from .base import Executor, RunResult, collect, prepare_worker, timed_task

POLL_S = 0.2  # how often a waiting parent checks that its workers are still alive


class WorkerDied(RuntimeError):
    """A worker process exited while the run was waiting for it."""


def _describe_exit(proc: multiprocessing.process.BaseProcess) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker pid {proc.pid} was killed by {name} (exit code {code})"
    return f"worker pid {proc.pid} exited with code {code}"


def _task_message(kernel_name: str, variant_name: str, index: int, chunk: tuple) -> tuple:
    try:
        partial, cpu = timed_task(kernel_name, variant_name, chunk)
        return index, partial, cpu, None
    except Exception as exc:  # sent back and re-raised in the parent
        return index, None, 0.0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def _queue_worker(tasks, results, kernel_name: str, variant_name: str, size: int) -> None:
    prepare_worker(kernel_name, size)
    while True:
        item = tasks.get()
        if item is None:
            return
        index, chunk = item
        results.put(_task_message(kernel_name, variant_name, index, chunk))


def _pipe_worker(conn, kernel_name: str, variant_name: str, size: int) -> None:
    prepare_worker(kernel_name, size)
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

    def _check_alive(self) -> None:
        for p in self.procs:
            if not p.is_alive():
                raise WorkerDied(_describe_exit(p))

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
            if p.is_alive():
                p.terminate()
                p.join(timeout=2)
            if p.is_alive():
                p.kill()
                p.join()
        self.procs = []


class ProcessesExecutor(_ProcessWorkers):
    name = "processes"
    family = "processes"
    description = "multiprocessing.Process workers fed and drained through a Queue"

    def start(self) -> None:
        ctx = self._context()
        self.tasks = ctx.Queue()
        self.results = ctx.Queue()
        self.procs = [
            ctx.Process(target=_queue_worker, daemon=True,
                        args=(self.tasks, self.results, self.kernel_name, self.variant_name,
                              self.size))
            for _ in range(self.workers)
        ]
        for p in self.procs:
            p.start()

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        for item in enumerate(chunks):
            self.tasks.put(item)
        results: list[Any] = [None] * len(chunks)
        for _ in range(len(chunks)):
            while True:
                try:
                    message = self.results.get(timeout=POLL_S)
                    break
                except queue.Empty:
                    self._check_alive()
            self._store(results, message)
        return collect(results)

    def close(self) -> None:
        self._stop(lambda p: self.tasks.put(None))
        for q in (getattr(self, "tasks", None), getattr(self, "results", None)):
            if q is not None:
                q.close()
                q.join_thread()


class ProcessPipeExecutor(_ProcessWorkers):
    name = "process-pipe"
    family = "processes"
    description = "multiprocessing.Process workers, one duplex Pipe each"

    def start(self) -> None:
        ctx = self._context()
        self.conns = []
        self.procs = []
        for _ in range(self.workers):
            parent, child = ctx.Pipe(duplex=True)
            p = ctx.Process(target=_pipe_worker, daemon=True,
                            args=(child, self.kernel_name, self.variant_name, self.size))
            p.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(p)

    def run(self, chunks: Sequence[tuple]) -> RunResult:
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
                self._check_alive()
                continue
            for conn in ready:
                try:
                    message = conn.recv()
                except EOFError:
                    self._check_alive()
                    raise WorkerDied("a worker closed its pipe") from None
                self._store(results, message)
                busy.discard(conn)
                if pending:
                    conn.send(pending.pop())
                    busy.add(conn)
        return collect(results)

    def close(self) -> None:
        conns = dict(zip(map(id, getattr(self, "procs", [])), getattr(self, "conns", [])))
        self._stop(lambda p: conns[id(p)].send(None))
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
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context(self.start_method),
            initializer=prepare_worker,
            initargs=(self.kernel_name, self.size),
        )

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.pool is not None, "start() first"
        futures = [self.pool.submit(timed_task, self.kernel_name, self.variant_name, c)
                   for c in chunks]
        return collect([f.result() for f in futures])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
