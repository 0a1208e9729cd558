"""What the numbers in a results document mean: usable cores, efficiency, Karp–Flatt, order.

Everything here is plain Python over the cell dicts of ``gilbench.results`` (no plotting, no
rendering), so the tests can recompute any figure from the numbers in a cell. The verdict rule
itself lives in ``gilbench.verdicts`` (the run stores each cell's verdict with it); the
headline and the claims are ``report.headline`` and ``report.claims``.

The report reads only the results document: kernel facts come from the cells and from the
document's ``kernels`` section (``results.kernel_section``), the executor families from the
cells, and the variant and family orders from ``gilbench.results``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from gilbench.cell import Cell
from gilbench.noise import OTHER_CORES_LIMIT
from gilbench.results import FAMILIES, VARIANT_ORDER
from gilbench.stats import karp_flatt, median
from gilbench.verdicts import (NO_GAIN_HIGH, Ceiling, Verdict, cores_ceiling,
                               failure_text, family, is_failed, is_unstable, kind)
from gilbench.verdicts import judge as judge_cell


def verdict(cell: dict, usable_cores: Ceiling | float) -> Verdict:
    """The cell's verdict as judged when it was measured (the results file carries it), else
    judged now by the same rule (older files). A serial baseline is always judged now: it
    depends on nothing but the cell, and older files stored *failed* for a baseline the host
    kept busy before one undisturbed round (now *undecided — host busy*, as the cells measured
    against it)."""
    stored = cell.get("verdict")
    if family(cell) != "serial" and isinstance(stored, dict) \
            and isinstance(stored.get("code"), str) and isinstance(stored.get("words"), str):
        return Verdict.from_dict(stored)
    return judge_cell(cell, usable_cores)


#: what older files appended to every spread, measured or not
_BLANKET_CAUSE = ": the machine was noisy"


def unstable_text(cell: dict) -> str:
    """Why a cell is unstable: its recorded spread, then the cause its own noise figures show
    (other processes' cores and steal in its kept rounds, rounds measured again), or that no
    measured noise explains it; never a cause that was not measured."""
    reason = (cell.get("unstable_reason") or "wide spread between repeats")
    reason = reason.replace(_BLANKET_CAUSE, "")
    noise = cell.get("noise")
    if not isinstance(noise, dict):
        return reason + " (host noise was not recorded for this cell)"
    other, steal = noise.get("other_cores_max"), noise.get("steal_share_max")
    redone = cell.get("redone_rounds") or 0
    figures = []
    if isinstance(other, (int, float)):
        figures.append(f"other processes used at most {other:.2f} cores")
    if isinstance(steal, (int, float)):
        figures.append(f"the hypervisor stole at most {100 * steal:.1f}%")
    seen = " and ".join(figures) or "no noise figures"
    again = f"; {redone} disturbed rounds were measured again" if redone else ""
    quiet = (isinstance(other, (int, float)) and other < 0.05
             and (not isinstance(steal, (int, float)) or steal < 0.01))
    if quiet:
        return f"{reason}: no measured noise explains it (in its kept rounds {seen}{again})"
    return f"{reason}: in its kept rounds {seen}{again}"


def usable_cores(doc: dict) -> int:
    """The host's usable cores as recorded (at least 1)."""
    c = doc.get("host", {}).get("usable_cores")
    return c if isinstance(c, int) and c >= 1 else 1


def ceiling(doc: dict) -> Ceiling:
    """The ceiling the run judged CPU cells against (the host section's ``ceiling``); an
    older file without one: its usable cores."""
    stored = doc.get("host", {}).get("ceiling")
    return Ceiling.of(stored) if isinstance(stored, dict) else Ceiling.of(usable_cores(doc))


def ceiling_rule(doc: dict) -> str:
    """The sentence the printed rule ends with: which ceiling this document's CPU verdicts
    used, and the host's shape behind it."""
    host = doc.get("host", {})
    shape = (host.get("topology") or {}).get("line")
    behind = (f"host: {shape}" if shape else
              "the usable cores recorded: this file predates the topology record, so SMT "
              "siblings may be counted as cores")
    placement = (host.get("placement") or {}).get("text")
    if placement:  # recorded since --pin/--core-type exist
        behind += f"; workers {placement}"
    return f"\n**Ceiling used here:** {ceiling(doc).text()} ({behind}).\n"


def verdict_workers(worker_counts: Iterable[int], usable_cores: Ceiling | float) -> int:
    """The worker count the verdict table uses: the largest measured W ≤ max(C, 2), C the
    ceiling's cores (physical, not SMT threads), else the smallest measured (so a 1-core host
    is judged at 2 workers when they were measured)."""
    usable_cores = Ceiling.of(usable_cores).cores
    counts = sorted(set(worker_counts))
    if not counts:
        raise ValueError("no worker counts")
    fitting = [w for w in counts if w <= max(usable_cores, 2)]
    return fitting[-1] if fitting else counts[0]


# --------------------------------------------------------------------------------------------
# scaling figures


def efficiency(cell: dict, usable_cores: Ceiling | float) -> float | None:
    """Parallel efficiency: speedup / p with p = min(W, C) (I/O: p = W); None if failed."""
    if is_failed(cell):
        return None
    return float(Cell.read(cell).speedup.median) / cores_ceiling(cell, usable_cores)


def serial_fraction(cell: dict, usable_cores: Ceiling | float) -> float | None:
    """Karp–Flatt e for a cell (CPU/memory kernels only, p = min(W, C) ≥ 2)."""
    if is_failed(cell) or kind(cell) == "io" or family(cell) == "serial":
        return None
    return karp_flatt(float(Cell.read(cell).speedup.median), cores_ceiling(cell, usable_cores))


def throughput(cell: Cell | dict) -> float | None:
    """Units of work per second (from the cell, else size / median_s)."""
    c = Cell.read(cell)
    t = c.throughput
    if isinstance(t, (int, float)) and t > 0:
        return float(t)
    m = c.median_s
    if m and c.size and not c.error:
        return c.size / m
    return None


# --------------------------------------------------------------------------------------------
# ordering and grouping


def _order(value: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def kernel_names(doc: dict) -> list[str]:
    """Kernels in the file, in the order of its ``kernels`` section, then of the cells."""
    declared = list(doc.get("kernels") or {})
    seen = dict.fromkeys(c["kernel"] for c in doc["cells"])
    return [k for k in declared if k in seen] + [k for k in seen if k not in declared]


def kernel_facts(doc: dict, kernel: str) -> dict:
    """What the run recorded about ``kernel`` (kind, unit, description, variants), or {}
    for documents written before the ``kernels`` section existed."""
    facts = (doc.get("kernels") or {}).get(kernel)
    return facts if isinstance(facts, dict) else {}


def executor_order(cells: Iterable[dict]) -> list[str]:
    """Executors in display order: by family (``results.FAMILIES``), then as the run met them."""
    first: dict[str, tuple[int, int]] = {}
    for i, c in enumerate(map(Cell.read, cells)):
        if c.executor not in first:
            f = family(c)
            first[c.executor] = (FAMILIES.index(f) if f in FAMILIES else len(FAMILIES), i)
    return sorted(first, key=first.__getitem__)


def executor_sort_key(doc: dict) -> Callable[[str], tuple[int, str]]:
    """A sort key for executor names in the order of ``executor_order(doc["cells"])``."""
    executors = executor_order(doc["cells"])
    return lambda e: _order(e, executors)


def executor_families(cells: Iterable[dict]) -> dict[str, str]:
    """executor -> family, as the cells record it."""
    return {c.executor: family(c) for c in map(Cell.read, cells)}


def sort_key(cell: dict, executors: Sequence[str] = ()) -> tuple:
    """Cells in display order: variant, executor (in ``executors``), workers, start method."""
    c = Cell.read(cell)
    return (_order(c.variant, VARIANT_ORDER), _order(c.executor, executors), c.workers,
            c.start_method or "")


def variant_sort_key(v: str) -> tuple[int, str]:
    """Sort key of a variant name (``results.VARIANT_ORDER``, unknown ones last)."""
    return _order(v, VARIANT_ORDER)


def curves(cells: Iterable[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """(kernel, variant, executor) -> its cells sorted by workers (one curve of a plot)."""
    cells = list(cells)
    executors = executor_order(cells)
    out: dict[tuple[str, str, str], list[dict]] = {}
    for c in sorted(cells, key=lambda c: sort_key(c, executors)):
        r = Cell.read(c)
        out.setdefault((r.kernel, r.variant, r.executor), []).append(c)
    return out


@dataclass(frozen=True)
class Judged:
    """One row of the verdict table: the cell judged at ``workers`` and its verdict."""

    kernel: str
    variant: str
    executor: str
    workers: int
    cell: dict
    verdict: Verdict


def judge(doc: dict) -> list[Judged]:
    """Every non-serial (kernel, variant, executor) judged at its verdict worker count."""
    c = ceiling(doc)
    rows = []
    for (k, v, e), cells in curves(doc["cells"]).items():
        if family(cells[0]) == "serial":
            continue
        w = verdict_workers([Cell.read(x).workers for x in cells], c)
        cell = next(x for x in cells if Cell.read(x).workers == w)
        rows.append(Judged(k, v, e, w, cell, verdict(cell, c)))
    order = {k: i for i, k in enumerate(kernel_names(doc))}
    executors = executor_order(doc["cells"])
    rows.sort(key=lambda j: (order[j.kernel], variant_sort_key(j.variant),
                             _order(j.executor, executors)))
    return rows


#: below this many cores used by the serial CPU cells, other processes took the CPU from the run
CONTENDED_SERIAL_CORES = 0.8


def contention(doc: dict) -> str | None:
    """A warning (Markdown) when the run did not get the cores it asked for: the serial CPU
    cells, which keep one core busy by construction, used clearly less than one (the process
    waited for a CPU), with the load average as corroboration. None on a quiet run."""
    utils = [x["cpu_utilization"] for x in doc["cells"]
             if family(x) == "serial" and kind(x) in ("cpu", "memory") and not is_failed(x)
             and isinstance(x.get("cpu_utilization"), (int, float))]
    if not utils:
        return None
    got = median(utils)
    if got >= CONTENDED_SERIAL_CORES:
        return None
    load = doc.get("host", {}).get("load_average_start")
    load_text = ""
    if isinstance(load, (list, tuple)) and load and isinstance(load[0], (int, float)):
        load_text = (f"; the load average was {load[0]:g} when it started, on "
                     f"{usable_cores(doc)} usable cores")
    return (f"**Busy host:** serial CPU work got only {got:.2f} of a core (median Σ CPU / wall "
            f"of the serial cells){load_text}. Other processes competed for the cores, so the "
            "speedups below understate this host: re-run on a quiet machine before trusting "
            "a verdict.")


def startup_is_cold_minus_warm(cells: Sequence[dict]) -> bool:
    """True when every recorded start-up equals the first call minus the warm median, i.e.
    the runner derived it rather than timing the pool's start alone."""
    pairs = [(x.startup_s, x.cold_wall_s - x.median_s) for x in map(Cell.read, cells)
             if x.startup_s is not None and x.cold_wall_s is not None and x.median_s is not None]
    return bool(pairs) and all(abs(a - b) <= 1e-9 + 1e-6 * abs(b) for a, b in pairs)


def more_rounds_hint(doc: dict, cells: Sequence[dict]) -> str:
    """What would decide undecided ``cells``: a larger budget (the option that ran out, at
    twice the run's value) or a quieter host."""
    cfg = doc.get("config") or {}
    reasons = " ".join(str(c.get("budget_reason") or "") for c in cells)
    options = []
    if "time budget" in reasons:
        t = cfg.get("max_time_s")
        options.append(f"--max-time {2 * t:g}" if isinstance(t, (int, float)) else
                       "a larger --max-time")
    if "cap" in reasons or not options:
        n = cfg.get("max_repeats")
        options.append(f"--max-repeats {2 * n}" if isinstance(n, int) else
                       "a larger --max-repeats")
    return f"run with {' '.join(options)} or on a quieter host"


def disturbed(cell: dict) -> int:
    """How many of the cell's rounds were disturbed and set aside (``redone_rounds`` in files
    of gilbench 0.1, which measured them again)."""
    n = cell.get("disturbed_rounds", cell.get("redone_rounds"))
    return n if isinstance(n, int) and n > 0 else 0


#: the mark shown beside a verdict whose cell had disturbed rounds set aside
DISTURBED_MARK = "↻"


def noise_measured(doc: dict) -> bool | None:
    """Whether the run could read the host's CPU counters (None: the file does not say)."""
    busy = doc.get("host", {}).get("busy")
    if isinstance(busy, dict) and isinstance(busy.get("noise_measured"), bool):
        return busy["noise_measured"]
    if any(isinstance(c.get("noise"), dict) and c["noise"].get("measured") is False
           for c in doc["cells"]):
        return False
    return None


def noise_line(doc: dict) -> str:
    """The report's "host noise" line (Markdown), from the cells' noise accounting; "" for
    files written before noise was recorded."""
    if noise_measured(doc) is False:
        return ("**Host noise: not measured.** This system's CPU counters could not be read, "
                "so a round disturbed by other processes could not be told from a quiet one: "
                "these verdicts hold only if nothing else ran during the run.")
    cells = [c for c in doc["cells"] if "disturbed_rounds" in c or "redone_rounds" in c
             or isinstance(c.get("noise"), dict)]
    if not cells:
        return ""
    noise = [c["noise"] for c in cells if isinstance(c.get("noise"), dict)]
    other = [n["other_cores_max"] for n in noise
             if isinstance(n.get("other_cores_max"), (int, float))]
    steal = [n["steal_share_max"] for n in noise
             if isinstance(n.get("steal_share_max"), (int, float))]
    hit = [c for c in cells if disturbed(c)]
    worst = []
    if other:
        worst.append(f"other processes used at most {max(other):.2f} cores"
                     + (" (on short rounds much of that is the counters' rounding: they "
                        "count in 10 ms ticks, and a round counts while it is within it)"
                        if max(other) > OTHER_CORES_LIMIT else ""))
    if steal:
        worst.append(f"the hypervisor stole at most {100 * max(steal):.1f}% of the CPU time")
    if hit:
        most = max(disturbed(c) for c in hit)
        seen = [d["other_cores"] for c in hit for d in c.get("disturbed") or []
                if isinstance(d, dict) and isinstance(d.get("other_cores"), (int, float))]
        text = (f"**Host noise:** {len(hit)} of {len(cells)} cells had disturbed rounds set "
                f"aside, up to {most} per cell"
                + (f" (other processes used up to {max(seen):.2f} cores in them)" if seen else "")
                + f"; kept in the results file, never counted, and marked {DISTURBED_MARK}N "
                  "beside their verdicts")
    else:
        text = "**Host noise:** no round was disturbed"
    return text + ("; in the rounds counted, " + " and ".join(worst) if worst else "") + "."


def host_busy_cells(doc: dict) -> list[dict]:
    """The cells left *undecided: host busy* (too few undisturbed rounds; a serial baseline:
    not one)."""
    return [c for c in doc["cells"] if c.get("host_busy")
            and verdict(c, usable_cores(doc)).host_busy]


def busy_words(doc: dict, results_file: str = "FILE") -> str | None:
    """What the run did about a busy host, in words (no markup): how busy it got, how long the
    run waited, how many cells' disturbed rounds it set aside and which cells it left
    *undecided: host busy*, with what to do; None on a quiet run. The report's banner and the
    run's last lines both say this."""
    busy = doc.get("host", {}).get("busy")
    left = host_busy_cells(doc)
    if not isinstance(busy, dict) or not (left or busy.get("waited_s")
                                          or busy.get("cells_with_disturbed_rounds")):
        return None
    worst = busy.get("other_cores_max") or 0.0
    seen = [d.get("other_cores") for c in doc["cells"] for d in c.get("disturbed") or []
            if isinstance(d, dict) and isinstance(d.get("other_cores"), (int, float))]
    worst = max([worst, *seen])
    text = (f"other processes used up to {worst:.2f} cores during this run. It waited "
            f"{busy.get('waited_s', 0):.0f} s (of --max-wait {busy.get('budget_s', 0):g} s) "
            f"for quiet moments, and set aside the disturbed rounds of "
            f"{busy.get('cells_with_disturbed_rounds', 0)} cells: they are kept in the file, "
            "but no interval or verdict uses them.")
    if left:
        text += (f" {len(left)} cells are undecided — host busy: they could not gather "
                 "enough undisturbed rounds, so no verdict is guessed and no claim rests on "
                 "them. Close what else runs and measure them again with "
                 f"`gilbench run --resume {results_file}` (it re-measures only those cells).")
    return text


def busy_banner(doc: dict) -> str | None:
    """The busy-host banner (Markdown) when the run waited for the host or left cells
    *undecided: host busy*; None on a quiet run."""
    words = busy_words(doc)
    return None if words is None else f"**Busy host:** {words}"


def released_yet_no_gain(doc: dict, cell: dict, v: Verdict) -> str | None:
    """Why a thread cell of a variant whose GIL check reads *releases* gains nothing (or is
    slower) on CPU work, with the check from its numbers: the CPU time the threads spent on the
    serial run's work. None for any other cell."""
    c = Cell.read(cell)
    high = c.speedup.high if c.speedup is not None else None
    no_gain = v.code in ("slower", "concurrent") or (  # or undecided, but below any gain
        v.code == "undecided" and isinstance(high, (int, float)) and high < NO_GAIN_HIGH)
    if family(cell) != "threads" or kind(cell) == "io" or not no_gain \
            or int(c.workers) < 2 or usable_cores(doc) < 2:
        return None
    facts = (kernel_facts(doc, c.kernel).get("variants") or {}).get(c.variant) or {}
    check = facts.get("gil_check") or {}
    if check.get("verdict") != "releases":
        return None
    share = check.get("fraction")
    share_text = f" (another thread kept {100 * share:.0f}% of its pace)" if isinstance(
        share, (int, float)) else ""
    label = "no gain" if v.code == "undecided" else v.label
    text = (f"{label} although its GIL check reads 'releases'{share_text}: the call lets "
            "other threads run for most of its time, yet threads running it together gain "
            "nothing")
    base, cpu = cell.get("serial_cpu_per_run_s"), cell.get("cpu_s")
    if isinstance(base, (int, float)) and base > 0 and isinstance(cpu, list) and cpu:
        mine = sorted(cpu)[len(cpu) // 2]
        text += (f". Check: the threads spent {mine / base:.2f}× the serial run's CPU time on "
                 "the same work")
        if mine > 1.1 * base:
            text += (" — time lost between them, not waiting: a call that drops the GIL only "
                     "inside many short operations (NumPy on small arrays) takes it back "
                     "between them, and threads running it hand the GIL to each other at every "
                     "one, each hand-off a thread wake-up")
    return text + "."


@dataclass(frozen=True)
class Problem:
    """A cell the report must not let pass as a plain finding: ``status`` is ``failed``,
    ``undecided``, ``anomaly`` (above the core count, or a verdict note) or ``unstable`` (a
    wide spread between rounds); ``why`` says what happened."""

    cell: dict
    status: str
    why: str


def problems(doc: dict) -> list[Problem]:
    """Every failed, undecided, anomalous or unstable cell, in display order (the *Problems*
    section and the headline's counts both come from here)."""
    c = ceiling(doc)
    kernels = {k: i for i, k in enumerate(kernel_names(doc))}  # a dict: linear in the cells
    executors = executor_order(doc["cells"])
    out = []
    for x in sorted(doc["cells"], key=lambda x: (kernels[x["kernel"]],
                                                 *sort_key(x, executors))):
        judged = verdict(x, c)  # the serial baseline too: busy before one quiet round
        v = judged if family(x) != "serial" else None
        if judged.host_busy:
            out.append(Problem(x, "undecided", f"host busy: {judged.why}"))
            continue
        if is_failed(x):
            out.append(Problem(x, "failed", failure_text(x)))
            continue
        if v is not None and v.code == "undecided":
            why = v.why
            if x.get("budget_reason") and x["budget_reason"] not in why:
                why += f"; measured {x['budget_reason']}"
            if released := released_yet_no_gain(doc, x, v):  # either side of 0.9: no gain
                why += f". Either way, {released[0].lower()}{released[1:]}"
            out.append(Problem(x, "undecided", why))
        elif v is not None and (v.code == "above-cores" or v.note):
            out.append(Problem(x, "anomaly", f"{v.label}: {v.note or v.why}"))
        elif v is not None and (why := released_yet_no_gain(doc, x, v)):
            out.append(Problem(x, "anomaly", why))
        elif is_unstable(x):
            out.append(Problem(x, "unstable", unstable_text(x)))
            continue
        else:
            continue
        if is_unstable(x):  # undecided or anomalous, and a wide spread too: say both
            out[-1] = Problem(x, out[-1].status, f"{out[-1].why}; wide spread: "
                                                 f"{unstable_text(x)}")
    return out


def describe_cell(cell: Cell | dict) -> str:
    """'primes/python/threads@2' (+ start method)."""
    c = Cell.read(cell)
    sm = f" ({c.start_method})" if c.start_method else ""
    return f"{c.kernel}/{c.variant}/{c.executor}@{c.workers}{sm}"


__all__ = [
    "Verdict", "Judged", "verdict", "verdict_workers", "judge", "karp_flatt", "efficiency",
    "serial_fraction", "throughput", "curves", "family", "kind", "is_failed", "is_unstable",
    "failure_text", "cores_ceiling", "usable_cores", "ceiling", "ceiling_rule", "unstable_text",
    "kernel_names",
    "kernel_facts", "executor_order", "executor_sort_key", "executor_families", "sort_key",
    "variant_sort_key", "contention", "startup_is_cold_minus_warm", "describe_cell",
    "more_rounds_hint", "disturbed", "noise_line", "noise_measured", "host_busy_cells",
    "busy_banner", "busy_words", "DISTURBED_MARK", "Problem", "problems",
]
