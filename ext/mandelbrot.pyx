# cython: freethreading_compatible=True, subinterpreters_compatible=own_gil
"""Compiled twin of gilbench.kernels.mandelbrot (same operations, same order)."""


cdef enum:
    WIDTH = 200
    MAX_ITER = 200


cdef long long escape_rows(long long first, long long n_rows, long long step) noexcept nogil:
    # the view's corner and extent as locals: a module-level cdef global is one C variable for
    # the whole process, written again by each interpreter that imports the module
    cdef double X0 = -2.0, DX = 2.5, Y0 = -1.25, DY = 2.5
    cdef long long row, total = 0
    cdef int col, it
    cdef double cx, cy, x, y, x2, y2
    row = first
    while row < n_rows:
        cy = Y0 + DY * (row + 0.5) / n_rows
        for col in range(WIDTH):
            cx = X0 + DX * (col + 0.5) / WIDTH
            x = 0.0
            y = 0.0
            it = 0
            while it < MAX_ITER:
                x2 = x * x
                y2 = y * y
                if x2 + y2 > 4.0:
                    break
                y = 2.0 * x * y + cy
                x = x2 - y2 + cx
                it += 1
            total += it
        row += step
    return total


def escape_gil(tuple chunk):
    """Like escape_python, compiled; the GIL stays held (the control)."""
    return escape_rows(chunk[0], chunk[1], chunk[2])


def escape_nogil(tuple chunk):
    """Like escape_python, compiled; the loop runs inside `with nogil:`."""
    cdef long long first = chunk[0], n_rows = chunk[1], step = chunk[2], result
    with nogil:
        result = escape_rows(first, n_rows, step)
    return result
