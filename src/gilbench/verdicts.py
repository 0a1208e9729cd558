"""The verdict rule: from a cell's speedup interval to words that never contradict the number.

The speedup axis is cut into regions (below). A cell is *decided* when its whole 95% interval
lies inside one region; otherwise it is **undecided**, shown with its median and the boundary
its interval straddles. The measurement loop keeps adding paired rounds to undecided cells
(``gilbench.measure``), the run stores each cell's verdict in the results file, and the report
prints the same verdict and this rule. Ground floor: imports nothing of gilbench but stats,
noise's limits and the cell record (``gilbench.cell``), through which it reads a cell (a stored
object or a ``Cell``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# the disturbance limits are part of the printed rule; they live with the counters
from gilbench.cell import Cell, Speedup
from gilbench.noise import OTHER_CORES_LIMIT, STEAL_LIMIT
from gilbench.stats import median_interval

# --- the rule's constants (the printed rule is generated from them, so text and code agree) ---
#: fraction of the ideal (n cores) the interval's low end and the CPU utilisation must reach
PARALLEL_FRACTION = 0.75
#: speedups inside this band are "no gain"; an interval entirely below it is "slower",
#: entirely above it (and short of parallel) is "partial"
NO_GAIN_LOW = 0.9
NO_GAIN_HIGH = 1.1
#: CPU work: a speedup beyond this many times the usable cores is an anomaly to explain
ABOVE_CORES_FACTOR = 1.1
#: an interval that straddles one boundary but lies within this factor of it either way is
#: *borderline*: the speedup is known to sit on the line (the 5% a change must reach in compare)
BORDERLINE_MARGIN = 1.05
#: the margin in words ("5%")
BORDERLINE_TEXT = f"{round(100 * (BORDERLINE_MARGIN - 1)):g}%"
#: a core's second hardware thread (SMT, Hyper-Threading) adds at most this fraction of a core
#: to CPU-bound work (typically 0-30%: siblings share the core's execution units)
SMT_GAIN = 0.3

#: how a cell's speedup interval is computed from its paired rounds, in the same words everywhere
INTERVAL_METHOD = ("the Hodges–Lehmann centre of the per-round log ratios with Wilcoxon's "
                   "signed-rank 95% interval")

#: what the report calls an anomaly (Problems, headline, the rule): the same words everywhere
ANOMALY_TEXT = (f"a speedup whose whole interval lies above {ABOVE_CORES_FACTOR:g}·n (above "
                "the core count; for I/O, above the W waits that W workers can overlap), or a "
                "parallel one whose median exceeds n")

#: code -> (words for CPU/memory work, words for I/O work)
LABELS = {
    "parallel": ("parallel", "overlaps waits"),
    "partial": ("partial", "partial overlap"),
    "concurrent": ("concurrent only", "no overlap"),
    "slower": ("slower", "slower"),
    "above-cores": ("above the core count", "above the overlapped waits"),
    "borderline": ("borderline", "borderline"),
    "undecided": ("undecided", "undecided"),
    "failed": ("failed", "failed"),
    "baseline": ("baseline", "baseline"),
}
#: the causes of an undecided verdict
BOUNDARY, HOST_BUSY = "boundary", "host-busy"
#: the words of a cell the host kept too busy to decide
HOST_BUSY_LABEL = "undecided — host busy"
#: the codes a claim may rest on (decided verdicts of measured cells)
DECIDED = frozenset({"parallel", "partial", "concurrent", "slower", "above-cores", "borderline"})


def _g(x: float) -> str:
    return f"{x:g}"


RULE_MARKDOWN = f"""\
**How a verdict is decided.** For a cell at *W* workers on a host with a ceiling of *C* cores
(the physical cores in the affinity mask, capped by the CPU quota, which may be a fraction), let
*n* = min(*W*, *C*) (for I/O kernels *n* = *W*: a waiting thread needs no core, and *W* workers
overlap at most *W* waits). The speedup is
T(serial, same variant) / T(cell), measured in paired rounds (the serial baseline and the cells
back to back, in a shuffled order), as the Hodges–Lehmann centre of the per-round log ratios
with Wilcoxon's distribution-free 95% interval. The speedup axis is cut into regions:

