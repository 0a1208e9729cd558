"""Every formatter of the report: numbers, rates, speedups, intervals, lists.

One home for each way a number is shown, so the Markdown, the HTML, the comparison, the
experiments and the plots print the same figure the same way. Times and sizes are
``gilbench.units``' (``fmt_time``, ``fmt_bytes``, re-exported here), which the terminal and
``try``'s advice print too. Two families on purpose: the cell tables show a missing value as
"—"; the experiment sections, whose prose quotes figures inline, show "n/a" (``NA``).
"""

from __future__ import annotations

from typing import Any, Sequence

from gilbench.cell import Speedup
from gilbench.units import fmt_bytes, fmt_time, is_number

#: what the experiment sections show for a missing figure
NA = "n/a"


# --------------------------------------------------------------------------------------------
# cell tables ("—" when missing)


def fmt_interval(sp: Speedup | dict | None) -> str:
    """A speedup with its interval: '1.93× [1.85–2.01]' ("—" when missing)."""
    if isinstance(sp, Speedup):
        sp = sp.as_dict()
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


def fmt_per_s(x: float | None, unit: str = "/s") -> str:
    """A rate with k/M suffixes and no space: '30k/s'."""
    if not is_number(x):
        return NA
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= factor:
            return f"{x / factor:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def fmt_x(x: float | None) -> str:
    """A ratio, as "12x" or "0.8x"."""
    return f"{x:.2g}x" if is_number(x) and x < 10 else (f"{x:.0f}x" if is_number(x) else NA)


__all__ = ["NA", "fmt_bytes", "fmt_cores", "fmt_compact", "fmt_interval", "fmt_per_s",
           "fmt_rate", "fmt_ratio_interval", "fmt_speedup_range", "fmt_startup", "fmt_time",
           "fmt_value", "fmt_x", "is_number", "join_words"]
