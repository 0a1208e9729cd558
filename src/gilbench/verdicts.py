"""The verdict rule: what one cell's numbers say about parallelism, in a code and in words.

Ground floor: plain Python over a results cell (``gilbench.results``), importing nothing from
the report, the kernels or the executors, so the run can store each cell's verdict in the
results file and the report can print the same rule (``RULE_MARKDOWN``) beside it.

The rule, first match wins, for a cell at ``W`` workers on a host with ``C`` usable cores and
``n = min(W, C)``:

1. failed          — the cell has an error, timed out, has no speedup, or its result was wrong.
2. parallel        — CPU/memory kernels: speedup interval low ≥ 0.75·n and CPU utilisation
                     ≥ 0.75·n (n ≥ 2). I/O kernels ("overlaps waits"): low ≥ 0.75·W (W ≥ 2);
                     waiting uses no core, so only the speedup counts.
3. slower          — interval high < 0.9.
4. partial         — interval low > 1.1 (I/O: "partial overlap").
5. concurrent only — otherwise: the interval reaches into 0.9–1.1×, no gain (I/O: "no overlap").
"""

from __future__ import annotations

from dataclasses import dataclass

# --- the rule's constants (the printed rule is generated from them, so text and code agree) ---
#: fraction of the ideal (n cores) the interval's low end and the CPU utilisation must reach
PARALLEL_FRACTION = 0.75
#: speedups inside this band are "no gain"; an interval entirely below it is "slower",
#: entirely above it (and short of parallel) is "partial"
NO_GAIN_LOW = 0.9
NO_GAIN_HIGH = 1.1

#: verdict code -> words (CPU/memory kernels, I/O kernels)
LABELS = {
    "parallel": ("parallel", "overlaps waits"),
    "partial": ("partial", "partial overlap"),
    "concurrent": ("concurrent only", "no overlap"),
    "slower": ("slower", "slower"),
    "failed": ("failed", "failed"),
    "baseline": ("baseline", "baseline"),
    "single": ("1 worker", "1 worker"),
}

RULE_MARKDOWN = f"""\
**How a verdict is decided.** For a cell at *W* workers on a host with *C* usable cores, let
*n* = min(*W*, *C*). The speedup is T(serial, same variant) / T(cell) with its bootstrap 95% interval;
CPU utilisation is Σ task CPU time / wall time (cores in use). The first rule that matches wins:

1. **failed** — the cell raised an error, timed out, or computed a wrong result (listed below).
2. **parallel** — CPU and memory kernels: interval low end ≥ {PARALLEL_FRACTION:g}·*n* **and**
   CPU utilisation ≥ {PARALLEL_FRACTION:g}·*n* cores (needs *n* ≥ 2).
   I/O kernels (**overlaps waits**): interval low end ≥ {PARALLEL_FRACTION:g}·*W* (*W* ≥ 2);
   a waiting thread needs no core, so for I/O only the speedup counts, not the CPU.
3. **slower** — interval high end < {NO_GAIN_LOW:g}: clearly slower than serial.
4. **partial** (I/O: **partial overlap**) — interval low end > {NO_GAIN_HIGH:g}: a real gain,
   short of parallel.
5. **concurrent only** (I/O: **no overlap**) — otherwise: the interval reaches into
   {NO_GAIN_LOW:g}–{NO_GAIN_HIGH:g}×, no gain over serial; the workers took turns.

Cells marked ⚠ had a wide spread between repeats (reason listed below): their verdict is tentative.
"""


# --------------------------------------------------------------------------------------------
# cell accessors: tolerate cells that lack the optional contract fields


def family(cell: dict) -> str:
    """The executor family of a cell (serial, threads, asyncio, processes, interpreters);
    a cell without one (a foreign file) is its own family, named by its executor."""
    return cell.get("family") or cell["executor"]


def kind(cell: dict) -> str:
    """``cpu``, ``memory`` or ``io``: the cell's own ``kind``, else ``cpu`` (the report fills
    it in from the document's ``kernels`` section before judging an older cell)."""
    return cell.get("kind") or "cpu"