| region | speedup | words (CPU / I/O) |
|---|---|---|
| slower | below {_g(NO_GAIN_LOW)} | slower |
| no gain | {_g(NO_GAIN_LOW)} to {_g(NO_GAIN_HIGH)} | concurrent only / no overlap |
| a gain | {_g(NO_GAIN_HIGH)} to {_g(PARALLEL_FRACTION)}·*n* | partial / partial overlap |
| near the cores | {_g(PARALLEL_FRACTION)}·*n* to {_g(ABOVE_CORES_FACTOR)}·*n* | parallel / overlaps waits |
| beyond the cores | above {_g(ABOVE_CORES_FACTOR)}·*n* | above the core count / above the overlapped waits (an anomaly, with its checks) |

On a host with SMT, CPU cells with more workers than physical cores (*W* > *C*) are labelled
**SMT**: *n* stays *C* (sibling hardware threads share a core), and the upper end of the parallel
region becomes {_g(ABOVE_CORES_FACTOR)}·(*C* + {_g(SMT_GAIN)}·*s*), *s* = the sibling threads
the extra workers can use (a sibling adds at most {_g(SMT_GAIN)} of a core). Where
{_g(PARALLEL_FRACTION)}·*n* falls inside the no-gain band (a quota under
{NO_GAIN_HIGH / PARALLEL_FRACTION:.2f} cores; one core and its sibling), the gain region up to
{_g(ABOVE_CORES_FACTOR)}·*n* is parallel (one core and its sibling: partial).

A cell's verdict is the region that holds its **whole** interval. CPU work is called parallel
only if its CPU time does not rule it out: the 95% interval of its median CPU utilisation (CPU
time / wall time per round) must reach at least {_g(PARALLEL_FRACTION)}·*n* cores; an interval
below that is partial, also when the speedup interval reaches from the partial region into the
parallel one.
An interval that straddles one boundary *b* but lies within *b*/{_g(BORDERLINE_MARGIN)} to
*b*·{_g(BORDERLINE_MARGIN)} is **borderline** (both neighbours named): the speedup is known to sit
within {BORDERLINE_TEXT} of the line, so more rounds would not move it
off. Rounds are added to a cell until its interval fits one region, or is borderline, or its
budget (rounds, time) runs out: then it is **undecided**, shown with its median and the boundary
its interval straddles.
A parallel cell whose median exceeds *n* is shown with the same checks: both are anomalies.
A round in which other processes used more than {_g(OTHER_CORES_LIMIT)} of a core (by more than
the counters' 10 ms ticks can round to, in the round or over the last second of rounds), or the
hypervisor stole more than {round(100 * STEAL_LIMIT):g}% of the CPU time, is **disturbed**: it is
kept in the results file but never enters an interval, and the run waits for the host to settle
before the next round. A cell that could not gather enough undisturbed rounds is **undecided —
host busy**, with how busy the host was: never guessed, and no claim rests on it.
Failed cells (an error, a time-out, a wrong result) are listed below. A claim is refuted only
by decided cells.
"""


@dataclass(frozen=True)
class Verdict:
    """A cell's verdict: ``code`` (see LABELS), the words shown (``label``), ``why`` (the
    numbers that decided it), ``decided`` and, for anomalies or notes, ``note``."""

    code: str
    label: str
    why: str
    decided: bool
    note: str | None = None
    #: a borderline verdict's two neighbouring region codes (below, above the line)
    sides: tuple[str, str] | None = None
    #: why an undecided verdict is undecided: ``boundary`` (its interval straddles a line
    #: after the budget) or ``host-busy`` (too few undisturbed rounds: never guessed)
    cause: str | None = None

    @property
    def host_busy(self) -> bool:
        """True for *undecided: host busy* (the host never gave enough quiet rounds)."""
        return self.cause == HOST_BUSY

    @property
    def words(self) -> str:
        """The words shown for the code (``label``)."""
        return self.label

    @property
    def unstable(self) -> bool:
        """True when the numbers cannot carry a verdict yet (undecided): shown with ⚠."""
        return self.code == "undecided"

    def as_dict(self) -> dict:
        out = {"code": self.code, "words": self.label, "why": self.why,
               "decided": self.decided, "note": self.note}
        if self.sides:
            out["sides"] = list(self.sides)
        if self.cause:
            out["cause"] = self.cause
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        """The verdict a results cell carries (as judged when it was measured)."""
        sides = data.get("sides")
        return cls(data["code"], data["words"], data.get("why") or "", bool(data.get("decided")),
                   data.get("note"), tuple(sides) if sides and len(sides) == 2 else None,
                   data.get("cause"))

    def compatible(self, other: "Verdict") -> bool:
        """True when both can hold of one speedup: the same code, or a borderline verdict and
        one of its two sides (a 1.52× and a 1.49× on the 1.5 line say the same thing)."""
        if self.code == other.code:
            return self.sides == other.sides
        return bool((self.sides and other.code in self.sides)
                    or (other.sides and self.code in other.sides))


# --------------------------------------------------------------------------------------------
# cell accessors: a cell is read through its record (``Cell.read``: a field it lacks reads as
# the record's default), and tolerate cells that lack the optional contract fields

#: what the accessors take: a stored cell object, or its record
CellLike = Cell | dict


def family(cell: CellLike) -> str:
    """The executor family of a cell (serial, threads, asyncio, processes, interpreters);
    a cell without one (a foreign file) is its own family, named by its executor."""
    c = Cell.read(cell)
    return c.family or c.executor


def kind(cell: CellLike) -> str:
    """``cpu``, ``memory`` or ``io``: the cell's own ``kind``, else ``cpu`` (the report fills
    it in from the document's ``kernels`` section before judging an older cell)."""
    return Cell.read(cell).kind or "cpu"


