"""Floating-point kernel: Mandelbrot escape counts over the rows of a grid.

``size`` is the number of rows; every row has ``WIDTH`` points and at most ``MAX_ITER``
iterations. Rows near the middle cost more, so chunks take every n-th row (strided).
All variants use the same operations in the same order (the C build disables fused
multiply-add), so escape counts are identical; the stated tolerance is ``rel_tol`` all the same.
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

    def escape_numpy(chunk: tuple[int, int, int]) -> int:
        """Vectorised over all points of the chunk's rows at once."""
        first, n_rows, step = chunk
        rows = np.arange(first, n_rows, step, dtype=np.float64)
        if rows.size == 0:
            return 0
        cy = (Y0 + DY * (rows + 0.5) / n_rows)[:, None] * np.ones((1, WIDTH))
        cx = (X0 + DX * (np.arange(WIDTH, dtype=np.float64) + 0.5) / WIDTH)[None, :] * np.ones(
            (rows.size, 1)
        )
        x = np.zeros_like(cx)
        y = np.zeros_like(cx)
        count = np.zeros(cx.shape, dtype=np.int64)
        active = np.ones(cx.shape, dtype=bool)
        for _ in range(MAX_ITER):
            x2 = x * x
            y2 = y * y
            active &= x2 + y2 <= 4.0
            if not active.any():
                break
            y = np.where(active, 2.0 * x * y + cy, y)
            x = np.where(active, x2 - y2 + cx, x)
            count += active
        return int(count.sum())

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
        numpy_variant(_make_numpy, "vectorised over the chunk's points (NumPy loops drop the GIL)"),
    ),
)
