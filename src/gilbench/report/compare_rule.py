"""The test `gilbench compare` applies to each cell of two runs, and the test in words.

Two runs of one command on a shared host differ by more than their own repeats show: a whole
(kernel, variant) group gets faster or slower together (another guest on the host, the cache, the
CPU's clock), while the speedups, measured against the serial baseline in the same paired rounds,
barely move. So:

- a non-serial cell with paired rounds in both files is judged on its **speedup**: each round's
  log speedup cancels what drifted over the group, and the two runs' per-round log speedups are
  compared as two samples (``stats.speedup_change``: two-sample Hodges-Lehmann shift with its
  Mann-Whitney interval). "scales better" / "scales worse" / "not significant".
- a serial cell, or a cell without paired rounds in either file (older files, converted
  pytest-benchmark output), is judged on its **time per unit of work** b/a (bootstrap interval
  within each run), with the interval widened by the drift between runs estimated from the
  serial cells of the comparison (``drift``). "faster" / "slower" / "not significant".

Both need the interval to exclude 1 **and** the ratio to move by at least the minimum change
(default 5%, like asv's ``--factor``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from gilbench import stats
from gilbench.cell import Cell

#: fewer warm repeats than this in either file and the interval means nothing: not compared
MIN_REPEATS = 3
#: a ratio must move at least this much (either way) to be called changed
DEFAULT_MIN_CHANGE = 0.05
#: fewer compared serial cells than this and the drift between runs is not estimated (a MAD of
#: three values is one of them)
MIN_SERIAL_FOR_DRIFT = 4
#: the normal quantile of a two-sided 95% interval (the drift is treated as normal on the log
#: scale: its estimate is a standard deviation)
Z_95 = NormalDist().inv_cdf(0.975)  # 1.96

#: the false discovery rate held across the cells of one comparison (Benjamini-Hochberg): with
#: hundreds of cells, 95% intervals alone call about 5% of them changed when nothing changed
FDR = 0.05

#: every status that means "changed"; the others are "not significant" or not compared
CHANGED = ("faster", "slower", "scales better", "scales worse")
JUDGED = CHANGED + ("not significant",)


def parse_statuses(text: str) -> tuple[str, ...]:
    """``"slower,scales-worse"`` -> ``("slower", "scales worse")``: statuses of ``CHANGED``,
    written with hyphens or spaces; ValueError naming the valid ones otherwise."""
    valid = ", ".join(s.replace(" ", "-") for s in CHANGED)
    names = [n.strip().lower().replace("-", " ").replace("_", " ") for n in text.split(",")
             if n.strip()]
    if not names:
        raise ValueError(f"name at least one status: {valid}")
    for name in names:
        if name not in CHANGED:
            raise ValueError(f"unknown status {name.replace(' ', '-')!r}; valid: {valid}")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Drift:
    """The drift between the two runs, from the serial cells compared: ``scale`` is
    1.4826 x MAD of their log time ratios (None: fewer than ``MIN_SERIAL_FOR_DRIFT``)."""

    n_serial: int
    scale: float | None

    @property
    def half_width(self) -> float:
        """What the drift adds (in quadrature) to each half of a 95% log time interval."""
        return Z_95 * self.scale if self.scale is not None else 0.0

    def widen(self, ratio: float, low: float, high: float) -> tuple[float, float, float]:
        """A 95% time ratio's interval with the drift added: each half of the log interval
        grown in quadrature by ``half_width`` (independent errors add as variances)."""
        if not self.half_width:
            return ratio, low, high
        down, up = math.log(ratio / low), math.log(high / ratio)
        return (ratio, ratio * math.exp(-math.hypot(down, self.half_width)),
                ratio * math.exp(math.hypot(up, self.half_width)))

    def text(self) -> str:
        """What was done here, in words."""
        if self.scale is None:
            were = "s were" if self.n_serial != 1 else " was"
            return (f"**Here** only {self.n_serial} serial cell{were} compared "
                    f"({MIN_SERIAL_FOR_DRIFT} needed): the drift between runs was "
                    "**not estimated**, and time intervals cover the spread within each run only.")
        return (f"**Here** the drift between runs, from {self.n_serial} serial cells, is "
                f"s = {100 * self.scale:.1f}%: each time interval was widened by "
                f"1.96 s = {100 * self.half_width:.1f}% (log scale, in quadrature).")


def estimate_drift(log_ratios: list[float]) -> Drift:
    """The drift between two runs from the log time ratios of their serial cells."""
    if len(log_ratios) < MIN_SERIAL_FOR_DRIFT:
        return Drift(len(log_ratios), None)
    return Drift(len(log_ratios), stats.drift_scale(log_ratios))


def test_text(min_change: float = DEFAULT_MIN_CHANGE, drift: Drift | None = None,
              selected: dict[str, tuple[int, int]] | None = None) -> str:
    """The test a comparison applies, in words (printed with every comparison); with ``drift``
    and ``selected`` (per family, R discoveries of m tests), followed by what was done in this
    one."""
    text = (
        "**Test.** A non-serial cell with paired rounds in both files is judged on its "
        "**speedup**: per round, log(serial time / cell time) of the same round (drift over the "
        "group cancels); ratio = b's speedup / a's, the two-sample Hodges-Lehmann shift of the "
        "two runs' per-round log speedups, with its distribution-free 95% interval from the "
        "Mann-Whitney U distribution (exact for small samples). It **scales better** or **scales "
        "worse** when the interval excludes 1 **and** the ratio changed by at least "
        f"{100 * min_change:g}% (`--min-change {min_change:g}`). A serial cell, or a cell "
        "without paired rounds, is judged on its **time**: ratio = b/a of the median warm wall "
        "time per unit of work (< 1: b is faster), 95% percentile bootstrap "
        f"({stats.BOOTSTRAP_RESAMPLES} resamples, each file's repeats resampled independently), "
        "widened for the drift between runs: s = 1.4826 × the median absolute deviation of the "
        f"serial cells' log time ratios (when at least {MIN_SERIAL_FOR_DRIFT} serial cells are "
        "compared), each half of the log interval grown in quadrature by 1.96 s. It is "
        "**faster** or **slower** when the interval excludes 1 **and** the ratio changed by at "
        "least the same minimum. Many cells are tested at once, so the **false discovery "
        f"rate** is held at {100 * FDR:g}% within each family, the speedup tests and the time "
        "tests (Benjamini-Hochberg on each test's p-value: Mann-Whitney for a speedup, normal "
        "on the log scale for a time): only the "
        "cells it selects can be called changed, and their intervals are shown at the "
        f"false-coverage-rate level 1 - R·{FDR:g}/m for R selected of m tested "
        "(Benjamini-Yekutieli). Otherwise a cell is **not significant**. Cells that failed in "
        "either file, exist in one file only, or have fewer than "
        f"{MIN_REPEATS} repeats are not compared.")
    if drift is not None:
        text += " " + drift.text()
    for family, (found, tests) in (selected or {}).items():
        if tests:
            text += (f" Of the {tests} {family} tests the false discovery rate selected "
                     f"**{found}**" + (f" (intervals at {100 * fcr_confidence(found, tests):.2f}%)."
                                      if found else "."))
    return text


TEST_TEXT = test_text()


def short_test_text(min_change: float, found: int, tests: int, under_min_change: int,
                    interval_spans_1: int, details: str) -> str:
    """The test in two lines (the terminal's; ``test_text`` is the full one, in ``details``):
    what makes a cell changed, then what the false discovery rate selected and why a selected
    cell is not changed (under the minimum change, or an interval that still spans 1 at the
    level it was selected at)."""
    first = (f"Test: a cell changed when the 95% interval of b/a (speedups, else times) "
             f"excludes 1, b/a moved by at least {100 * min_change:g}% (--min-change) and the "
             f"false discovery rate ({100 * FDR:g}%) selects it; method: {details}.")
    second = f"Selected {found} of {tests} tests"
    why = [f"{n} under the {100 * min_change:g}% minimum change" for n in (under_min_change,) if n]
    why += [f"{n} with an interval that still spans 1 at the level selected"
            for n in (interval_spans_1,) if n]
    if why:
        n = under_min_change + interval_spans_1
        second += (f"; {n} of them {'is' if n == 1 else 'are'} not counted as changed: "
                   + ", ".join(why))
    return f"{first}\n{second}."


def significance(ratio: float, low: float, high: float, min_change: float) -> str:
    """faster | slower | not significant, for a ratio of times b/a: the interval must exclude 1
    and the ratio move by at least ``min_change`` (a factor 1 + min_change, either way)."""
    factor = 1 + min_change
    if high < 1 and ratio <= 1 / factor:
        return "faster"
    if low > 1 and ratio >= factor:
        return "slower"
    return "not significant"


def scaling_significance(ratio: float, low: float, high: float, min_change: float) -> str:
    """scales better | scales worse | not significant, for a ratio of speedups b/a (the same
    rule as ``significance``; > 1 is better here)."""
    status = significance(ratio, low, high, min_change)
    return {"faster": "scales worse", "slower": "scales better"}.get(status, status)


def problem(cell: Cell | dict) -> str | None:
    """Why a cell's times cannot be compared ("failed", "too few repeats"), or None.
    Only the wall times matter here: a cell whose serial baseline failed still has them."""
    c = Cell.read(cell)
    if c.error or c.timed_out or c.result_ok is False:
        return "failed"
    walls = c.wall_s or []
    if len(walls) < MIN_REPEATS or not all(isinstance(t, (int, float)) and t > 0 for t in walls):
        return "too few repeats"
    return None


def is_serial(cell: Cell | dict) -> bool:
    c = Cell.read(cell)
    return c.executor == "serial" and c.workers == 1


def time_ratio(a: Cell | dict, b: Cell | dict) -> tuple[float, float, float]:
    """b/a of the median time per unit of work with its bootstrap interval (the spread within
    each run): (ratio, low, high)."""
    a, b = Cell.read(a), Cell.read(b)
    scale = a.size / b.size if a.size and b.size else 1.0
    sp = stats.bootstrap_ratio(b.wall_s, a.wall_s, scale)
    # the point estimate can sit outside a skewed percentile interval; keep it inside
    return sp["median"], min(sp["low"], sp["median"]), max(sp["high"], sp["median"])


def paired_rounds(cell: Cell | dict, serials: list[Cell] | list[dict]
                  ) -> tuple[list[float], list[float], float] | None:
    """The serial and cell wall times of the rounds both were measured in, and the speedup's
    scale (the worker count under weak scaling), or None when the cell has no paired rounds
    with a usable serial baseline of its (kernel, variant) among ``serials``.

    When the cell records a paired speedup, the pairing must give it back: a resumed run
    re-measures the serial baseline without storing it, so its cells' rounds would pair with
    another session's serial times."""
    cell = Cell.read(cell)
    rounds = cell.rounds
    if not rounds or len(rounds) != len(cell.wall_s):
        return None
    scale = float(cell.workers) if cell.scaling == "weak" else 1.0
    for serial in map(Cell.read, serials):
        if (serial.kernel, serial.variant) != (cell.kernel, cell.variant):
            continue
        if problem(serial) or len(serial.rounds or []) != len(serial.wall_s):
            continue
        base = dict(zip(serial.rounds, serial.wall_s))
        pairs = [(base[r], w) for r, w in zip(rounds, cell.wall_s) if r in base]
        if len(pairs) < MIN_REPEATS:
            continue
        serial_s, cell_s = [p[0] for p in pairs], [p[1] for p in pairs]
        recorded = cell.speedup
        if recorded is not None and recorded.extra.get("method") == stats.PAIRED_METHOD \
                and recorded.median:
            again = stats.paired_ratio(serial_s, cell_s, scale)["median"]
            if not math.isclose(again, recorded.median, rel_tol=1e-6):
                continue
        return serial_s, cell_s, scale
    return None


def speedup_ratio(pairs_a: tuple[list[float], list[float], float],
                  pairs_b: tuple[list[float], list[float], float],
                  confidence: float = 0.95) -> tuple[float, float, float]:
    """b's speedup over a's from each run's paired rounds: (ratio, low, high)."""
    sp = stats.speedup_change(pairs_a[0], pairs_a[1], pairs_b[0], pairs_b[1],
                              pairs_a[2], pairs_b[2], confidence)
    return sp["median"], sp["low"], sp["high"]


def speedup_p_value(pairs_a: tuple[list[float], list[float], float],
                    pairs_b: tuple[list[float], list[float], float]) -> float:
    """The p-value of "the speedup did not change" (the Mann-Whitney test of the two runs'
    per-round log speedups, the test ``speedup_ratio``'s interval inverts)."""
    la, lb = ([math.log(r) for r in stats.paired_ratios(p[0], p[1], p[2])]
              for p in (pairs_a, pairs_b))
    return stats.shift_p_value(la, lb)


def at_level(ratio: float, low: float, high: float, confidence: float) -> tuple[float, float,
                                                                                  float]:
    """A 95% time interval carried to ``confidence`` the way ``time_p_value`` reads it (normal
    on the log scale, each half scaled by the ratio of the normal quantiles), so the interval
    shown and the p-value that selected the cell agree."""
    grow = NormalDist().inv_cdf(0.5 + confidence / 2) / Z_95
    return (ratio, ratio * (low / ratio) ** grow, ratio * (high / ratio) ** grow)


def time_p_value(ratio: float, low: float, high: float) -> float:
    """The p-value of "the time did not change" for a drift-widened 95% time interval, taken
    as normal on the log scale (its width gives the standard error)."""
    return stats.normal_p_value(math.log(ratio), math.log(low), math.log(high))


def fcr_confidence(discoveries: int, tests: int, q: float = FDR) -> float:
    """The confidence of the intervals shown for the cells selected as changed: 1 - R q / m
    for R discoveries among m tests (Benjamini & Yekutieli's false-coverage-rate intervals, so
    the intervals of the selected cells keep their coverage on average); 95% with none."""
    if not discoveries or not tests:
        return 1 - q
    return 1 - discoveries * q / tests