def is_failed(cell: dict) -> bool:
    """A cell with an error, a timeout, a wrong result or no speedup."""
    sp = cell.get("speedup")
    return bool(
        cell.get("error")
        or cell.get("timed_out")
        or cell.get("result_ok") is False
        or sp is None
        or sp.get("median") is None
        or sp.get("low") is None
        or sp.get("high") is None
    )


def failure_text(cell: dict) -> str:
    """One line saying why a failed cell failed."""
    parts = []
    error = str(cell.get("error") or "").strip()
    if cell.get("timed_out") and "timed out" not in error.lower():
        parts.append("timed out")
    if error:
        parts.append(error.splitlines()[0])
    if cell.get("result_ok") is False:
        parts.append("result disagreed with the python reference")
    if not parts:
        parts.append("no speedup recorded")
    return "; ".join(parts)


def is_unstable(cell: dict) -> bool:
    """True when the cell's repeats spread too widely for a firm verdict."""
    return not cell.get("stable", True)


def cores_ceiling(cell: dict, usable_cores: int) -> int:
    """n = min(W, C) for CPU/memory work; W for I/O (a waiting thread needs no core)."""
    w = cell["workers"]
    return w if kind(cell) == "io" else max(1, min(w, usable_cores))


# --------------------------------------------------------------------------------------------
# the verdict


@dataclass(frozen=True)
class Verdict:
    """A verdict for one cell: ``code`` (parallel/partial/concurrent/slower/failed/baseline/single),
    the words shown (``label``), why, and whether the cell was unstable."""

    code: str
    label: str
    why: str
    unstable: bool = False

    @property
    def words(self) -> str:
        """The words shown for the code (``label``)."""
        return self.label


def judge(cell: dict, usable_cores: int) -> Verdict:
    """The verdict of the printed rule (``RULE_MARKDOWN``) for one cell on a host with
    ``usable_cores`` usable cores."""
    io = kind(cell) == "io"
    words = {code: pair[1 if io else 0] for code, pair in LABELS.items()}
    unstable = is_unstable(cell)
    if is_failed(cell):  # the failure is the news; its spread (if any) is not
        return Verdict("failed", "timed out" if cell.get("timed_out") else "failed",
                       failure_text(cell), False)
    if family(cell) == "serial":
        return Verdict("baseline", words["baseline"], "the serial baseline", unstable)
    w = cell["workers"]
    sp = cell["speedup"]
    low, high = float(sp["low"]), float(sp["high"])
    util = cell.get("cpu_utilization")
    n = cores_ceiling(cell, usable_cores)
    need = PARALLEL_FRACTION * n
    if io:
        if w >= 2 and low >= need:
            return Verdict("parallel", words["parallel"],
                           f"low {low:.2f} ≥ {need:.2f} (0.75·W)", unstable)
    elif n >= 2 and low >= need and util is not None and util >= need:
        return Verdict("parallel", words["parallel"],
                       f"low {low:.2f} ≥ {need:.2f} and {util:.2f} cores ≥ {need:.2f}", unstable)
    if high < NO_GAIN_LOW:
        return Verdict("slower", words["slower"], f"high {high:.2f} < {NO_GAIN_LOW}", unstable)
    if low > NO_GAIN_HIGH:
        why = f"low {low:.2f} > {NO_GAIN_HIGH}"
        if not io and n >= 2:
            if low < need:
                why += f", short of {need:.2f}"
            elif util is None:
                why += ", CPU time not recorded"
            else:
                why += f", only {util:.2f} cores used"
        return Verdict("partial", words["partial"], why, unstable)
    return Verdict("concurrent", words["concurrent"],
                   f"interval {low:.2f}–{high:.2f} reaches into {NO_GAIN_LOW}–{NO_GAIN_HIGH}",
                   unstable)


__all__ = ["Verdict", "judge", "RULE_MARKDOWN", "LABELS", "PARALLEL_FRACTION", "NO_GAIN_LOW",
           "NO_GAIN_HIGH", "family", "kind", "is_failed", "failure_text", "is_unstable",
           "cores_ceiling"]
