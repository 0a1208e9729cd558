# cython: freethreading_compatible=True
# Not subinterpreters_compatible: Cython 3.3 does not support typed memoryviews in isolated
# subinterpreters ("will likely crash"), so its cython variants are unavailable there.
"""Compiled twin of gilbench.kernels.checksum: Adler-32 over a byte buffer."""

cdef enum:
    MOD = 65521
    NMAX = 5552  # most bytes before the sums can overflow 32 bits (as in zlib)


cdef unsigned long adler_range(const unsigned char[::1] data, Py_ssize_t lo, Py_ssize_t hi,
                               unsigned long value) noexcept nogil:
    cdef unsigned long a = value & 0xFFFF, b = (value >> 16) & 0xFFFF
    cdef Py_ssize_t i, end
    while lo < hi:
        end = lo + NMAX if hi - lo > NMAX else hi
        for i in range(lo, end):
            a += data[i]
            b += a
        a %= MOD
        b %= MOD
        lo = end
    return (b << 16) | a


def adler_gil(const unsigned char[::1] data, Py_ssize_t lo, Py_ssize_t hi, unsigned long value):
    """Running Adler-32 of data[lo:hi]; the GIL stays held (the control)."""
    return adler_range(data, lo, hi, value)


def adler_nogil(const unsigned char[::1] data, Py_ssize_t lo, Py_ssize_t hi, unsigned long value):
    """Running Adler-32 of data[lo:hi], inside `with nogil:`."""
    cdef unsigned long result
    with nogil:
        result = adler_range(data, lo, hi, value)
    return result
