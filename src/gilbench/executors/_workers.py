"""The worker-thread harness of ``threads`` and ``interpreters`` (3.13): W daemon threads of
this interpreter, each pulling ``(index, chunk)`` items from one queue, results gathered in
chunk order, the first worker error re-raised in the caller.

What a worker does with a chunk is the executor's: ``threads`` calls ``timed_task`` itself,
``interpreters`` has its thread run the chunk in the worker's subinterpreter. What becomes of
threads still alive at the deadline is the executor's too (``RunTimeout`` with its words).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Sequence

from .base import Executor, RunResult, collect


def start_and_join(target: Callable[[int], None], n: int, deadline: float | None, name: str,
                   stop: threading.Event | None = None) -> list[threading.Thread]:
    """Run ``target(k)`` for k in 0..n-1, each in a daemon thread named ``{name}-{k}``, joined
    until ``deadline`` (time.monotonic(); None: no limit); returns the threads still alive.

    Daemon threads: one that cannot be stopped must not keep the process alive. On Ctrl-C (any
    exception while joining) ``stop`` is set, so the threads end after their current chunk.
    """
    threads = [threading.Thread(target=target, args=(k,), name=f"{name}-{k}", daemon=True)
               for k in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(Executor.remaining(deadline))
    except BaseException:
        if stop is not None:
            stop.set()
        raise
    return [t for t in threads if t.is_alive()]


class ChunkQueue:
    """The chunks of one run in a queue, the slots for their results and the workers' errors.

    ``run(worker, n, deadline, name)`` starts the workers; each ``worker(k)`` takes chunks from
    ``items()`` and stores ``(partial, cpu)`` at ``results[index]``. An exception out of a
    worker ends that worker and is kept in ``errors``; ``result()`` re-raises the first one.
    ``stop`` (set on Ctrl-C, or by the executor at its deadline) hands out no more chunks.
    With ``stop_on_error``, no worker takes a new chunk after any worker failed.
    """

    def __init__(self, chunks: Sequence[tuple], stop_on_error: bool = False):
        self.tasks: queue.Queue = queue.Queue()
        for i, chunk in enumerate(chunks):
            self.tasks.put((i, chunk))
        self.results: list[Any] = [None] * len(chunks)
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.stop_on_error = stop_on_error

    def items(self) -> Iterator[tuple[int, tuple]]:
        """``(index, chunk)`` until the queue is empty or the run is stopped."""
        while not self.stop.is_set() and not (self.stop_on_error and self.errors):
            try:
                item = self.tasks.get_nowait()
            except queue.Empty:
                return
            yield item

    def run(self, worker: Callable[[int], None], n: int, deadline: float | None,
            name: str) -> list[threading.Thread]:
        """Run ``worker(k)`` in n threads (``start_and_join``); the threads still alive."""
        def guarded(k: int) -> None:
            try:
                worker(k)
            except BaseException as exc:  # re-raised in the caller, by result()
                self.errors.append(exc)

        return start_and_join(guarded, n, deadline, name, self.stop)

    def result(self) -> RunResult:
        """The first worker error, raised; else the results, in chunk order."""
        if self.errors:
            raise self.errors[0]
        return collect(self.results)
