"""Random kernel: Monte Carlo estimate of pi with one deterministic, counter-based PRNG.

Sample i draws ``x = splitmix64(SEED + 2i) >> 33`` and ``y = splitmix64(SEED + 2i + 1) >> 33``
(31-bit integers) and hits when ``x*x + y*y < 2**62``. The test is in integers, and sample i does
not depend on how the samples are chunked, so every variant and every chunking gives the same,
bit-identical hit count. The result is that count; ``estimate(size, hits)`` turns it into pi.

The ``numpy`` twin is ~50-90x ``python`` but several times slower than the Cython loop: SplitMix64
vectorised is a dozen separate passes over each block (add, shift, xor, multiply, ...), each
reading and writing memory, where the C loop keeps a sample in registers. That gap is NumPy's,
not the twin's.
"""

from __future__ import annotations

from ._base import Kernel, Variant, compiled_variants, even_ranges, numpy_variant

SEED = 0x5EED_0F_61_1B
MASK64 = (1 << 64) - 1
RADIUS2 = 1 << 62


def split(size: int, n_chunks: int) -> list[tuple[int, int]]:
    """Chunks ``(first_sample, stop_sample)``: equal cost, contiguous."""
    return list(even_ranges(0, size, n_chunks))


def splitmix64(state: int) -> int:
    """One output of SplitMix64 for a 64-bit counter value."""
    z = (state + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def hits_python(chunk: tuple[int, int]) -> int:
    """How many samples in [start, stop) fall inside the quarter circle."""
    start, stop = chunk
    hits = 0
    for i in range(start, stop):
        x = splitmix64((SEED + 2 * i) & MASK64) >> 33
        y = splitmix64((SEED + 2 * i + 1) & MASK64) >> 33
        if x * x + y * y < RADIUS2:
            hits += 1
    return hits


def estimate(size: int, hits: int) -> float:
    """The pi estimate from ``hits`` out of ``size`` samples."""
    return 4.0 * hits / size


def _make_numpy():
    import threading

    import numpy as np

    # Blocks of 32 Ki samples: five uint64 scratch arrays of 256 KiB stay in a core's L2, and
    # they are allocated once per thread and reused. The first version made fresh 8 MiB
    # temporaries per 1 Mi-sample block: in the main thread every one was a new mmap, first
    # touched inside the timed run (~26,000 minor page faults per serial run of 11 M samples),
    # while pool threads reused their arenas' memory (0 faults). That made the serial baseline
    # slow and threads@2 look superlinear (2.1-2.45x on 2 cores).
    block = 1 << 15
    ramp = np.arange(0, 2 * block, 2, dtype=np.uint64)  # 2*i for i in [0, block): read-only
    scratch = threading.local()
    u = np.uint64
    mul1, mul2 = u(0xBF58476D1CE4E5B9), u(0x94D049BB133111EB)
    s27, s30, s31, s33 = u(27), u(30), u(31), u(33)
    radius2 = u(RADIUS2)

    def buffers():
        bufs = getattr(scratch, "bufs", None)
        if bufs is None:  # once per thread: each thread needs its own scratch
            bufs = scratch.bufs = (np.empty(block, np.uint64), np.empty(block, np.uint64),
                                   np.empty(block, np.uint64), np.empty(block, bool))
        return bufs

    def mix_into(out, base, offset: int, tmp) -> None:
        """``out = splitmix64(base + offset) >> 33`` in place (uint64 array arithmetic wraps;
        the scalar is folded in Python, where NumPy's scalar overflow warning cannot fire)."""
        np.add(base, u((offset + 0x9E3779B97F4A7C15) & MASK64), out=out)
        np.right_shift(out, s30, out=tmp)
        out ^= tmp
        out *= mul1
        np.right_shift(out, s27, out=tmp)
        out ^= tmp
        out *= mul2
        np.right_shift(out, s31, out=tmp)
        out ^= tmp
        out >>= s33

    def hits_numpy(chunk: tuple[int, int]) -> int:
        """The same counter-based PRNG on uint64 arrays, one cache-sized block at a time."""
        start, stop = chunk
        x_all, y_all, tmp_all, inside_all = buffers()
        hits = 0
        for lo in range(start, stop, block):
            n = min(stop, lo + block) - lo
            x, y, tmp, inside = x_all[:n], y_all[:n], tmp_all[:n], inside_all[:n]
            base = ramp[:n]
            first = SEED + 2 * lo  # counter of sample lo's x draw
            mix_into(x, base, first, tmp)
            mix_into(y, base, first + 1, tmp)
            x *= x  # both below 2**31: the squares and their sum fit in 63 bits
            y *= y
            x += y
            np.less(x, radius2, out=inside)
            hits += int(np.count_nonzero(inside))
        return hits

    return hits_numpy


KERNEL = Kernel(
    name="montecarlo",
    description="random: Monte Carlo pi with a counter-based SplitMix64 PRNG (bit-identical)",
    kind="cpu",
    unit="samples",
    default_size=400_000,
    verify_size=20_000,
    split=split,
    reduce=sum,
    variants=(
        Variant("python", hits_python, releases_gil=False, description="pure-Python loop"),
        *compiled_variants("gilbench.kernels._montecarlo_c", "hits_gil", "hits_nogil",
                           "SplitMix64 sampling loop"),
        numpy_variant(_make_numpy, "the same PRNG vectorised on uint64 arrays, in-place, "
                                   "cache-sized blocks"),
    ),
)
