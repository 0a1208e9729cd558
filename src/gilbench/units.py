"""How a person reads a duration or a size: the one formatter of each.

The report, the terminal, ``try``'s advice and the experiments all print times and sizes
through these two, so the same figure reads the same everywhere. Ground floor: it imports
nothing of gilbench, so a report, a command or a worker may use it without loading the engine.
"""

from __future__ import annotations

import math
from typing import Any, Literal

#: what a value given in each unit is in seconds
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}


def is_number(x: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_time(value: float | None, missing: str = "—", *,
             unit: Literal["s", "ms", "us"] = "s", column: bool = False) -> str:
    """A duration in the unit that reads best: '1.23 s', '42 ms', '480 µs' (three significant
    digits). ``value`` is in ``unit`` (seconds by default); ``missing`` is shown for anything
    that is not a finite number (the cell tables say "—", the experiments' prose "n/a").

    ``column``: milliseconds with one decimal whatever the size ('12.3 ms', '1520.0 ms'), for
    the terminal's tables of cells (``gilbench run``'s latest cells), which keep one unit down
    a column so the rows compare at a glance (a cell's median is tens to hundreds of
    milliseconds by calibration)."""
    if not is_number(value):
        return missing
    seconds = value * _SECONDS[unit]
    if column:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_bytes(n: float | None, missing: str = "—") -> str:
    """A size in B, KiB, MiB or GiB with three significant digits: '1 MiB', '3 KiB', '79 B'."""
    if not is_number(n):
        return missing
    for factor, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{n / factor:.3g} {suffix}"
    return f"{n:.0f} B"


__all__ = ["fmt_bytes", "fmt_time", "is_number"]
