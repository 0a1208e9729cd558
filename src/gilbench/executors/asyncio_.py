"""asyncio executors: ``asyncio`` (coroutines calling the kernel directly), ``asyncio-to-thread``
and ``asyncio-process``.

Under ``asyncio`` the W workers are coroutines in one event loop (an ``asyncio.TaskGroup`` on
3.11+, ``gather`` on 3.10). A CPU-bound variant has no coroutine form, so it is called directly
and blocks the loop until it returns — which is exactly what the report must show. Variants with
a coroutine form (the I/O kernels: ``asyncio.sleep``, asyncio streams) are awaited instead.

Faults: a run over the time limit is cancelled (``asyncio.wait_for``; a CPU call blocking the
loop is interrupted by SIGALRM when the loop runs in the main thread), then the worker threads
are stopped or abandoned, or the worker processes terminated, as in ``threads`` and
``processes``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Awaitable, Callable, Sequence

from gilbench import kernels
from gilbench.placement import NextCPU, pinned

from .base import (STOP_GRACE_S, Executor, RunResult, RunTimeout, alarm, collect,
                   init_worker_process, linger, stop_message, stop_task_threads, timed_task)
from .processes import death_cause, kill_pool, pool_processes


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

    def _run(self, chunks: Sequence[tuple], work: Callable[[tuple], Awaitable[Any]]) -> list:
        """Run the workers' coroutines; TimeoutError past the time limit."""
        assert self.loop is not None, "start() first"
        coro = _run_workers(chunks, self.workers, work)
        if self.timeout_s is not None:
            coro = asyncio.wait_for(coro, self.timeout_s)
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            self.loop = None

    def _drop_tasks(self) -> None:
        """Cancel what a timeout or an interrupt left in the loop, and let it unwind."""
        loop = self.loop
        if loop is None or loop.is_closed() or loop.is_running():
            return
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            try:
                loop.run_until_complete(asyncio.wait(tasks, timeout=STOP_GRACE_S))
            except BaseException:  # noqa: B036 - best effort while stopping
                pass
        for t in tasks:  # retrieve the outcomes, so asyncio logs no "never retrieved" noise
            if t.done() and not t.cancelled():
                t.exception()

    def abort(self) -> None:
        if self.loop is not None:
            self._drop_tasks()
            if not self.loop.is_running():
                self.loop.close()
            self.loop = None


class AsyncioExecutor(_LoopExecutor):
    name = "asyncio"
    family = "asyncio"
    description = "W coroutines in one event loop; CPU work is called directly and blocks the loop"
    one_thread = True  # placed: the loop's thread on worker 0's CPU

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None, "start() first"
        variant = kernels.get(self.kernel_name).variant(self.variant_name)
        async_fn = variant.async_fn

        deadline = self.deadline()

        async def work(chunk: tuple) -> Any:
            # Past the limit no chunk starts: once the timer has interrupted one coroutine, the
            # next ready one would otherwise run its blocking chunks before being cancelled.
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeout(f"the asyncio run did not finish within {self.timeout_s:g} s")
            if async_fn is not None:
                return await async_fn(chunk)
            return variant(chunk)  # blocks the event loop: no other coroutine runs meanwhile

        # One thread runs every coroutine, so its CPU time over the run is the Σ over tasks.
        cpu0 = time.thread_time()
        # a CPU-bound call blocks the loop, so wait_for cannot end it: the timer signal can
        with pinned(self.cpus_for(0)), alarm(self.timeout_s, "the asyncio run"):
            try:
                partials = self._run(chunks, work)
            except asyncio.TimeoutError:
                raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                                 "its coroutines were cancelled") from None
        return RunResult(partials, time.thread_time() - cpu0)


class AsyncioToThreadExecutor(_LoopExecutor):
    name = "asyncio-to-thread"
    family = "threads"
    description = "asyncio.to_thread, the loop's default executor sized to W threads"

    pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        super().start()
        assert self.loop is not None
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gilbench-aio",
                                       initializer=NextCPU(self.placement).pin)
        self.loop.set_default_executor(self.pool)

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None, "start() first"

        async def work(chunk: tuple) -> Any:
            return await asyncio.to_thread(timed_task, self.kernel_name, self.variant_name, chunk)

        try:
            return collect(self._run(chunks, work))
        except asyncio.TimeoutError:
            threads = list(getattr(self.pool, "_threads", ()))
            stopped, abandoned = stop_task_threads(threads)
            self.abort()
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"{stop_message(stopped, abandoned)}") from None

    def close(self) -> None:
        super().close()
        self.pool = None

    def abort(self) -> None:
        # the pool first, the loop after: a thread whose task was stopped still completes its
        # future, and that calls into the loop; closed meanwhile, the loop makes asyncio log
        # "exception calling callback ... Event loop is closed" (seen under 3.13t, where that
        # thread runs beside this one). Not shutdown_default_executor(): it waits for every
        # running thread, and one blocked in C code may never end
        if self.pool is not None:
            pool, self.pool = self.pool, None
            pool.shutdown(wait=False, cancel_futures=True)
            threads = list(getattr(pool, "_threads", ()))
            deadline = time.monotonic() + STOP_GRACE_S
            for t in threads:  # they exit once their task is over: stopped, or done
                t.join(max(0.0, deadline - time.monotonic()))
            linger(threads)
        super().abort()


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
                                        initializer=init_worker_process,
                                        initargs=(self.kernel_name, self.size, self.placement,
                                                  ctx.Value("i", 0) if self.placement else None))

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        assert self.loop is not None and self.pool is not None, "start() first"
        loop, pool = self.loop, self.pool
        procs: list = []

        async def work(chunk: tuple) -> Any:
            future = loop.run_in_executor(pool, timed_task, self.kernel_name,
                                          self.variant_name, chunk)
            procs[:] = pool_processes(pool)  # the workers that exist once tasks are submitted
            return await future

        try:
            return collect(self._run(chunks, work))
        except asyncio.TimeoutError:
            n = len(pool_processes(pool)) or len(procs)
            self.abort()
            raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                             f"its {n} worker process{'es were' if n > 1 else ' was'} "
                             "terminated") from None
        except BrokenProcessPool as exc:
            raise BrokenProcessPool(death_cause(procs or pool_processes(pool))) from exc

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        super().close()

    def abort(self) -> None:
        if self.pool is not None:
            kill_pool(self.pool)
            self.pool = None
        super().abort()
