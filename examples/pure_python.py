"""A pure-Python loop (prime counting by trial division): holds the GIL all the time."""

from examples import N_TASKS, scaled


def count_primes(lo: int, hi: int) -> int:
    """How many primes are in [lo, hi)."""
    count = 0
    for n in range(max(lo, 2), hi):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def tasks() -> list[tuple[int, int]]:
    """16 ranges of 20,000 numbers from 1,000,000 on (about equal cost each)."""
    width = scaled(20_000)
    return [(1_000_000 + i * width, 1_000_000 + (i + 1) * width) for i in range(N_TASKS)]
