"""Each variant's ``releases_gil`` declaration checked against a direct measurement.

``check_declared(kernel, variant)`` calibrates one chunk to last about ``target_s`` alone, then
asks ``gilbench.gilcheck.measure_gil`` whether calling the variant on it lets another thread
progress. A twin that silently stops releasing the GIL (or starts) comes out ``MISMATCH``; a
measurement that cannot decide (one usable core, a busy host) comes out ``undecided``, never a
pass or a failure.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from time import perf_counter
from typing import Literal

from gilbench.gilcheck import GilCheck, measure_gil

from ._base import Chunk, Kernel, Variant, calibrate_size

Status = Literal["ok", "MISMATCH", "undecided", "unavailable"]


@dataclass(frozen=True)
class DeclaredCheck:
    """A variant's declaration, what was measured, and whether they agree."""

    kernel: str
    variant: str
    declared_releases: bool
    status: Status
    check: GilCheck | None  # None when the variant is unavailable

    @property
    def summary(self) -> str:
        """A few words for a table cell: the measured verdict, or why there is none."""
        check = self.check
        if check is None:
            return "not measured"
        if check.fraction is None or check.interval is None:
            return check.reason.split(":")[0]
        lo, hi = check.interval
        shown = f"{check.verdict} {check.fraction:.0%} ({lo:.0%}-{hi:.0%})"
        return shown if check.verdict != "undecided" else f"{shown}: {check.reason.split(':')[0]}"

    @property
    def detail(self) -> str:
        """One line: the declaration and the measurement behind the status."""
        said = "releases" if self.declared_releases else "holds"
        if self.check is None:
            return f"declared {said}; not measured"
        return f"declared {said}; measured {self.check}"


def calibrated_chunk(kernel: Kernel, variant: Variant, target_s: float) -> Chunk:
    """One chunk that ``variant`` takes about ``target_s`` to compute alone (``calibrate_size``
    on one chunk, never below the kernel's verify size). Call it inside ``kernel.session()``."""

    def one_call(size: int) -> float:
        if kernel.prepare is not None:
            kernel.prepare(size)
        chunk = kernel.split(size, 1)[0]
        t0 = perf_counter()
        variant(chunk)
        return perf_counter() - t0

    start = max(kernel.min_size, kernel.verify_size)
    size = calibrate_size(one_call, start, target_s, enough=0.25, max_grow=16.0,
                          fit=lambda s: max(start, math.ceil(s)))
    if kernel.prepare is not None:
        kernel.prepare(size)
    return kernel.split(size, 1)[0]


#: how long one call of the variant lasts in the check. Short: a call that holds the GIL keeps
#: the measuring thread from getting it back for several calls in a row (measured on a 2-vCPU
#: AMD EPYC VM: 0.5-1 s per 0.03 s window with 80 ms calls, so 7 windows of primes/cython-gil
#: took 6.7 s; with 10-20 ms calls 1.0-1.3 s), while the verdicts came out the same
CALL_S = 0.02
QUICK_CALL_S = 0.01


def check_declared(kernel: Kernel, variant: Variant, *, target_s: float = CALL_S,
                   windows: int = 7, window_s: float = 0.04,
                   cores: int | None = None) -> DeclaredCheck:
    """Measure whether ``variant`` releases the GIL and compare with ``variant.releases_gil``.

    ``partly`` counts as a mismatch either way: the declaration is a yes or a no. Call it
    inside ``kernel.session()`` (the echo kernel needs its server).
    """
    if not variant.available:
        return DeclaredCheck(kernel.name, variant.name, variant.releases_gil, "unavailable", None)
    chunk = calibrated_chunk(kernel, variant, target_s)

    def measured() -> tuple[Status, GilCheck]:
        check = measure_gil(variant, (chunk,), windows=windows, window_s=window_s, cores=cores)
        if check.verdict == "undecided":
            return "undecided", check
        agrees = check.verdict != "partly" and (check.verdict == "releases") == variant.releases_gil
        return ("ok" if agrees else "MISMATCH"), check

    status, check = measured()
    if status == "MISMATCH":
        # A loaded host can preempt the background thread while it holds the GIL between two
        # C calls, which looks like holding it: a mismatch must be measured twice to count.
        again, second = measured()
        if again != "MISMATCH":
            status, check = "undecided", dataclasses.replace(
                second, verdict="undecided", cause="disagree",
                reason=f"measurements disagree: {check.verdict}, then {second.verdict}")
    return DeclaredCheck(kernel.name, variant.name, variant.releases_gil, status, check)
