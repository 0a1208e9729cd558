# cython: freethreading_compatible=True, subinterpreters_compatible=own_gil
"""Compiled twin of gilbench.kernels.sleep: C nanosleep with and without the GIL."""

from posix.time cimport nanosleep, timespec


cdef long long sleep_n(long long n, double seconds) noexcept nogil:
    cdef timespec req
    cdef long long i
    req.tv_sec = <long>seconds
    req.tv_nsec = <long>((seconds - req.tv_sec) * 1e9)
    for i in range(n):
        nanosleep(&req, NULL)
    return n


def sleep_gil(tuple chunk):
    """Sleep n times holding the GIL: no other Python thread runs meanwhile."""
    return sleep_n(chunk[0], chunk[1])


def sleep_nogil(tuple chunk):
    """Sleep n times inside `with nogil:`."""
    cdef long long n = chunk[0], result
    cdef double seconds = chunk[1]
    with nogil:
        result = sleep_n(n, seconds)
    return result
