"""Memory-bound kernel: a STREAM-style sweep, sum of ``b[i] + 3.0 * c[i]`` over large arrays.

Two float64 arrays of ``PHYSICAL`` elements (32 MiB each, far larger than any cache) are built
once per process; logical index i reads element ``i % PHYSICAL``, so any size works without more
memory. The arrays hold small integers, so every partial sum is exact and every variant and
chunking agrees bit for bit. The compiled and NumPy variants are limited by memory bandwidth,
not by the GIL: their scaling shows where bandwidth is the ceiling.
"""

from __future__ import annotations

from array import array
from functools import lru_cache

from ._base import (Kernel, Variant, adapt_compiled, compiled_variants, even_ranges,
                    numpy_variant, wrapped_segments)

PHYSICAL = 1 << 22  # elements per array: 4 Mi x 8 bytes = 32 MiB
SCALAR = 3.0


@lru_cache(maxsize=1)
def arrays() -> tuple[array, array]:
    """The process's two read-only arrays ``b[i] = i % 1024`` and ``c[i] = i % 7``."""
    try:
        import numpy as np

        idx = np.arange(PHYSICAL, dtype=np.int64)
        b = array("d", (idx % 1024).astype(np.float64).tobytes())
        c = array("d", (idx % 7).astype(np.float64).tobytes())
    except ImportError:  # pragma: no cover - numpy is a dependency; keep the kernel self-contained
        b = array("d", (float(i % 1024) for i in range(PHYSICAL)))
        c = array("d", (float(i % 7) for i in range(PHYSICAL)))
    return b, c


def prepare(size: int) -> None:
    """Build the arrays before timing starts (once per process)."""
    arrays()


def split(size: int, n_chunks: int) -> list[tuple[int, int]]:
    """Chunks ``(start, stop)`` of logical indices: contiguous and equal."""
    return list(even_ranges(0, size, n_chunks))


def segments(start: int, stop: int):
    """Cut logical [start, stop) into physical ranges ``(lo, hi)`` that do not wrap."""
    return wrapped_segments(start, stop, PHYSICAL)


def sweep_python(chunk: tuple[int, int]) -> float:
    """Sum of b[i] + 3.0 * c[i] over the chunk, one element at a time."""
    b, c = arrays()
    total = 0.0
    for lo, hi in segments(*chunk):
        for i in range(lo, hi):
            total += b[i] + SCALAR * c[i]
    return total


def _make_numpy():
    import numpy as np

    def sweep_numpy(chunk: tuple[int, int]) -> float:
        """Two vectorised sums per segment (NumPy releases the GIL inside them)."""
        b, c = (np.frombuffer(a, dtype=np.float64) for a in arrays())
        total = 0.0
        for lo, hi in segments(*chunk):
            total += float(b[lo:hi].sum()) + SCALAR * float(c[lo:hi].sum())
        return total

    return sweep_numpy


def sweep(fn):
    """``variant(chunk)`` from the extension's ``fn(b, c, lo, hi)`` over typed memoryviews."""

    def run(chunk: tuple[int, int]) -> float:
        b, c = arrays()
        return sum(fn(b, c, lo, hi) for lo, hi in segments(*chunk))

    return run


KERNEL = Kernel(
    name="stream",
    description="memory-bound: sum of b[i] + 3*c[i] over two 32 MiB float64 arrays",
    kind="memory",
    unit="elements",
    default_size=2_000_000,
    verify_size=50_000,
    split=split,
    reduce=sum,
    prepare=prepare,
    variants=(
        Variant("python", sweep_python, releases_gil=False, description="pure-Python loop"),
        *adapt_compiled(compiled_variants("gilbench.kernels._stream_c", "sweep_gil",
                                          "sweep_nogil", "array sweep"), sweep),
        numpy_variant(_make_numpy, "NumPy sums over array slices"),
    ),
)