def is_unstable(cell: CellLike) -> bool:
    """True when the cell's repeats spread widely (IQR over the limit): shown as a note; the
    verdict itself rests on the interval. A cell without ``stable`` counts as stable."""
    return not Cell.read(cell).stable


def is_failed(cell: CellLike) -> bool:
    """A cell with an error, a timeout, a wrong result or no speedup."""
    c = Cell.read(cell)
    sp = c.speedup
    return bool(c.error or c.timed_out or c.result_ok is False
                or not isinstance(sp, Speedup)
                or any(not isinstance(x, (int, float)) or not math.isfinite(x)
                       for x in (sp.median, sp.low, sp.high)))


def failure_text(cell: CellLike) -> str:
    """One line saying why a failed cell failed."""
    c = Cell.read(cell)
    parts = []
    error = str(c.error or "").strip()
    if c.timed_out and "timed out" not in error.lower():
        parts.append("timed out")
    if error:
        parts.append(error.splitlines()[0])
    if c.result_ok is False:
        parts.append("result disagreed with the python reference")
    if not parts:
        parts.append("host busy: no undisturbed round" if c.host_busy
                     else "no speedup recorded")
    return "; ".join(parts)


@dataclass(frozen=True)
class Ceiling:
    """What a CPU-bound speedup can reach on a host: ``cores`` (the physical cores available,
    capped by the quota; a fraction allowed) and ``threads`` (the hardware threads available
    when SMT siblings add to them, else 0); ``source`` says where it came from."""

    cores: float
    threads: int = 0
    source: str = "usable cores"

    @classmethod
    def of(cls, value: "Ceiling | float | dict | None") -> "Ceiling":
        """A ceiling from a number of cores, a stored ``as_dict``, or a ceiling (None: 1)."""
        if isinstance(value, Ceiling):
            return value
        if isinstance(value, dict):
            return cls(float(value.get("cores") or 1), int(value.get("threads") or 0),
                       str(value.get("source") or "usable cores"))
        return cls(float(value or 1))

    def smt_threads(self, workers: int) -> int:
        """The sibling threads ``workers`` can use beyond the physical cores (0: none)."""
        if self.threads <= self.cores:
            return 0
        return max(0, min(workers, self.threads) - math.ceil(self.cores))

    def text(self) -> str:
        """The ceiling in words, as the printed rule names it."""
        smt = (f" ({self.threads} hardware threads: workers beyond the cores judged as SMT)"
               if self.threads > self.cores else "")
        quota = " (the CPU quota)" if self.source == "quota" else ""
        return f"C = {_g(self.cores)} cores{quota}{smt}"

    def as_dict(self) -> dict:
        return {"cores": self.cores, "threads": self.threads, "source": self.source,
                "text": self.text()}


