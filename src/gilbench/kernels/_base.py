"""What a kernel is: work that can be cut into chunks, computed by several variants, and put back.

A kernel declares ``split(size, n_chunks) -> chunks`` (chunks of about equal cost),
``reduce(partials) -> result`` and its variants, each a module-level function
``variant(chunk) -> partial``. Every variant computes the same partial from the same chunk
(integers exactly; floats within ``rel_tol``), which ``gilbench verify`` and the tests check.

Chunks are small tuples of plain numbers and strings, so they pickle cheaply to worker
processes; the work itself (loops, buffers) happens inside the variant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from gilbench.gilguard import NO_EXTENSIONS_ENV, load_extension  # noqa: F401 (kernels' API)

from gilbench.errors import UnknownNameError

Chunk = tuple
Partial = Any



class VariantUnavailable(RuntimeError):
    """The variant cannot run here (for example the extension was not compiled)."""


@dataclass(frozen=True)
class Variant:
    """One implementation of a kernel.

    ``fn`` is None when the variant is unavailable; ``reason`` then says why.
    ``async_fn`` is the coroutine form (I/O kernels), used by the ``asyncio`` executor.
    ``releases_gil`` is what the variant *claims*; the tests check the claim.
    """

    name: str
    fn: Callable[[Chunk], Partial] | None
    releases_gil: bool
    reason: str = ""
    async_fn: Callable[[Chunk], Any] | None = None
    description: str = ""

    @property
    def available(self) -> bool:
        return self.fn is not None

    def __call__(self, chunk: Chunk) -> Partial:
        if self.fn is None:
            raise VariantUnavailable(f"variant {self.name!r} is unavailable: {self.reason}")
        return self.fn(chunk)


def compiled_variants(
    module: str, gil_fn: str, nogil_fn: str, description: str = "the same C loop"
) -> list[Variant]:
    """The ``cython-gil`` / ``cython-nogil`` pair from one extension module."""
    ext, why = load_extension(module)
    return [
        Variant(
            "cython-gil",
            getattr(ext, gil_fn) if ext else None,
            releases_gil=False,
            reason=why,
            description=f"{description}, compiled, called with the GIL held (the control)",
        ),
        Variant(
            "cython-nogil",
            getattr(ext, nogil_fn) if ext else None,
            releases_gil=True,
            reason=why,
            description=f"{description}, compiled, inside `with nogil:`",
        ),
    ]


def adapt_compiled(variants: list[Variant], adapter: Callable[[Callable], Callable]) -> list[Variant]:
    """The variants with each compiled function wrapped by ``adapter`` (unavailable ones as is).

    For extensions whose functions take buffers and ranges rather than a chunk: the adapter
    turns ``fn(buffers..., lo, hi, ...)`` into ``variant(chunk)``.
    """
    adapted = []
    for v in variants:
        if v.fn is not None:
            fn = adapter(v.fn)
            fn.__name__ = fn.__qualname__ = f"{adapter.__name__}_{v.name.replace('-', '_')}"
            v = dataclasses.replace(v, fn=fn)
        adapted.append(v)
    return adapted


def wrapped_segments(start: int, stop: int, physical: int) -> Iterator[tuple[int, int]]:
    """Cut logical [start, stop) into ranges ``(lo, hi)`` of a buffer of ``physical`` items,
    where logical index i is item ``i % physical``; no range wraps."""
    while start < stop:
        lo = start % physical
        hi = min(physical, lo + (stop - start))
        yield lo, hi
        start += hi - lo


def numpy_variant(fn_factory: Callable[[], Callable[[Chunk], Partial]], description: str) -> Variant:
    """A ``numpy`` variant, unavailable (with the reason) if NumPy cannot be imported."""
    try:
        fn = fn_factory()
    except ImportError as exc:
        return Variant("numpy", None, releases_gil=True, reason=f"NumPy not importable: {exc}")
    return Variant("numpy", fn, releases_gil=True, description=description)


@dataclass(frozen=True)
class Kernel:
    """A kernel: how to cut a problem into chunks, its variants, and how to reduce partials."""

    name: str
    description: str
    kind: str  # "cpu", "memory" or "io"
    unit: str  # what `size` counts ("numbers", "rows", "samples", "bytes", ...)
    default_size: int
    verify_size: int  # small size for `gilbench verify` and the tests
    split: Callable[[int, int], list[Chunk]]
    reduce: Callable[[Sequence[Partial]], Any]
    variants: tuple[Variant, ...]
    rel_tol: float = 0.0  # 0: every variant must agree exactly
    #: context manager run around measurements in the parent (e.g. the echo server)
    session: Callable[[], contextlib.AbstractContextManager] = field(
        default=contextlib.nullcontext
    )
    #: called once per worker process before timing (e.g. build a cached buffer)
    prepare: Callable[[int], None] | None = None
    min_size: int = 1

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def variant(self, name: str) -> Variant:
        """The variant called ``name``; UnknownNameError lists the valid ones."""
        for v in self.variants:
            if v.name == name:
                return v
        raise UnknownNameError(f"variant of kernel {self.name!r}", name, self.variant_names)

    def available_variants(self) -> list[Variant]:
        return [v for v in self.variants if v.available]

    def run(self, variant: str, size: int, n_chunks: int = 1) -> Any:
        """Serially compute the result of ``variant`` at ``size`` cut into ``n_chunks``."""
        v = self.variant(variant)
        if self.prepare is not None:
            self.prepare(size)
        with self.session():
            return self.reduce([v(c) for c in self.split(size, n_chunks)])

    def agrees(self, a: Any, b: Any) -> bool:
        """Whether two results agree within the kernel's stated tolerance."""
        if self.rel_tol == 0:
            return a == b
        return math.isclose(a, b, rel_tol=self.rel_tol)


def calibrate_size(time_at: Callable[[int], float], start: int, target_s: float, *,
                   enough: float = 0.2, max_grow: float = 100.0, cost_power: float = 1.0,
                   fit: Callable[[float], int] = math.ceil) -> int:
    """The size at which one call ``time_at(size)`` (which returns its seconds) lasts about
    ``target_s``: the one calibration of the package (``measure.calibrate``, a serial run;
    ``calibrated_chunk``, one chunk; the experiments' ``calibrate_chunk``).

    Grows the size geometrically from ``start`` (x2 to x``max_grow`` a step, aiming at a third
    of the target) until a call lasts ``enough`` of the target, long enough to extrapolate
    from, then scales it to the target by the cost model (seconds ~ size ** ``cost_power``),
    rounded by ``fit``. The caller times the chosen size again if it needs its seconds.
    """
    size = start
    elapsed = time_at(size)
    while elapsed < enough * target_s:
        grow = ((target_s / 3) / max(elapsed, 1e-6)) ** (1 / cost_power)
        size = int(size * min(max_grow, max(2.0, grow)))
        elapsed = time_at(size)
    return fit(size * (target_s / elapsed) ** (1 / cost_power))


def even_ranges(start: int, stop: int, n_chunks: int) -> Iterator[tuple[int, int]]:
    """Cut [start, stop) into ``n_chunks`` contiguous ranges whose lengths differ by at most one."""
    n_chunks = max(1, n_chunks)
    total = max(0, stop - start)
    base, extra = divmod(total, n_chunks)
    lo = start
    for i in range(n_chunks):
        hi = lo + base + (1 if i < extra else 0)
        yield lo, hi
        lo = hi
