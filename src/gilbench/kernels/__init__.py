"""The kernel registry: ``names()``, ``get(name)``, ``all_kernels()``.

Adding a kernel means one module here (the pure-Python reference and its ``KERNEL``
declaration), one ``ext/NAME.pyx`` for its compiled twins, and one line in ``_MODULES``.

Kernels that are not shipped (the test suite's fault-injection kernels) are registered through
the environment: ``GILBENCH_EXTRA_KERNELS="name=module,other=module:ATTRIBUTE"`` adds kernel
``name`` from ``module.KERNEL`` (or ``module.ATTRIBUTE``), imported from ``sys.path``. Worker
processes inherit the environment, so they find the same kernels.
"""

from __future__ import annotations

import os

from gilbench import gilguard
from gilbench import results as _results

from ._declared import DeclaredCheck, calibrated_chunk, check_declared
from ._base import (
    Kernel,
    UnknownNameError,
    Variant,
    VariantUnavailable,
    calibrate_size,
    even_ranges,
    load_extension,
)
from .user import kernel_for

__all__ = [
    "DeclaredCheck",
    "calibrate_size",
    "calibrated_chunk",
    "check_declared",
    "Kernel",
    "UnknownNameError",
    "Variant",
    "VariantUnavailable",
    "all_kernels",
    "compiled_status",
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

#: every variant name any kernel may have, in display order (the vocabulary lives in results)
VARIANT_ORDER = list(_results.VARIANT_ORDER)

#: extra (unshipped) kernels: "name=module[:ATTRIBUTE],..."; read at every lookup, so a test
#: can set it for its own duration
EXTRA_KERNELS_ENV = "GILBENCH_EXTRA_KERNELS"


def _extra_kernels() -> dict[str, str]:
    """name -> "module[:ATTRIBUTE]" from GILBENCH_EXTRA_KERNELS (ValueError if malformed)."""
    extras: dict[str, str] = {}
    for item in os.environ.get(EXTRA_KERNELS_ENV, "").split(","):
        if not item.strip():
            continue
        name, sep, target = (part.strip() for part in item.partition("="))
        if not sep or not name or not target:
            raise ValueError(f"{EXTRA_KERNELS_ENV}: expected name=module[:ATTRIBUTE] items "
                             f"separated by commas, got {item.strip()!r}")
        if name in _MODULES:
            raise ValueError(f"{EXTRA_KERNELS_ENV}: {name!r} is a built-in kernel and cannot be "
                             "replaced")
        extras[name] = target
    return extras


def names() -> list[str]:
    """The registered kernel names, in display order (extra kernels last)."""
    return [*_MODULES, *_extra_kernels()]


def get(name: str) -> Kernel:
    """The kernel called ``name``; ``UnknownNameError`` (a KeyError) lists the valid names."""
    if name in _MODULES:  # guarded: a kernel's module may bring an extension (NumPy, a twin)
        return gilguard.import_module(_MODULES[name])[0].KERNEL
    if ":" in name:  # a user's function, "MODULE:FUNCTION" (gilbench try / gilbench.workload)
        return kernel_for(name)
    target = _extra_kernels().get(name)
    if target is None:
        raise UnknownNameError("kernel", name, names())
    module, _, attribute = target.partition(":")
    kernel = getattr(gilguard.import_module(module)[0], attribute or "KERNEL")
    if kernel.name != name:
        raise ValueError(f"{EXTRA_KERNELS_ENV}: {target} is kernel {kernel.name!r}, not {name!r}")
    return kernel


def compiled_status() -> dict[str, dict[str, str]]:
    """Per kernel and variant: ``"ok"`` or why it is unavailable."""
    return {k.name: {v.name: ("ok" if v.available else v.reason) for v in k.variants}
            for k in all_kernels()}


def all_kernels() -> list[Kernel]:
    """Every registered kernel, in display order."""
    return [get(n) for n in names()]
