"""Thread executors: ``threads`` (Thread objects pulling from a queue) and ``thread-pool``.

A run over the time limit stops its threads if they run Python code and abandons those blocked
in C code (a thread cannot be killed); see ``base.stop_task_threads``.
"""

from __future__ import annotations

import concurrent.futures
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from gilbench.placement import NextCPU, pin_thread

from ._workers import ChunkQueue
from .base import (Executor, RunResult, RunTimeout, collect, linger, stop_message,
                   stop_task_threads, timed_task)


class ThreadsExecutor(Executor):
    name = "threads"
    family = "threads"
    description = "threading.Thread workers started and joined, pulling chunks from a queue.Queue"

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        pull = ChunkQueue(chunks)

        def worker(k: int) -> None:
            pin_thread(self.cpus_for(k))  # placed (--pin, --core-type): worker k's CPUs
            for i, chunk in pull.items():
                pull.results[i] = timed_task(self.kernel_name, self.variant_name, chunk)

        alive = pull.run(worker, self.workers, self.deadline(), "gilbench")
        if alive:
            pull.stop.set()  # no new chunks; then stop the ones inside a task
            stopped, abandoned = stop_task_threads(alive)
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"{stop_message(stopped, abandoned)}")
        return pull.result()


class ThreadPoolExecutorRunner(Executor):
    name = "thread-pool"
    family = "threads"
    description = "concurrent.futures.ThreadPoolExecutor"
    keeps_workers = True

    pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        # placed: each pool thread pins itself as it starts (threads are created on demand)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gilbench",
                                       initializer=NextCPU(self.placement).pin)

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.pool is not None, "start() first"
        futures = [self.pool.submit(timed_task, self.kernel_name, self.variant_name, c)
                   for c in chunks]
        done, pending = concurrent.futures.wait(futures, timeout=self.timeout_s)
        if pending:
            for f in pending:
                f.cancel()  # the ones not started yet
            threads = list(getattr(self.pool, "_threads", ()))
            stopped, abandoned = stop_task_threads(threads)
            self.abort()
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"{stop_message(stopped, abandoned)}")
        return collect([f.result() for f in futures])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def abort(self) -> None:
        if self.pool is not None:
            # waiting could last as long as a task; the threads end after their current chunk
            pool, self.pool = self.pool, None
            pool.shutdown(wait=False, cancel_futures=True)
            linger(getattr(pool, "_threads", ()))
