"""The kernel registry: ``names()``, ``get(name)``, ``all_kernels()``.

Adding a kernel means one module here (the pure-Python reference and its ``KERNEL``
declaration), one ``ext/NAME.pyx`` for its compiled twins, and one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib

from ._base import (
    Kernel,
    UnknownNameError,
    Variant,
    VariantUnavailable,
    even_ranges,
    load_extension,
)

__all__ = [
    "Kernel",
    "UnknownNameError",
    "Variant",
    "VariantUnavailable",
    "all_kernels",
    "even_ranges",
    "get",
    "load_extension",
    "names",
    "VARIANT_ORDER",
]

# name -> module, in the order reports list them
_MODULES = {
    "primes": "gilbench.kernels.primes",
    "mandelbrot": "gilbench.kernels.mandelbrot",
    "montecarlo": "gilbench.kernels.montecarlo",
    "stream": "gilbench.kernels.stream",
    "checksum": "gilbench.kernels.checksum",
    "sleep": "gilbench.kernels.sleep",
    "echo": "gilbench.kernels.echo",
}

#: every variant name any kernel may have, in display order
VARIANT_ORDER = ["python", "cython-gil", "cython-nogil", "numpy", "stdlib"]


def names() -> list[str]:
    """The registered kernel names, in display order."""
    return list(_MODULES)


def get(name: str) -> Kernel:
    """The kernel called ``name``; ``UnknownNameError`` (a KeyError) lists the valid names."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise UnknownNameError("kernel", name, names()) from None
    return importlib.import_module(module).KERNEL


def all_kernels() -> list[Kernel]:
    """Every registered kernel, in display order."""
    return [get(n) for n in names()]
