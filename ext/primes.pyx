# cython: freethreading_compatible=True, subinterpreters_compatible=own_gil
"""Compiled twin of gilbench.kernels.primes: one C loop, called with and without the GIL."""

cdef long long count_strided(long long start, long long stop, long long step) noexcept nogil:
    cdef long long n, d, count = 0
    cdef bint prime
    n = start
    while n < stop:
        d = 3
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        if prime:
            count += 1
        n += step
    return count


def count_gil(tuple chunk):
    """Like count_python, compiled; the GIL stays held for the whole loop (the control)."""
    cdef long long start = chunk[0], stop = chunk[1], step = chunk[2]
    return count_strided(start, stop, step)


def count_nogil(tuple chunk):
    """Like count_python, compiled; the loop runs inside `with nogil:`."""
    cdef long long start = chunk[0], stop = chunk[1], step = chunk[2]
    cdef long long result
    with nogil:
        result = count_strided(start, stop, step)
    return result