def cores_ceiling(cell: CellLike, usable_cores: "Ceiling | float") -> float:
    """n = min(W, C) for CPU/memory work, C the ceiling's cores (a number of cores or a
    ``Ceiling``); W for I/O (a waiting thread needs no core). Whole numbers stay ints."""
    w = int(Cell.read(cell).workers)
    if kind(cell) == "io":
        return w
    n = max(1, min(w, Ceiling.of(usable_cores).cores))
    return int(n) if float(n).is_integer() else n


def smt_threads(cell: CellLike, usable_cores: "Ceiling | float") -> int:
    """The SMT sibling threads a CPU/memory cell's workers use beyond the physical cores."""
    c = Cell.read(cell)
    return 0 if kind(c) == "io" else Ceiling.of(usable_cores).smt_threads(int(c.workers))


def regions(kind: str, n: float, smt: int = 0) -> list[tuple[str, float, float]]:
    """The speedup axis cut into (code, low, high) regions for a cell with ceiling ``n`` and
    ``smt`` sibling threads beyond it (they widen the parallel region only)."""
    top = PARALLEL_FRACTION * n
    cuts = [("slower", 0.0, NO_GAIN_LOW), ("concurrent", NO_GAIN_LOW, NO_GAIN_HIGH)]
    above = ABOVE_CORES_FACTOR * (n + SMT_GAIN * smt)
    if n > 1 and top > NO_GAIN_HIGH:
        cuts += [("partial", NO_GAIN_HIGH, top), ("parallel", top, above)]
    elif above > NO_GAIN_HIGH:  # a quota under 1.47 cores, or one core and its SMT sibling
        cuts.append(("parallel" if n > 1 else "partial", NO_GAIN_HIGH, above))
    else:  # one core: any gain beyond the no-gain band is beyond the core count
        above = NO_GAIN_HIGH
    cuts.append(("above-cores", above, math.inf))
    return cuts


def region_of(value: float, cuts: list[tuple[str, float, float]]) -> str:
    """The code of the region holding ``value`` (boundaries belong to the middle band)."""
    for code, low, high in cuts:
        if code == "concurrent" and low <= value <= high:
            return code
    for code, low, high in cuts:
        if low <= value < high or (high == math.inf and value >= low):
            return code
    return cuts[0][0]


