"""The outcome rule of a claim: how judged cells (and GIL checks) add up to confirmed, refuted,
mixed or inconclusive (the rule itself is in ``report.claims``' module docstring), and the
evidence text that says why."""

from __future__ import annotations

from typing import Sequence

from gilbench.cell import Cell
from gilbench.verdicts import (DECIDED, NO_GAIN_HIGH, Ceiling, cores_ceiling, cpu_interval,
                               regions, smt_threads)

from .analysis import Judged, kind
from .format import fmt_interval



class Tally:
    """Evidence sorted by side: ``agree``, ``disagree``, ``neutral`` and ``open`` (undecided
    items that could still fall on either side). Items are display strings; ``decided_agree``
    and ``decided_disagree`` count the decided ones (a claim needs one on its side)."""

    def __init__(self) -> None:
        self.agree: list[str] = []
        self.disagree: list[str] = []
        self.neutral: list[str] = []
        self.open: list[str] = []
        self.decided_agree = 0
        self.decided_disagree = 0
        self.undecided = 0

    def add(self, side: str, text: str, decided: bool) -> None:
        getattr(self, side).append(text)
        self.undecided += not decided
        if decided and side == "agree":
            self.decided_agree += 1
        elif decided and side == "disagree":
            self.decided_disagree += 1

    @property
    def total(self) -> int:
        return len(self.agree) + len(self.disagree) + len(self.neutral) + len(self.open)

    def outcome(self) -> str:
        """confirmed | refuted | mixed | inconclusive | not measured (see the module doc)."""
        if not self.total:
            return "not measured"
        if (self.agree and self.disagree) or self.neutral:
            return "mixed"  # no undecided cell can change that
        if self.open:
            return "inconclusive"
        if self.agree and self.decided_agree:
            return "confirmed"
        if self.disagree and self.decided_disagree:
            return "refuted"
        return "inconclusive"  # only undecided cells, all on one side: not enough to decide


#: the regions of no gain: all that CPU work on about one core can be in
_NO_GAIN = frozenset({"slower", "concurrent"})


def touched(cell: dict, cores: Ceiling) -> set[str]:
    """The verdict regions an undecided cell's interval reaches, less those its CPU time rules
    out: CPU work whose CPU utilisation interval stays below the gain line ran on about one
    core, so any gain its speedup interval reaches was not parallel work (the CPU rule)."""
    sp = Cell.read(cell).speedup
    low, high = float(sp.low), float(sp.high)
    touched = {code for code, lo, hi in regions(kind(cell), cores_ceiling(cell, cores),
                                                 smt_threads(cell, cores))
               if lo <= high and low <= hi}
    cpu = cpu_interval(cell)
    if kind(cell) != "io" and cpu is not None and cpu[1] < NO_GAIN_HIGH and touched & _NO_GAIN:
        return touched & _NO_GAIN
    return touched


def side_of(j: Judged, good: set[str], neutral: set[str], cores: Ceiling) -> str | None:
    """Which side of a claim a judged cell is on (None: failed or an anomaly, left out)."""
    code = j.verdict.code
    if code in ("undecided", "borderline"):
        # either side of the line may hold: the cell counts where all of them point one way
        touched = reach(j, cores)
        if touched <= good:
            return "agree"
        if not touched & (good | neutral):
            return "disagree"
        # a borderline cell is known to sit on the line: partly for the claim, not open
        return "neutral" if code == "borderline" else "open"
    if code not in DECIDED or code == "above-cores":
        return None
    if code in good:
        return "agree"
    return "neutral" if code in neutral else "disagree"


def cell_text(j: Judged) -> str:
    """'primes/python/threads@2: 0.98× [0.95–1.01], 1.00 cores (concurrent only)'."""
    util = j.cell.get("cpu_utilization")
    cores = f", {util:.2f} cores" if util is not None and kind(j.cell) != "io" else ""
    return (f"{j.kernel}/{j.variant}/{j.executor}@{j.workers}: {fmt_interval(j.cell['speedup'])}"
            f"{cores}, {j.verdict.label}")


def listing(items: Sequence[str], limit: int = 4) -> str:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"+{len(items) - limit} more")
    return "; ".join(shown)


def explain(t: Tally, what: str, hint: str) -> str:
    """The evidence text of a tally: what agreed, disagreed, and what would decide the rest."""
    parts = [listing(t.agree)] if t.agree else []
    for name, items in (("disagree", t.disagree), ("partly", t.neutral)):
        if items:
            parts.append(f"{name}: {listing(items)}")
    if t.open:
        some = ("" if t.undecided == len(t.open) else
                f", {len(t.open)} of which could still change the outcome")
        parts.append(f"{t.undecided} of {t.total} {what} undecided{some} "
                     f"({listing(t.open, 2)}): {hint}")
    elif t.outcome() == "inconclusive":
        parts.append(f"no decided {what[:-1]} on either side: {hint}")
    return "; ".join(parts)


def reach(j: Judged, cores: Ceiling) -> set[str]:
    """The verdict regions a judged cell may be in: its own code when decided, the regions its
    interval reaches when undecided, the two sides of a borderline one."""
    if j.verdict.code == "undecided":
        return touched(j.cell, cores)
    return set(j.verdict.sides or (j.verdict.code,))
