"""I/O kernel: sleeping, the simplest wait that needs no CPU.

``size`` counts sleeps of ``SLEEP_S`` each. ``python`` calls ``time.sleep`` (CPython drops the
GIL while it waits); its coroutine form awaits ``asyncio.sleep``. The compiled pair calls the
C library's ``nanosleep``: ``cython-gil`` holds the GIL while it sleeps — a blocking C call that
never gives the GIL up stalls every other thread — and ``cython-nogil`` releases it.
"""

from __future__ import annotations

import asyncio
import time

from ._base import Kernel, Variant, compiled_variants, even_ranges

SLEEP_S = 0.001


def split(size: int, n_chunks: int) -> list[tuple[int, float]]:
    """Chunks ``(n_sleeps, seconds_each)``."""
    return [(hi - lo, SLEEP_S) for lo, hi in even_ranges(0, size, n_chunks)]


def sleep_python(chunk: tuple[int, float]) -> int:
    """Sleep ``n`` times with time.sleep; return how many sleeps were done."""
    n, seconds = chunk
    for _ in range(n):
        time.sleep(seconds)
    return n


async def sleep_async(chunk: tuple[int, float]) -> int:
    """Await asyncio.sleep ``n`` times; return how many sleeps were done."""
    n, seconds = chunk
    for _ in range(n):
        await asyncio.sleep(seconds)
    return n


KERNEL = Kernel(
    name="sleep",
    description="I/O: 1 ms sleeps (time.sleep / asyncio.sleep / C nanosleep with and without GIL)",
    kind="io",
    unit="sleeps",
    default_size=400,
    verify_size=20,
    split=split,
    reduce=sum,
    variants=(
        Variant("python", sleep_python, releases_gil=True, async_fn=sleep_async,
                description="time.sleep (releases the GIL); asyncio.sleep under asyncio"),
        *compiled_variants("gilbench.kernels._sleep_c", "sleep_gil", "sleep_nogil",
                           "C nanosleep"),
    ),
)
