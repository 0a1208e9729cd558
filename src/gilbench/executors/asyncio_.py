"""asyncio executors: ``asyncio`` (coroutines calling the kernel directly), ``asyncio-to-thread``
and ``asyncio-process``.

Under ``asyncio`` the W workers are coroutines in one event loop (an ``asyncio.TaskGroup`` on
3.11+, ``gather`` on 3.10). A CPU-bound variant has no coroutine form, so it is called directly
and blocks the loop until it returns — which is exactly what the report must show. Variants with
a coroutine form (the I/O kernels: ``asyncio.sleep``, asyncio streams) are awaited instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Sequence

from gilbench import kernels

from .base import Executor, RunResult, collect, prepare_worker, timed_task


async def _pull(tasks: asyncio.Queue, results: list, work: Callable[[tuple], Awaitable[Any]]) -> None:
    while True:
        try:
            i, chunk = tasks.get_nowait()
        except asyncio.QueueEmpty:
            return
        results[i] = await work(chunk)


async def _run_workers(chunks: Sequence[tuple], workers: int,
                       work: Callable[[tuple], Awaitable[Any]]) -> list:
    tasks: asyncio.Queue = asyncio.Queue()
    for item in enumerate(chunks):
        tasks.put_nowait(item)
    results: list[Any] = [None] * len(chunks)
    if sys.version_info >= (3, 11):
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(_pull(tasks, results, work))
        except BaseExceptionGroup as failed:  # noqa: F821 (3.11+) - report the first cause
            raise failed.exceptions[0] from None
    else:  # pragma: no cover - Python 3.10
        await asyncio.gather(*(_pull(tasks, results, work) for _ in range(workers)))
    return results


class _LoopExecutor(Executor):
    """An executor that owns one event loop, reused across runs."""

    loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            self.loop = None


class AsyncioExecutor(_LoopExecutor):
    name = "asyncio"
    family = "asyncio"
    description = "W coroutines in one event loop; CPU work is called directly and blocks the loop"

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None, "start() first"
        variant = kernels.get(self.kernel_name).variant(self.variant_name)
        async_fn = variant.async_fn

        async def work(chunk: tuple) -> Any:
            if async_fn is not None:
                return await async_fn(chunk)
            return variant(chunk)  # blocks the event loop: no other coroutine runs meanwhile

        # One thread runs every coroutine, so its CPU time over the run is the Σ over tasks.
        cpu0 = time.thread_time()
        partials = self.loop.run_until_complete(_run_workers(chunks, self.workers, work))
        return RunResult(partials, time.thread_time() - cpu0)


class AsyncioToThreadExecutor(_LoopExecutor):
    name = "asyncio-to-thread"
    family = "threads"
    description = "asyncio.to_thread, the loop's default executor sized to W threads"

    def start(self) -> None:
        super().start()
        assert self.loop is not None
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=self.workers,
                                                          thread_name_prefix="gilbench-aio"))

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None, "start() first"

        async def work(chunk: tuple) -> Any:
            return await asyncio.to_thread(timed_task, self.kernel_name, self.variant_name, chunk)

        return collect(self.loop.run_until_complete(_run_workers(chunks, self.workers, work)))


class AsyncioProcessExecutor(_LoopExecutor):
    name = "asyncio-process"
    family = "processes"
    description = "loop.run_in_executor on a ProcessPoolExecutor"
    uses_processes = True

    pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        super().start()
        ctx = multiprocessing.get_context(self.start_method)
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                        initializer=prepare_worker,
                                        initargs=(self.kernel_name, self.size))

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None and self.pool is not None, "start() first"
        loop, pool = self.loop, self.pool

        async def work(chunk: tuple) -> Any:
            return await loop.run_in_executor(pool, timed_task, self.kernel_name,
                                              self.variant_name, chunk)

        return collect(loop.run_until_complete(_run_workers(chunks, self.workers, work)))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        super().close()
