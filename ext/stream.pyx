# cython: freethreading_compatible=True
# Not subinterpreters_compatible: Cython 3.3 does not support typed memoryviews in isolated
# subinterpreters ("will likely crash"), so its cython variants are unavailable there.
"""Compiled twin of gilbench.kernels.stream: a sweep over typed memoryviews."""


cdef double sweep_range(const double[::1] b, const double[::1] c,
                        Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef double total = 0.0
    for i in range(lo, hi):
        total += b[i] + 3.0 * c[i]
    return total


def sweep_gil(const double[::1] b, const double[::1] c, Py_ssize_t lo, Py_ssize_t hi):
    """Sum of b[i] + 3*c[i] for i in [lo, hi); the GIL stays held (the control)."""
    return sweep_range(b, c, lo, hi)


def sweep_nogil(const double[::1] b, const double[::1] c, Py_ssize_t lo, Py_ssize_t hi):
    """Sum of b[i] + 3*c[i] for i in [lo, hi), inside `with nogil:`."""
    cdef double result
    with nogil:
        result = sweep_range(b, c, lo, hi)
    return result
