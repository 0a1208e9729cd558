# cython: freethreading_compatible=True, subinterpreters_compatible=own_gil
"""Compiled twin of gilbench.kernels.montecarlo: SplitMix64 in uint64 arithmetic."""

from libc.stdint cimport uint64_t


cdef inline uint64_t splitmix64(uint64_t state) noexcept nogil:
    cdef uint64_t z = state + <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef long long count_hits(uint64_t start, uint64_t stop) noexcept nogil:
    cdef uint64_t i, x, y
    # constants as locals: a module-level cdef global is one C variable for the whole process,
    # written again by each interpreter that imports the module
    cdef uint64_t SEED = 0x5EED0F611B
    cdef uint64_t RADIUS2 = (<uint64_t>1) << 62
    cdef long long hits = 0
    i = start
    while i < stop:
        x = splitmix64(SEED + 2 * i) >> 33
        y = splitmix64(SEED + 2 * i + 1) >> 33
        if x * x + y * y < RADIUS2:
            hits += 1
        i += 1
    return hits


def hits_gil(tuple chunk):
    """Like hits_python, compiled; the GIL stays held (the control)."""
    return count_hits(chunk[0], chunk[1])


def hits_nogil(tuple chunk):
    """Like hits_python, compiled; the loop runs inside `with nogil:`."""
    cdef uint64_t start = chunk[0], stop = chunk[1]
    cdef long long result
    with nogil:
        result = count_hits(start, stop)
    return result