def above_cores_checks(cell: CellLike, serial_cpu_s: float | None = None) -> str:
    """Why a CPU cell may sit above the core count, from the numbers it carries."""
    c = Cell.read(cell)
    checks = []
    base = c.serial_cpu_per_run_s if serial_cpu_s is None else serial_cpu_s
    cpu = c.cpu_s
    if isinstance(base, (int, float)) and isinstance(cpu, list) and cpu:
        mine = sorted(cpu)[len(cpu) // 2]
        if mine > 0 and base > 1.1 * mine:
            checks.append(f"the serial baseline used {base / mine:.2f}× the CPU time the "
                          "workers needed for the same work (cache or memory placement "
                          "favours the workers)")
    if not checks:
        checks.append("check the working set against the cache sizes recorded in the host "
                      "section, and the serial baseline's CPU time against the workers'")
    return "; ".join(checks)


def above_waits_checks(cell: CellLike) -> str:
    """Why an I/O cell may sit above the waits its workers can overlap: its time per unit of
    work (a round trip, a sleep) per worker against the serial baseline's, from the numbers it
    carries."""
    c = Cell.read(cell)
    w, size = int(c.workers), c.size
    mine, base = c.median_s, c.serial_median_s
    unit = str(c.unit or "unit").rstrip("s") or "unit"
    if c.scaling == "strong" and all(
            isinstance(x, (int, float)) and x > 0 for x in (mine, base, size)):
        per_worker, serial = mine * w / size, base / size
        if serial > ABOVE_CORES_FACTOR * per_worker:
            # both figures in µs, not units.fmt_time: one unit so the two compare at a glance
            return (f"{w} worker{'s' if w > 1 else ''} can overlap at most {w} wait"
                    f"{'s' if w > 1 else ''}, but each {unit} took {per_worker * 1e6:.0f} µs per "
                    f"worker here against {serial * 1e6:.0f} µs in the serial baseline: the serial "
                    "run's waits were longer, not the overlap larger: a lone request and reply "
                    "pay the wake-up of CPUs that idle between them, which workers keeping the "
                    "CPUs busy do not (scripts/echo-idle-wakeup.py measures it: beside "
                    "spinners that keep the CPUs from idling, the serial round trip is faster "
                    "and 2 threads read at most 2×)")
    return ("compare the time per unit of work of the serial baseline with each worker's: "
            f"{w} workers can overlap at most {w} waits")


def cpu_interval(cell: CellLike) -> tuple[float, float] | None:
    """A 95% interval for the cell's CPU utilisation (the median of its per-round CPU time /
    wall time: order statistics, ``stats.median_interval``), from the times the cell carries;
    for a cell without them, the recorded utilisation as a point; None if neither."""
    c = Cell.read(cell)
    walls, cpus = c.wall_s, c.cpu_s
    if isinstance(walls, list) and isinstance(cpus, list) and walls and len(walls) == len(cpus):
        utils = [c / w for c, w in zip(cpus, walls) if isinstance(c, (int, float))
                 and isinstance(w, (int, float)) and w > 0]
        if utils:
            return median_interval(utils)
    util = c.cpu_utilization
    return (float(util), float(util)) if isinstance(util, (int, float)) else None


def busy_text(cell: CellLike) -> str:
    """How busy the host was for a cell's rounds: 'other processes used 0.85–1.06 cores in 7 of
    9 rounds (2 undisturbed)' (from the disturbed runs the cell keeps)."""
    c = Cell.read(cell)
    seen = [d for d in c.disturbed or [] if isinstance(d, dict)]
    rounds = {d.get("round") for d in seen}
    kept = len(c.wall_s or [])
    other = [d["other_cores"] for d in seen if isinstance(d.get("other_cores"), (int, float))]
    steal = [d["steal_share"] for d in seen if isinstance(d.get("steal_share"), (int, float))]
    what = []
    if other and max(other) > OTHER_CORES_LIMIT:
        what.append(f"other processes used {min(other):.2f}–{max(other):.2f} cores")
    if steal and max(steal) > STEAL_LIMIT:
        what.append(f"the hypervisor stole up to {100 * max(steal):.0f}% of the CPU time")
    return (f"{' and '.join(what) or 'the host was busy'} in {len(rounds)} of "
            f"{len(rounds) + kept} rounds ({kept} undisturbed)")


def judge(cell: CellLike, usable_cores: "Ceiling | float") -> Verdict:
    """The verdict of the printed rule (``RULE_MARKDOWN``) for one results cell, against the
    ceiling ``usable_cores`` (a ``Ceiling``, or a number of cores, a fraction allowed)."""
    cell = Cell.read(cell)
    io = kind(cell) == "io"
    smt = 0 if is_failed(cell) or family(cell) == "serial" else smt_threads(cell, usable_cores)
    words = {code: pair[1 if io else 0] + (" (SMT)" if smt else "")
             for code, pair in LABELS.items()}
    if cell.host_busy and (family(cell) != "serial" or is_failed(cell)) and not cell.error \
            and not cell.timed_out and cell.result_ok is not False:
        # the rounds stopped, undecided, because the host stayed busy (for the serial
        # baseline: before one undisturbed round): say so, never guess
        sp = cell.speedup
        median = (f"; median of the undisturbed rounds {sp.median:.2f}×"
                  if not is_failed(cell) else "")
        return Verdict("undecided", HOST_BUSY_LABEL, busy_text(cell) + median, False,
                       cause=HOST_BUSY)
    if is_failed(cell):
        return Verdict("failed", "timed out" if cell.timed_out else "failed",
                       failure_text(cell), False)
    if family(cell) == "serial":
        return Verdict("baseline", words["baseline"], "the serial baseline", True)
    sp = cell.speedup
    med, low, high = float(sp.median), float(sp.low), float(sp.high)
    n = cores_ceiling(cell, usable_cores)
    cuts = regions(kind(cell), n, smt)
    above = ABOVE_CORES_FACTOR * (n + SMT_GAIN * smt)
    cores_text = f"{n} physical cores + {smt} SMT threads" if smt else f"{n} usable cores"
    at_low, at_high = region_of(low, cuts), region_of(high, cuts)
    util = cell.cpu_utilization
    need = PARALLEL_FRACTION * n
    cpu = cpu_interval(cell)
    short = cpu is not None and cpu[1] < need  # the CPU time rules "parallel" out
    cpu_text = "not recorded" if util is None else f"{util:.2f}" + (
        f" [{cpu[0]:.2f}–{cpu[1]:.2f}]" if cpu is not None else "")
    if not io and (at_low, at_high) == ("partial", "parallel") and short:
        # either region gives "partial": the CPU time rules the parallel one out
        return Verdict("partial", words["partial"],
                       f"interval {low:.2f}–{high:.2f} reaches {need:.2f}, but CPU use "
                       f"{cpu_text} < {need:.2f} cores", True)
    if at_low != at_high:
        bounds = {c: (lo, hi) for c, lo, hi in cuts}
        edge = bounds[at_low][1]
        if bounds[at_high][0] == edge and edge / BORDERLINE_MARGIN <= low \
                and high <= edge * BORDERLINE_MARGIN:
            return Verdict("borderline", f"borderline ({words[at_low]} | {words[at_high]})",
                           f"interval {low:.2f}–{high:.2f} straddles {edge:.2f} but lies within "
                           f"{BORDERLINE_TEXT} of it", True,
                           sides=(at_low, at_high))
        # every region the interval touches and every line it crosses, in order (at one
        # worker 0.90 and 1.10 lie close: an interval can cross both)
        codes = [c for c, _, _ in cuts]
        touched = codes[codes.index(at_low):codes.index(at_high) + 1]
        lines = " and ".join(f"{bounds[c][1]:.2f}" for c in touched[:-1])
        return Verdict("undecided", f"undecided (median {med:.2f}×)",
                       f"interval {low:.2f}–{high:.2f} straddles {lines} "
                       f"({' | '.join(words[c] for c in touched)})", False, cause=BOUNDARY)
    code = at_low
    if code == "parallel" and not io:
        if util is None or short:
            return Verdict("partial", words["partial"],
                           f"interval {low:.2f}–{high:.2f} ≥ {need:.2f}, but CPU use "
                           f"{cpu_text} < {need:.2f} cores", True)
        note = None
        if med > n + SMT_GAIN * smt:
            note = f"median {med:.2f}× is above the {n} usable cores: " + above_cores_checks(cell)
        return Verdict("parallel", words["parallel"],
                       f"interval {low:.2f}–{high:.2f} within {need:.2f}–"
                       f"{above:.2f}, {util:.2f} cores", True, note)
    if code == "above-cores":
        if io:
            return Verdict("above-cores", words["above-cores"],
                           f"interval {low:.2f}–{high:.2f} above {n} overlapped wait{'s' * (n != 1)} "
                           f"(×{ABOVE_CORES_FACTOR:g})", True, above_waits_checks(cell))
        return Verdict("above-cores", words["above-cores"],
                       f"interval {low:.2f}–{high:.2f} above {cores_text} "
                       f"(×{ABOVE_CORES_FACTOR:g})", True, above_cores_checks(cell))
    if code == "parallel" and io and med > n:
        lo_b, hi_b = next((lo, hi) for c, lo, hi in cuts if c == code)
        return Verdict(code, words[code], f"interval {low:.2f}–{high:.2f} within "
                       f"{lo_b:g}–{hi_b:.2f}", True,
                       f"median {med:.2f}× is above the {n} waits {n} workers can overlap: "
                       + above_waits_checks(cell))
    lo_b, hi_b = next((lo, hi) for c, lo, hi in cuts if c == code)
    return Verdict(code, words[code],
                   f"interval {low:.2f}–{high:.2f} within {lo_b:g}–"
                   f"{'∞' if hi_b == math.inf else format(hi_b, '.2f')}", True)


def is_decided(cell: CellLike, usable_cores: "Ceiling | float") -> bool:
    """True when the cell's interval fits one region (or it failed: more rounds won't help)."""
    v = judge(cell, usable_cores)
    return v.decided or v.code == "failed"
