"""Every formatter of the report: numbers, times, rates, sizes, speedups, intervals, lists.

One home for each way a number is shown, so the Markdown, the HTML, the comparison, the
experiments and the plots print the same figure the same way. Two families on purpose:
the cell tables show a missing value as "—"; the experiment sections, whose prose quotes
figures inline, show "n/a".
"""

from __future__ import annotations

import math
from typing import Any, Sequence


def is_number(x: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# --------------------------------------------------------------------------------------------
# cell tables ("—" when missing)


def fmt_speedup(x: float | None) -> str:
    """'1.93×' ("—" when missing)."""
    return "—" if x is None else f"{x:.2f}×"


def fmt_interval(sp: dict | None) -> str:
    """A speedup with its interval: '1.93× [1.85–2.01]' ("—" when missing)."""
    if not sp or sp.get("median") is None:
        return "—"
    lo, hi = sp.get("low"), sp.get("high")
    if lo is None or hi is None:
        return f"{sp['median']:.2f}×"
    return f"{sp['median']:.2f}× [{lo:.2f}–{hi:.2f}]"


def fmt_ratio_interval(ratio: float, low: float, high: float) -> str:
    """A ratio of times with its interval: '0.512 [0.498–0.530]'."""
    return f"{ratio:.3f} [{low:.3f}–{high:.3f}]"


def fmt_speedup_range(values: Sequence[float]) -> str:
    """'0.93–0.98×', or '0.95×' when the values agree to two decimals."""
    lo, hi = min(values), max(values)
    return f"{lo:.2f}×" if abs(hi - lo) < 0.005 else f"{lo:.2f}–{hi:.2f}×"


def fmt_time(seconds: float | None) -> str:
    """Seconds in the unit that reads best (s, ms, µs)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_startup(seconds: float | None) -> str:
    """A start-up time: ``fmt_time``, but a negative one (the cold run was no slower than the
    warm ones: the start-up is lost in their spread) reads "not measurable", never a minus."""
    if seconds is not None and seconds < 0:
        return "not measurable"
    return fmt_time(seconds)


def fmt_rate(x: float | None, unit: str = "") -> str:
    """Units of work per second with k/M/G prefixes: '1.2 Mnumbers/s'."""
    if x is None:
        return "—"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}{unit}/s".strip()
    return f"{x:.3g} {unit}/s".strip()


def fmt_cores(utilization: float | None) -> str:
    """CPU utilisation in cores: '1.93' ("—" when not recorded)."""
    return "—" if utilization is None else f"{utilization:.2f}"


def fmt_value(v: Any) -> str:
    """A host or config value for a table: lists and dicts flattened, None as "—"."""
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt_value(x) for x in v)
    if v is None:
        return "—"
    return str(v)


def fmt_compact(x: float, _pos: Any = None) -> str:
    """An axis tick: 20k, 500k, 1M (``_pos`` lets matplotlib's FuncFormatter call it)."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:g}{suffix}"
    return f"{x:g}"


def join_words(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------------------------
# experiment prose ("n/a" when missing)


def fmt_ms(ms: float | None) -> str:
    """Milliseconds, shown in us below 1 ms."""
    if not is_number(ms):
        return "n/a"
    if ms < 1:
        return f"{ms * 1e3:.3g} us"
    return f"{ms:.3g} ms"


def fmt_s(s: float | None) -> str:
    """Seconds, in the unit that reads best (ms or us)."""
    return fmt_ms(s * 1e3) if is_number(s) else "n/a"


def fmt_per_s(x: float | None, unit: str = "/s") -> str:
    """A rate with k/M suffixes and no space: '30k/s'."""
    if not is_number(x):
        return "n/a"
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= factor:
            return f"{x / factor:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def fmt_bytes(n: int | float | None) -> str:
    """A size in B, KiB, MiB or GiB."""
    if not is_number(n):
        return "n/a"
    for factor, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{n / factor:g} {suffix}"
    return f"{n:g} B"


def fmt_x(x: float | None) -> str:
    """A ratio, as "12x" or "0.8x"."""
    return f"{x:.2g}x" if is_number(x) and x < 10 else (f"{x:.0f}x" if is_number(x) else "n/a")
