"""Statistics for timings: median, IQR, bootstrap intervals on ratios, Karp–Flatt, stability.

NumPy is imported inside the functions that use it: the GIL check (``median_interval``, pure
Python) also runs inside subinterpreters, where NumPy does not load (numpy#24755).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import Any, Sequence

#: a cell whose IQR exceeds this share of its median is flagged unstable
UNSTABLE_IQR_FRACTION = 0.20
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240607  # fixed: the same data always gives the same interval


def median(values: Sequence[float]) -> float:
    """The median (nan for no values)."""
    import numpy as np

    return float(np.median(values)) if len(values) else math.nan


def iqr(values: Sequence[float]) -> float:
    """Interquartile range (75th minus 25th percentile)."""
    import numpy as np

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
    import numpy as np

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
                       f"(limit {100 * UNSTABLE_IQR_FRACTION:.0f}%)")
    return True, None


def startup_excess(cold_s: float | None, warm_s: Sequence[float]
                   ) -> tuple[float | None, str | None]:
    """(start-up, None): what the first (cold) run took over the warm median, when the cold
    run lies above every warm run; (None, why) when it does not, since then the start-up is not
    separable from the warm runs' own spread: *not measurable*, never a negative time.
    (None, None) without a cold run."""
    if cold_s is None or not warm_s:
        return None, None
    top = max(warm_s)
    if cold_s > top:
        return cold_s - median(warm_s), None
    return None, (f"not measurable: the cold run ({cold_s * 1e3:.3g} ms) lies within the warm "
                  f"runs ({min(warm_s) * 1e3:.3g}–{top * 1e3:.3g} ms), so the start-up is "
                  "smaller than their spread")


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


@functools.lru_cache(maxsize=None)
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """How many subsets of {1..n} have each rank sum (Wilcoxon's signed-rank distribution);
    kept per n (O(n^3) to count: 1.5 ms at 30 rounds, once for every cell of a report)."""
    counts = [1] + [0] * (n * (n + 1) // 2)
    for r in range(1, n + 1):
        for total in range(len(counts) - 1, r - 1, -1):
            counts[total] += counts[total - r]
    return tuple(counts)


def pseudo_median_interval(values: Sequence[float], confidence: float = 0.95
                           ) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate (median of the Walsh averages (x_i + x_j) / 2, i <= j) with
    its distribution-free interval from Wilcoxon's signed-rank test: (estimate, low, high).

    Valid for independent values symmetric about their centre (no normality); an outlier moves
    a few Walsh averages, not the interval. Narrower than the order-statistic interval of the
    median for the same values (about 20% for normal data), so a verdict needs fewer rounds.
    """
    import numpy as np

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


# --------------------------------------------------------------------------------------------
# two samples: the shift between two runs (compare)

#: above this many steps (min(m, n) * m * n) the exact U distribution gives way to the normal
#: approximation (50 x 50 rounds is 125,000 steps, about 10 ms; the approximation is already
#: within one order statistic of the exact interval from 30 x 30 on)
EXACT_U_STEPS = 200_000


def _mann_whitney_counts(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) orderings of two samples of sizes m and n give each value of
    the Mann-Whitney U (0 .. m*n): the coefficients of the Gaussian binomial [m+n choose m]_q,
    built as prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), exactly in integers."""
    m, n = min(m, n), max(m, n)  # fewer factors; U's distribution is symmetric in m and n
    counts = [1] + [0] * (m * n)
    degree = 0
    for i in range(1, m + 1):
        # times (1 - q^(n+i)), top down so each coefficient uses the old lower ones
        degree += n + i
        for u in range(min(degree, m * n), n + i - 1, -1):
            counts[u] -= counts[u - n - i]
        # divided by (1 - q^i): the quotient's coefficients are running sums with stride i
        degree -= i
        for u in range(i, m * n + 1):
            counts[u] += counts[u - i]
    return counts


@functools.lru_cache(maxsize=256)  # compare asks for the same few sizes over and over
def _u_cut(m: int, n: int, confidence: float) -> int:
    """k >= 1 such that (D_(k), D_(mn-k+1)) of the m*n sorted differences is the
    distribution-free interval of the shift: the largest k with 2 P(U <= k-1) <= 1 - confidence
    (exact below ``EXACT_U_STEPS``, else the normal approximation); 1 when no k reaches it."""
    alpha = 1 - confidence
    if min(m, n) * m * n <= EXACT_U_STEPS:
        counts = _mann_whitney_counts(m, n)
        total = math.comb(m + n, m)
        below, k = 0, 0
        while k < len(counts) and 2 * (below + counts[k]) <= alpha * total:
            below += counts[k]
            k += 1
        return max(k, 1)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    sd = math.sqrt(m * n * (m + n + 1) / 12)
    # P(U <= k - 1) <= alpha / 2 with a continuity correction: k - 1 + 0.5 <= mean - z sd
    return max(int(math.floor(m * n / 2 - z * sd + 0.5)), 1)


def shift_interval(xs: Sequence[float], ys: Sequence[float], confidence: float = 0.95
                   ) -> tuple[float, float, float]:
    """The shift of ``ys`` against ``xs``: the two-sample Hodges-Lehmann estimate
    median(y_j - x_i) over all m*n pairs, with its distribution-free interval from the
    Mann-Whitney U distribution (exact for small samples): (estimate, low, high).

    Valid when the two samples are independent and their distributions differ only by a shift
    (no normality, no equal means of noise needed); an outlier moves a few of the m*n differences,
    not the interval. With 5 values each the widest interval, (min, max) of the differences,
    covers 99.2%.
    """
    import numpy as np

    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    m, n = len(x), len(y)
    if not m or not n:
        return math.nan, math.nan, math.nan
    diffs = np.sort(np.subtract.outer(y, x).ravel())
    k = _u_cut(m, n, confidence)
    return float(np.median(diffs)), float(diffs[k - 1]), float(diffs[m * n - k])


def speedup_change(serial_a: Sequence[float], cell_a: Sequence[float],
                   serial_b: Sequence[float], cell_b: Sequence[float],
                   scale_a: float = 1.0, scale_b: float = 1.0,
                   confidence: float = 0.95) -> dict[str, Any]:
    """How a cell's speedup changed from run a to run b, from each run's paired rounds (serial
    and cell wall times of the same round, in order): b's speedup over a's as
    ``{"median", "low", "high", "n": (rounds a, rounds b), "method"}``.

    Each round's log speedup log(scale * serial / cell) cancels what drifted over both of its
    measurements (the host getting slower for the whole group between or within runs); the two
    runs' per-round log speedups are then compared as two independent samples
    (``shift_interval``), and the shift is turned back into a ratio.
    """
    la = [math.log(r) for r in paired_ratios(serial_a, cell_a, scale_a)]
    lb = [math.log(r) for r in paired_ratios(serial_b, cell_b, scale_b)]
    shift, low, high = shift_interval(la, lb, confidence)
    return {"median": math.exp(shift), "low": math.exp(low), "high": math.exp(high),
            "n": (len(la), len(lb)), "method": SHIFT_METHOD}


#: what a speedup change's interval is, in words
SHIFT_METHOD = ("two-sample Hodges-Lehmann shift of per-round log speedups, Mann-Whitney "
                "95% interval")


def drift_scale(log_ratios: Sequence[float]) -> float:
    """A robust spread of log ratios: 1.4826 x their median absolute deviation from their
    median (the standard deviation for normal data; a few real changes among them barely move
    it). nan for no values."""
    import numpy as np

    values = np.asarray(log_ratios, dtype=float)
    if not len(values):
        return math.nan
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def shift_p_value(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney test of no shift between ``xs`` and ``ys`` (the
    test ``shift_interval`` inverts): U counts the pairs with y > x (ties count a half); exact
    below ``EXACT_U_STEPS``, else the normal approximation with a continuity correction."""
    import numpy as np

    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    m, n = len(x), len(y)
    if not m or not n:
        return math.nan
    d = np.subtract.outer(y, x)
    u = float(np.sum(d > 0) + 0.5 * np.sum(d == 0))
    if min(m, n) * m * n <= EXACT_U_STEPS:
        counts = _mann_whitney_counts(m, n)
        total = math.comb(m + n, m)
        low = sum(counts[: int(math.floor(u)) + 1]) / total  # P(U <= u)
        high = sum(counts[int(math.ceil(u)):]) / total  # P(U >= u)
        return min(1.0, 2 * min(low, high))
    mean, sd = m * n / 2, math.sqrt(m * n * (m + n + 1) / 12)
    z = max(0.0, abs(u - mean) - 0.5) / sd
    return min(1.0, 2 * (1 - NormalDist().cdf(z)))


def normal_p_value(estimate: float, low: float, high: float, confidence: float = 0.95) -> float:
    """Two-sided p-value of "the true value is 0" for an estimate with a normal-theory
    ``confidence`` interval (low, high) around it (its width gives the standard error)."""
    z_c = NormalDist().inv_cdf(0.5 + confidence / 2)
    se = (high - low) / (2 * z_c)
    if not se > 0:
        return 0.0 if estimate else 1.0
    return min(1.0, 2 * (1 - NormalDist().cdf(abs(estimate) / se)))


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> int:
    """How many of the tests are discoveries when the false discovery rate is held at ``q``
    (Benjamini & Hochberg 1995): the largest k with p_(k) <= k q / m; those k smallest p-values
    are the discoveries (0: none). nan p-values count as 1."""
    ps = sorted(1.0 if not math.isfinite(p) else p for p in p_values)
    m = len(ps)
    return max((k for k in range(1, m + 1) if ps[k - 1] <= k * q / m), default=0)
