"""Thread executors: ``threads`` (Thread objects pulling from a queue) and ``thread-pool``."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from .base import Executor, RunResult, collect, timed_task


class ThreadsExecutor(Executor):
    name = "threads"
    family = "threads"
    description = "threading.Thread workers started and joined, pulling chunks from a queue.Queue"

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        tasks: queue.Queue = queue.Queue()
        for i, chunk in enumerate(chunks):
            tasks.put((i, chunk))
        results: list[Any] = [None] * len(chunks)
        errors: list[BaseException] = []

        def worker() -> None:
            while True:
                try:
                    i, chunk = tasks.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = timed_task(self.kernel_name, self.variant_name, chunk)
                except BaseException as exc:  # re-raised in the caller
                    errors.append(exc)
                    return

        threads = [threading.Thread(target=worker, name=f"gilbench-{k}", daemon=True)
                   for k in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return collect(results)


class ThreadPoolExecutorRunner(Executor):
    name = "thread-pool"
    family = "threads"
    description = "concurrent.futures.ThreadPoolExecutor"

    pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gilbench")

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.pool is not None, "start() first"
        futures = [self.pool.submit(timed_task, self.kernel_name, self.variant_name, c)
                   for c in chunks]
        return collect([f.result() for f in futures])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
