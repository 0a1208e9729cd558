"""Statistics for timings: median, IQR, bootstrap intervals on ratios, Karp–Flatt, stability."""

from __future__ import annotations

import math
from typing import Any, Sequence

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


def _binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(0, k + 1)) / 2**n


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics (x_(k), x_(n-k+1)) with
    the largest k whose binomial coverage is at least ``confidence`` (for n = 5 that is the
    minimum and maximum, 93.75%; below 5 values it is the range, with less coverage).

    Exact for any continuous distribution of independent values: no normality, and an outlier
    moves it by at most one order statistic.
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    # cutting k values from each end misses the median when at most k values fall below it
    # (or above): probability 2 * P(B <= k), B ~ Binomial(n, 1/2)
    k = 0
    while k + 1 <= (n - 1) // 2 and 2 * _binom_cdf_half(k + 1, n) <= alpha:
        k += 1
    return xs[k], xs[n - 1 - k]


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float],
                  scale: float = 1.0) -> list[float]:
    """Per-round ratios ``scale * numerator[i] / denominator[i]`` (rounds measured back to back,
    so a slow drift of the host hits both sides of a ratio alike and cancels)."""
    return [scale * a / b for a, b in zip(numerator, denominator) if a > 0 and b > 0]


def _signed_rank_counts(n: int) -> list[int]:
    """How many subsets of {1..n} have each rank sum (Wilcoxon's signed-rank distribution)."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for r in range(1, n + 1):
        for total in range(len(counts) - 1, r - 1, -1):
            counts[total] += counts[total - r]
    return counts


def pseudo_median_interval(values: Sequence[float], confidence: float = 0.95
                           ) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate (median of the Walsh averages (x_i + x_j) / 2, i <= j) with
    its distribution-free interval from Wilcoxon's signed-rank test: (estimate, low, high).

    Valid for independent values symmetric about their centre (no normality); an outlier moves
    a few Walsh averages, not the interval. Narrower than the order-statistic interval of the
    median for the same values (about 20% for normal data), so a verdict needs fewer rounds.
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan
    walsh = np.sort(np.add.outer(xs, xs)[np.triu_indices(n)] / 2)
    estimate = float(np.median(walsh))
    counts = _signed_rank_counts(n)
    total = 2**n
    # k = 1 + the largest rank sum t with 2 P(T <= t) <= alpha: the interval is
    # (w_(k), w_(M - k + 1)) in 1-based order; with no such t, the whole range
    alpha, below, k = 1 - confidence, 0, 0
    while k < len(counts) and 2 * (below + counts[k]) / total <= alpha:
        below += counts[k]
        k += 1
    k = max(k, 1)
    return estimate, float(walsh[k - 1]), float(walsh[len(walsh) - k])


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float], scale: float = 1.0,
                 confidence: float = 0.95) -> dict[str, Any]:
    """The speedup from paired rounds: the per-round ratios' centre, taken on log ratios (so a
    2x and a 0.5x round weigh alike) as the Hodges-Lehmann estimate, with Wilcoxon's
    distribution-free interval; ``n`` rounds.

    Why this and not a bootstrap of two medians: the rounds are paired (serial and cell measured
    back to back), so drift cancels in each ratio; the signed-rank interval keeps its coverage
    with 5 values, where a percentile bootstrap collapses (one distinct value per resample, and
    [x, x] for a single repeat). tests/test_stats.py checks the coverage on synthetic data with
    drift and outliers.
    """
    ratios = paired_ratios(numerator, denominator, scale)
    if not ratios:
        return {"median": math.nan, "low": math.nan, "high": math.nan, "n": 0,
                "method": PAIRED_METHOD}
    centre, low, high = pseudo_median_interval([math.log(r) for r in ratios], confidence)
    return {"median": math.exp(centre), "low": math.exp(low), "high": math.exp(high),
            "n": len(ratios), "method": PAIRED_METHOD}


#: recorded with each speedup, so a reader knows what the interval means
PAIRED_METHOD = ("Hodges-Lehmann centre of paired per-round log ratios, Wilcoxon signed-rank "
                 "95% interval")
