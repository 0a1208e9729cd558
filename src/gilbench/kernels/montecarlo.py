"""Random kernel: Monte Carlo estimate of pi with one deterministic, counter-based PRNG.

Sample i draws ``x = splitmix64(SEED + 2i) >> 33`` and ``y = splitmix64(SEED + 2i + 1) >> 33``
(31-bit integers) and hits when ``x*x + y*y < 2**62``. The test is in integers, and sample i does
not depend on how the samples are chunked, so every variant and every chunking gives the same,
bit-identical hit count. The result is that count; ``estimate(size, hits)`` turns it into pi.
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
    import numpy as np

    block = 1 << 20  # bound memory: at most ~50 MiB of temporaries per call

    def mix(z):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    def hits_numpy(chunk: tuple[int, int]) -> int:
        """The same counter-based PRNG on uint64 arrays (wrapping arithmetic)."""
        start, stop = chunk
        hits = 0
        for lo in range(start, stop, block):
            i = np.arange(lo, min(stop, lo + block), dtype=np.uint64)
            base = i * np.uint64(2) + np.uint64(SEED)
            x = mix(base) >> np.uint64(33)
            y = mix(base + np.uint64(1)) >> np.uint64(33)
            hits += int(np.count_nonzero(x * x + y * y < np.uint64(RADIUS2)))
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
        numpy_variant(_make_numpy, "the same PRNG vectorised on uint64 arrays"),
    ),
)
