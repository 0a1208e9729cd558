"""Integer kernel: count the primes below ``size`` by trial division.

Testing n costs about sqrt(n), so contiguous ranges would be unequal; chunks are strided
instead (chunk k tests k, k+s, k+2s, ... with s = 2 * n_chunks over odd numbers), which gives
every chunk almost the same mix of small and large numbers.
"""

from __future__ import annotations

from ._base import Kernel, Variant, compiled_variants


def split(size: int, n_chunks: int) -> list[tuple[int, int, int]]:
    """Chunks ``(start, stop, step)`` over the odd numbers 3, 5, ... below ``size``."""
    n_chunks = max(1, n_chunks)
    step = 2 * n_chunks
    return [(3 + 2 * k, size, step) for k in range(n_chunks)]


def count_python(chunk: tuple[int, int, int]) -> int:
    """How many of start, start+step, ... below stop are prime (all odd, >= 3)."""
    start, stop, step = chunk
    count = 0
    for n in range(start, stop, step):
        d = 3
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        if prime:
            count += 1
    return count


def reduce(partials) -> int:
    """Primes below size: the odd ones counted by the chunks, plus 2."""
    return sum(partials) + 1


KERNEL = Kernel(
    name="primes",
    description="integer: count primes below N by trial division (strided, balanced chunks)",
    kind="cpu",
    unit="numbers",
    default_size=300_000,
    verify_size=20_000,
    min_size=3,
    split=split,
    reduce=reduce,
    variants=(
        Variant("python", count_python, releases_gil=False, description="pure-Python loop"),
        *compiled_variants("gilbench.kernels._primes_c", "count_gil", "count_nogil",
                           "trial-division loop"),
    ),
)
