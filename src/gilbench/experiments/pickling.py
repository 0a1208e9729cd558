"""Shipping a chunk's data to a worker process: pickled through a pool, or shared memory.

A warm one-worker ProcessPoolExecutor gets, for each payload size, the same task: compute
``zlib.crc32`` of the data (so the worker really reads every byte, and the result is checked).

- ``pickle``: the bytes are the task's argument: pickled, written to the pool's pipe, read and
  unpickled by the worker.
- ``shm``: a ``multiprocessing.shared_memory`` segment is created, the bytes copied into it, and
  only its name is sent; the worker attaches, reads, detaches; the segment is unlinked. Creation
  and the copy are counted: that is what shipping fresh data this way costs.
- ``shm-reuse``: the data already sits in a segment (written once, outside the timing): only
  the name travels. The floor for data produced in place.
- ``empty``: a task with no data: the pool's round-trip cost alone.
- ``local``: crc32 of the same bytes in this process: the work itself, without any shipping.

Times are the best (minimum) of ``repeats``: on a shared host other processes only ever add
time.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import zlib
from multiprocessing import shared_memory
from typing import Any, Callable, Sequence

from gilbench.child_targets import nothing

from ._common import Progress, mp_context, no_progress

NAME = "pickle"
TITLE = "Shipping data to a worker process: pickle vs shared memory"
MEASURES = (
    "Round-trip time of one task that checksums a payload in a warm worker process, the "
    "payload pickled as the task's argument or placed in multiprocessing.shared_memory, as "
    "the payload grows; against the same checksum done locally."
)
CLAIMS = ("process-startup-cost",)

SIZES = (1 << 10, 8 << 10, 64 << 10, 512 << 10, 4 << 20, 32 << 20)
QUICK_SIZES = (1 << 10, 64 << 10, 1 << 20)
METHODS = ("empty", "local", "pickle", "shm", "shm-reuse")


def _crc_bytes(data: bytes) -> int:
    """Worker: checksum of bytes received pickled."""
    return zlib.crc32(data)


def _crc_shm(name: str, size: int) -> int:
    """Worker: checksum of ``size`` bytes in the shared-memory segment ``name``."""
    segment = shared_memory.SharedMemory(name=name)
    try:
        view = segment.buf[:size]
        try:
            return zlib.crc32(view)
        finally:
            view.release()
    finally:
        segment.close()


def _payload(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]  # 251: prime, so crc sees variety


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def run(
    quick: bool,
    *,
    sizes: Sequence[int] | None = None,
    repeats: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "points": [...]}``; a point is ``{"size_bytes", "<method>_s":
    best seconds for each method, "<method>_times_s": [...], "crc_ok": bool}``."""
    progress = progress or no_progress
    sizes = list(sizes or (QUICK_SIZES if quick else SIZES))
    repeats = repeats if repeats is not None else (3 if quick else 7)
    ctx = mp_context()

    points = []
    progress("starting a warm worker")
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        # warm: the worker has started and imported this module before anything is timed
        pool.submit(_crc_bytes, b"warm").result(timeout=60)
        pool.submit(nothing).result(timeout=60)
        for i, size in enumerate(sizes, 1):
            progress(f"payload {size} B ({i}/{len(sizes)})")
            payload = _payload(size)
            expected = zlib.crc32(payload)
            point: dict[str, Any] = {"size_bytes": size}
            oks = []

            def empty() -> None:
                return pool.submit(nothing).result(timeout=60)

            def local() -> int:
                return zlib.crc32(payload)

            def pickled() -> int:
                return pool.submit(_crc_bytes, payload).result(timeout=60)

            def shm_fresh() -> int:
                segment = shared_memory.SharedMemory(create=True, size=size)
                try:
                    segment.buf[:size] = payload
                    return pool.submit(_crc_shm, segment.name, size).result(timeout=60)
                finally:
                    segment.close()
                    segment.unlink()

            reuse = shared_memory.SharedMemory(create=True, size=size)
            try:
                reuse.buf[:size] = payload

                def shm_reuse() -> int:
                    return pool.submit(_crc_shm, reuse.name, size).result(timeout=60)

                for method, fn in (("empty", empty), ("local", local), ("pickle", pickled),
                                   ("shm", shm_fresh), ("shm-reuse", shm_reuse)):
                    times, result = _timed(fn, repeats)
                    point[f"{method}_times_s"] = times
                    point[f"{method}_s"] = min(times)
                    if method != "empty":
                        oks.append(result == expected)
            finally:
                reuse.close()
                reuse.unlink()
            point["crc_ok"] = all(oks)
            points.append(point)

    return {
        "params": {"sizes": sizes, "repeats": repeats, "methods": list(METHODS),
                   "start_method": ctx.get_start_method()},
        "points": points,
    }
