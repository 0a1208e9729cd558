"""Floating-point kernel: Mandelbrot escape counts over the rows of a grid.

``size`` is the number of rows; every row has ``WIDTH`` points and at most ``MAX_ITER``
iterations. Rows near the middle cost more, so chunks take every n-th row (strided).
All variants use the same operations in the same order (the C build disables fused
multiply-add), so escape counts are identical; the stated tolerance is ``rel_tol`` all the same.

The ``numpy`` twin is about 10-16x ``python`` and a third to half of the Cython loop: every live
point costs ~10 array passes per iteration, and a quarter of the points (those in the set) run
all ``MAX_ITER`` iterations; compacting escaped points away keeps the rest from costing more.
"""

from __future__ import annotations

from ._base import Kernel, Variant, compiled_variants, numpy_variant

WIDTH = 200
MAX_ITER = 200
X0, DX = -2.0, 2.5  # real axis [-2.0, 0.5]
Y0, DY = -1.25, 2.5  # imaginary axis [-1.25, 1.25]


def split(size: int, n_chunks: int) -> list[tuple[int, int, int]]:
    """Chunks ``(first_row, n_rows, step)``: rows first_row, first_row+step, ... below n_rows."""
    n_chunks = max(1, n_chunks)
    return [(k, size, n_chunks) for k in range(n_chunks)]


def escape_python(chunk: tuple[int, int, int]) -> int:
    """Sum of escape iteration counts over the chunk's rows."""
    first, n_rows, step = chunk
    total = 0
    for row in range(first, n_rows, step):
        cy = Y0 + DY * (row + 0.5) / n_rows
        for col in range(WIDTH):
            cx = X0 + DX * (col + 0.5) / WIDTH
            x = y = 0.0
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
    return total


def _make_numpy():
    import numpy as np

    # Rows per block: 16 rows x 200 points keep the block's arrays (~8 of 25 KiB) in L1/L2.
    # A whole 1,500-row chunk as one array would be 2.4 MB per array, and every one of the
    # ~10 passes per iteration would stream from L3.
    block_rows = 16
    cx_row = X0 + DX * (np.arange(WIDTH, dtype=np.float64) + 0.5) / WIDTH  # same order as C

    def escape_numpy(chunk: tuple[int, int, int]) -> int:
        """Sum of escape counts: each block of the chunk's rows is one 2-D array, iterated
        with a mask of live points; the live points are compacted as they thin out."""
        first, n_rows, step = chunk
        rows = np.arange(first, n_rows, step, dtype=np.float64)
        total = 0
        with np.errstate(over="ignore", invalid="ignore"):  # escaped points may overflow
            for lo in range(0, rows.size, block_rows):
                cy = (Y0 + DY * (rows[lo:lo + block_rows] + 0.5) / n_rows)[:, None]
                total += _escape_block(np.broadcast_to(cx_row, (cy.shape[0], WIDTH)).ravel(),
                                       np.broadcast_to(cy, (cy.shape[0], WIDTH)).ravel())
        return total

    def _escape_block(cx, cy) -> int:
        """Total escape count of the points c = cx + i*cy (1-D arrays, one per point)."""
        x = np.zeros_like(cx)
        y = np.zeros_like(cx)
        x2, y2, t = np.empty_like(cx), np.empty_like(cx), np.empty_like(cx)
        live = np.ones(cx.shape, dtype=bool)
        inside = np.empty(cx.shape, dtype=bool)
        total = 0
        for _ in range(MAX_ITER):
            # the same operations in the same order as escape_python, so counts are identical
            np.multiply(x, x, out=x2)
            np.multiply(y, y, out=y2)
            np.add(x2, y2, out=t)
            np.less_equal(t, 4.0, out=inside)
            live &= inside  # sticky: an escaped point stays escaped whatever its orbit does
            n_live = int(np.count_nonzero(live))
            total += n_live  # each live point makes one more iteration
            if n_live == 0:
                break
            if n_live < live.size // 2:  # compact: drop escaped points once half are gone
                keep = np.flatnonzero(live)
                x, y, x2, y2, cx, cy = (a[keep] for a in (x, y, x2, y2, cx, cy))
                t = np.empty_like(x)
                live, inside = np.ones(x.shape, dtype=bool), np.empty(x.shape, dtype=bool)
            np.multiply(x, 2.0, out=t)  # y = 2.0 * x * y + cy
            t *= y
            np.add(t, cy, out=y)
            np.subtract(x2, y2, out=x)  # x = x2 - y2 + cx
            x += cx
        return total

    return escape_numpy


KERNEL = Kernel(
    name="mandelbrot",
    description="floating point: Mandelbrot escape counts over grid rows (strided, balanced)",
    kind="cpu",
    unit="rows",
    default_size=2_000,
    verify_size=24,
    split=split,
    reduce=sum,
    rel_tol=1e-9,
    variants=(
        Variant("python", escape_python, releases_gil=False, description="pure-Python loop"),
        *compiled_variants("gilbench.kernels._mandelbrot_c", "escape_gil", "escape_nogil",
                           "escape-time loop"),
        numpy_variant(_make_numpy, "vectorised over blocks of the chunk's rows, escaped points "
                                   "masked and compacted (NumPy loops drop the GIL)"),
    ),
)
