"""Statistics for timings: median, IQR, bootstrap intervals on ratios, Karp–Flatt, stability."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: a cell whose IQR exceeds this share of its median is flagged unstable
UNSTABLE_IQR_FRACTION = 0.20
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240607  # fixed: the same data always gives the same interval


def median(values: Sequence[float]) -> float:
    """The median (nan for no values)."""
    return float(np.median(values)) if len(values) else math.nan


def iqr(values: Sequence[float]) -> float:
    """Interquartile range (75th minus 25th percentile)."""
    if not len(values):
        return math.nan
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def bootstrap_ratio(numerator: Sequence[float], denominator: Sequence[float],
                    scale: float = 1.0, confidence: float = 0.95,
                    resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, float]:
    """``scale * median(numerator) / median(denominator)`` with a percentile bootstrap interval.

    Each side is resampled with replacement independently (the two samples are separate runs).
    Returns ``{"median", "low", "high"}``.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    point = scale * float(np.median(num)) / float(np.median(den))
    if len(num) < 2 or len(den) < 2:
        return {"median": point, "low": point, "high": point}
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n_med = np.median(rng.choice(num, size=(resamples, len(num)), replace=True), axis=1)
    d_med = np.median(rng.choice(den, size=(resamples, len(den)), replace=True), axis=1)
    ratios = scale * n_med / d_med
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    return {"median": point, "low": float(low), "high": float(high)}


def karp_flatt(speedup: float, workers: int) -> float | None:
    """Experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p); None for p = 1."""
    if workers <= 1 or not speedup or not math.isfinite(speedup):
        return None
    return (1 / speedup - 1 / workers) / (1 - 1 / workers)


def stability(wall_s: Sequence[float]) -> tuple[bool, str | None]:
    """(stable, reason) for a cell's repeated wall times."""
    if len(wall_s) < 3:
        return False, f"only {len(wall_s)} repeat(s): too few to judge the spread"
    med = median(wall_s)
    spread = iqr(wall_s)
    if med > 0 and spread / med > UNSTABLE_IQR_FRACTION:
        return False, (f"IQR is {100 * spread / med:.0f}% of the median "
                       f"(limit {100 * UNSTABLE_IQR_FRACTION:.0f}%): the machine was noisy")
    return True, None
