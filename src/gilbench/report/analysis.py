"""What the numbers in a results document mean: verdicts, efficiency, Karp–Flatt, the headline.

Everything here is plain Python over the cell dicts of ``gilbench.results`` (no plotting, no
rendering), so the tests can recompute any verdict from the numbers in a cell.

The verdict rule (``RULE_MARKDOWN`` is the text printed under the verdict table), first match wins,
for a cell at ``W`` workers on a host with ``C`` usable cores and ``n = min(W, C)``:

1. failed          — the cell has an error, timed out, has no speedup, or its result was wrong.
2. parallel        — CPU/memory kernels: speedup interval low ≥ 0.75·n and CPU utilisation
                     ≥ 0.75·n (n ≥ 2). I/O kernels ("overlaps waits"): low ≥ 0.75·W (W ≥ 2);
                     waiting uses no core, so only the speedup counts.
3. slower          — interval high < 0.9.
4. partial         — interval low > 1.1 (I/O: "partial overlap").
5. concurrent only — otherwise: the interval reaches into 0.9–1.1×, no gain (I/O: "no overlap").
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

try:  # the measurement work's statistics module; the report falls back on its own formula
    from gilbench.stats import karp_flatt as _stats_karp_flatt
except ImportError:  # pragma: no cover - older trees without gilbench.stats
    _stats_karp_flatt = None

# --- the rule's constants (the printed rule is generated from them, so text and code agree) ---
#: fraction of the ideal (n cores) the interval's low end and the CPU utilisation must reach
PARALLEL_FRACTION = 0.75
#: speedups inside this band are "no gain"; an interval entirely below it is "slower",
#: entirely above it (and short of parallel) is "partial"
NO_GAIN_LOW = 0.9
NO_GAIN_HIGH = 1.1

#: executor -> family (contracts.md); unknown executors fall back to the cell's own "family"
EXECUTOR_FAMILY = {
    "serial": "serial",
    "threads": "threads",
    "thread-pool": "threads",
    "asyncio-to-thread": "threads",
    "asyncio": "asyncio",
    "asyncio-process": "processes",
    "processes": "processes",
    "process-pipe": "processes",
    "process-pool": "processes",
    "interpreters": "interpreters",
}
#: display order
EXECUTOR_ORDER = list(EXECUTOR_FAMILY)
FAMILY_ORDER = ["serial", "threads", "asyncio", "processes", "interpreters"]
from gilbench.results import VARIANT_ORDER  # noqa: E402

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


def _fmt(x: float) -> str:
    return f"{x:g}"


RULE_MARKDOWN = f"""\
**How a verdict is decided.** For a cell at *W* workers on a host with *C* usable cores, let
*n* = min(*W*, *C*). The speedup is T(serial, same variant) / T(cell) with its bootstrap 95% interval;
CPU utilisation is Σ task CPU time / wall time (cores in use). The first rule that matches wins:

1. **failed** — the cell raised an error, timed out, or computed a wrong result (listed below).
2. **parallel** — CPU and memory kernels: interval low end ≥ {_fmt(PARALLEL_FRACTION)}·*n* **and**
   CPU utilisation ≥ {_fmt(PARALLEL_FRACTION)}·*n* cores (needs *n* ≥ 2).
   I/O kernels (**overlaps waits**): interval low end ≥ {_fmt(PARALLEL_FRACTION)}·*W* (*W* ≥ 2);
   a waiting thread needs no core, so for I/O only the speedup counts, not the CPU.
3. **slower** — interval high end < {_fmt(NO_GAIN_LOW)}: clearly slower than serial.
4. **partial** (I/O: **partial overlap**) — interval low end > {_fmt(NO_GAIN_HIGH)}: a real gain,
   short of parallel.
5. **concurrent only** (I/O: **no overlap**) — otherwise: the interval reaches into
   {_fmt(NO_GAIN_LOW)}–{_fmt(NO_GAIN_HIGH)}×, no gain over serial; the workers took turns.

Cells marked ⚠ had a wide spread between repeats (reason listed below): their verdict is tentative.
"""


# --------------------------------------------------------------------------------------------
# cell accessors: tolerate cells that lack the optional contract fields


def family(cell: dict) -> str:
    """The executor family of a cell (serial, threads, asyncio, processes, interpreters)."""
    return cell.get("family") or EXECUTOR_FAMILY.get(cell["executor"], cell["executor"])


def kind(cell: dict) -> str:
    """``cpu``, ``memory`` or ``io``: from the cell, else from the kernel registry, else cpu."""
    k = cell.get("kind")
    if k:
        return k
    try:
        from gilbench import kernels

        return kernels.get(cell["kernel"]).kind
    except Exception:  # an unknown kernel in an old or foreign file: treat as CPU work
        return "cpu"


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
    return not cell.get("stable", True)


def unstable_text(cell: dict) -> str:
    return cell.get("unstable_reason") or "wide spread between repeats"


def cores_ceiling(cell: dict, usable_cores: int) -> int:
    """n = min(W, C) for CPU/memory work; W for I/O (a waiting thread needs no core)."""
    w = cell["workers"]
    return w if kind(cell) == "io" else max(1, min(w, usable_cores))


def usable_cores(doc: dict) -> int:
    """The host's usable cores as recorded (at least 1)."""
    c = doc.get("host", {}).get("usable_cores")
    return c if isinstance(c, int) and c >= 1 else 1


# --------------------------------------------------------------------------------------------
# verdicts


@dataclass(frozen=True)
class Verdict:
    """A verdict for one cell: ``code`` (parallel/partial/concurrent/slower/failed/baseline/single),
    the words shown (``label``), why, and whether the cell was unstable."""

    code: str
    label: str
    why: str
    unstable: bool = False


def verdict(cell: dict, usable_cores: int) -> Verdict:
    """The verdict of the printed rule (see ``RULE_MARKDOWN``) for one cell."""
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


def verdict_workers(worker_counts: Iterable[int], usable_cores: int) -> int:
    """The worker count the verdict table uses: the largest measured W ≤ max(C, 2), else the
    smallest measured (so a 1-core host is judged at 2 workers when they were measured)."""
    counts = sorted(set(worker_counts))
    if not counts:
        raise ValueError("no worker counts")
    fitting = [w for w in counts if w <= max(usable_cores, 2)]
    return fitting[-1] if fitting else counts[0]


# --------------------------------------------------------------------------------------------
# scaling figures


def karp_flatt(speedup: float, p: int) -> float | None:
    """Karp–Flatt experimentally determined serial fraction e = (1/S − 1/p) / (1 − 1/p);
    None when undefined (p < 2 or S not a positive number)."""
    if p < 2 or speedup is None or not (isinstance(speedup, (int, float)) and speedup > 0) \
            or not math.isfinite(speedup):
        return None
    if _stats_karp_flatt is not None:  # one formula for the whole package
        return _stats_karp_flatt(float(speedup), int(p))
    return (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p)


def efficiency(cell: dict, usable_cores: int) -> float | None:
    """Parallel efficiency: speedup / p with p = min(W, C) (I/O: p = W); None if failed."""
    if is_failed(cell):
        return None
    return float(cell["speedup"]["median"]) / cores_ceiling(cell, usable_cores)


def serial_fraction(cell: dict, usable_cores: int) -> float | None:
    """Karp–Flatt e for a cell (CPU/memory kernels only, p = min(W, C) ≥ 2)."""
    if is_failed(cell) or kind(cell) == "io" or family(cell) == "serial":
        return None
    return karp_flatt(float(cell["speedup"]["median"]), cores_ceiling(cell, usable_cores))


def throughput(cell: dict) -> float | None:
    """Units of work per second (from the cell, else size / median_s)."""
    t = cell.get("throughput")
    if isinstance(t, (int, float)) and t > 0:
        return float(t)
    m = cell.get("median_s")
    if m and cell.get("size") and not cell.get("error"):
        return cell["size"] / m
    return None


# --------------------------------------------------------------------------------------------
# ordering and grouping


def _order(value: str, order: Sequence[str]) -> tuple[int, str]:
    return (order.index(value) if value in order else len(order), value)


def kernel_names(doc: dict) -> list[str]:
    """Kernels in the file, in registry order (unknown ones last, by name)."""
    try:
        from gilbench import kernels

        registry = kernels.names()
    except Exception:
        registry = []
    seen = {c["kernel"] for c in doc["cells"]}
    return sorted(seen, key=lambda k: _order(k, registry))


def sort_key(cell: dict) -> tuple:
    return (
        _order(cell["variant"], VARIANT_ORDER),
        _order(cell["executor"], EXECUTOR_ORDER),
        cell["workers"],
        cell.get("start_method") or "",
    )


def variant_sort_key(v: str) -> tuple[int, str]:
    return _order(v, VARIANT_ORDER)


def executor_sort_key(e: str) -> tuple[int, str]:
    return _order(e, EXECUTOR_ORDER)


def curves(cells: Iterable[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """(kernel, variant, executor) -> its cells sorted by workers (one curve of a plot)."""
    out: dict[tuple[str, str, str], list[dict]] = {}
    for c in sorted(cells, key=sort_key):
        out.setdefault((c["kernel"], c["variant"], c["executor"]), []).append(c)
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
    c = usable_cores(doc)
    rows = []
    for (k, v, e), cells in curves(doc["cells"]).items():
        if family(cells[0]) == "serial":
            continue
        w = verdict_workers([x["workers"] for x in cells], c)
        cell = next(x for x in cells if x["workers"] == w)
        rows.append(Judged(k, v, e, w, cell, verdict(cell, c)))
    order = {k: i for i, k in enumerate(kernel_names(doc))}
    rows.sort(key=lambda j: (order[j.kernel], variant_sort_key(j.variant),
                             executor_sort_key(j.executor)))
    return rows


# --------------------------------------------------------------------------------------------
# words


def fmt_speedup(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def fmt_interval(sp: dict | None) -> str:
    if not sp or sp.get("median") is None:
        return "—"
    lo, hi = sp.get("low"), sp.get("high")
    if lo is None or hi is None:
        return f"{sp['median']:.2f}×"
    return f"{sp['median']:.2f}× [{lo:.2f}–{hi:.2f}]"


def fmt_time(seconds: float | None) -> str:
    """Seconds in the unit that reads best (s, ms, µs)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_rate(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.3g} {prefix}{unit}/s".strip()
    return f"{x:.3g} {unit}/s".strip()


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _range(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}×" if abs(hi - lo) < 0.005 else f"{lo:.2f}–{hi:.2f}×"


def headline(doc: dict) -> dict[str, str]:
    """``{"host", "answer", "warning"}``: the host line, a one-paragraph answer drawn from the
    verdicts, and a warning when the host was busy ("" if not); Markdown inline text."""
    host = doc.get("host", {})
    c = usable_cores(doc)
    gil = host.get("gil_enabled")
    build = host.get("build") or ("free-threaded" if host.get("py_gil_disabled") else "default")
    quota = host.get("cgroup_cpu_quota")
    cores = f"{c} usable core{'s' if c != 1 else ''}"
    detail = []
    if host.get("logical_cores") is not None:
        detail.append(f"{host['logical_cores']} logical")
    affinity = host.get("affinity_cores")
    if affinity is not None and affinity != host.get("logical_cores"):
        detail.append(f"affinity {host['affinity_cores']}")
    if quota is not None:
        detail.append(f"cgroup quota {quota:g}")
    if detail:
        cores += f" ({', '.join(detail)})"
    python = f"{host.get('python_implementation', 'Python')} {host.get('python_version', '?')}"
    gil_words = "GIL on" if gil else ("GIL off" if gil is not None else "GIL state unknown")
    host_line = (f"**{host.get('cpu_model', 'unknown CPU')}** · {cores} · {python}, "
                 f"{build} build, **{gil_words}**")

    judged = judge(doc)
    sentences: list[str] = []
    if c < 2:
        sentences.append(
            "This host has **1 usable core**, so nothing can run in parallel here: the verdicts "
            "below show only the cost of workers and the overlap of waits.")
    by_pair: dict[tuple[str, str], list[Judged]] = {}
    for j in judged:
        if kind(j.cell) != "io":
            by_pair.setdefault((j.variant, j.executor), []).append(j)

    reached: list[tuple[str, str, list[float]]] = []
    partly_groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    not_reached: list[tuple[str, str, list[float]]] = []
    gain: list[tuple[str, str, list[float]]] = []
    noisy: list[tuple[str, str, list[float]]] = []
    for (v, e), js in sorted(by_pair.items(), key=lambda kv: (variant_sort_key(kv[0][0]),
                                                               executor_sort_key(kv[0][1]))):
        # unstable cells do not speak for a pair: their verdicts are tentative
        ok = [j for j in js if j.verdict.code != "failed" and not j.verdict.unstable]
        if not ok:
            if any(j.verdict.code != "failed" for j in js):
                noisy.append((v, e, []))
            continue
        par = [j for j in ok if j.verdict.code == "parallel"]
        speeds = [float(j.cell["speedup"]["median"]) for j in ok]
        if len(par) == len(ok):
            reached.append((v, e, speeds))
        elif not par and any(j.verdict.code == "partial" for j in ok):
            gain.append((v, e, speeds))
        elif par:
            partly_groups.setdefault(
                (v, tuple(f"{j.kernel}: {j.verdict.label}" for j in ok if j not in par)),
                []).append(e)
        else:
            not_reached.append((v, e, speeds))
    all_variants = {j.variant for j in judged if kind(j.cell) != "io"}
    partly = [f"{v} with {_join(es)} (not on {', '.join(_shorten(list(miss), 3))})"
              for (v, miss), es in partly_groups.items()]

    if judged:
        w_counts = sorted({j.workers for j in judged if kind(j.cell) != "io"})
        at = f" at {_join([str(w) for w in w_counts])} workers" if w_counts else ""
        if reached:
            sentences.append(f"Reached several cores here{at}: "
                             f"{_pairs_text(reached, all_variants)}.")
        elif by_pair and c >= 2:
            sentences.append(f"No variant/executor pair reached several cores on CPU work{at}.")
        if partly:
            sentences.append(f"Parallel on some kernels only: {_join(_shorten(partly))}.")
        if gain:
            sentences.append(f"A real gain, short of parallel: {_pairs_text(gain, all_variants)}.")
        if not_reached:
            sentences.append("No clear gain over serial (concurrent only or slower; medians "
                             f"in brackets): {_pairs_text(not_reached, all_variants)}.")
        if noisy:
            sentences.append("Too noisy to judge (every cell unstable): "
                             f"{_pairs_text(noisy, all_variants, bold=False)}.")
        io_kernels = sorted({j.kernel for j in judged if kind(j.cell) == "io"},
                            key=lambda k: [x.kernel for x in judged].index(k))
        for k in io_kernels:
            io = [j for j in judged if j.kernel == k and j.verdict.code != "failed"
                  and not j.verdict.unstable]
            vs = {j.variant for j in io}
            ov = [(j.variant, j.executor, [float(j.cell["speedup"]["median"])])
                  for j in io if j.verdict.code == "parallel"]
            no = [(j.variant, j.executor, [float(j.cell["speedup"]["median"])])
                  for j in io if j.verdict.code in ("concurrent", "slower")]
            parts = []
            if ov:
                parts.append(f"overlapped for {_pairs_text(ov, vs, bold=False)}")
            if no:
                parts.append(f"did not overlap for {_pairs_text(no, vs, bold=False)}")
            if parts:
                sentences.append(f"Waits ({k}) " + "; ".join(parts) + ".")
    elif doc["cells"]:
        sentences.append("The file holds no cells besides the serial baselines, so there is "
                         "nothing to judge.")
    elif doc.get("experiments"):
        sentences.append("This file holds experiments only "
                         f"({_join(sorted(doc['experiments']))}), no speedup cells: "
                         "see the claims and the experiments below.")
    else:
        sentences.append("This file holds no cells yet (the run was interrupted before the "
                         "first cell finished, or is still running).")
    n_failed = sum(1 for x in doc["cells"] if is_failed(x))
    n_unstable = sum(1 for x in doc["cells"] if is_unstable(x) and not is_failed(x))
    if n_failed or n_unstable:
        failed_words = ("No cell failed" if not n_failed else
                        f"{n_failed} cell{'s' if n_failed != 1 else ''} failed")
        sentences.append(f"{failed_words}; {n_unstable} {'were' if n_unstable != 1 else 'was'} "
                         "unstable (listed under *Problems*).")
    if not doc.get("finished"):
        sentences.append("The run did not finish (interrupted or still running): "
                         "only the finished cells are shown.")
    return {"host": host_line, "answer": " ".join(sentences), "warning": contention(doc) or ""}


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
    got = statistics.median(utils)
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


def _pairs_text(pairs: list[tuple[str, str, list[float]]], all_variants: set[str],
                bold: bool = True) -> str:
    """'python and cython-gil with threads and thread-pool (0.93–0.98×); …': variants that
    share the same executors are named together, so the sentence stays short."""
    by_variant: dict[str, list[str]] = {}
    speeds: dict[str, list[float]] = {}
    for v, e, sp in pairs:
        by_variant.setdefault(v, []).append(e)
        speeds.setdefault(v, []).extend(sp)
    groups: dict[tuple[str, ...], list[str]] = {}
    for v, es in by_variant.items():
        groups.setdefault(tuple(es), []).append(v)
    parts = []
    for es, vs in groups.items():
        if len(vs) > 1 and set(vs) == all_variants:
            who = "every variant"
        else:
            who = _join([f"**{v}**" if bold else v for v in vs])
        sp = [x for v in vs for x in speeds[v]]
        parts.append(f"{who} with {_join(list(es))}" + (f" ({_range(sp)})" if sp else ""))
    return "; ".join(parts)


def _shorten(items: list[str], limit: int = 8) -> list[str]:
    return items if len(items) <= limit else items[:limit] + [f"{len(items) - limit} more"]


# --------------------------------------------------------------------------------------------
# claims


CLAIMS: list[tuple[str, str]] = [
    ("pure-python-threads-not-parallel", "Pure-Python CPU-bound threads do not run in parallel."),
    ("nogil-c-code-parallel",
     "C code that releases the GIL (Cython `nogil`) runs threads in parallel."),
    ("gil-released-on-sleep-io",
     "The GIL is released on sleep and blocking I/O, so waiting threads overlap."),
    ("numpy-zlib-release-gil", "NumPy and zlib release the GIL inside their C loops."),
    ("asyncio-no-cpu-parallelism", "asyncio interleaves on one thread: no parallel CPU work."),
    ("processes-bypass-gil", "Processes run Python code in parallel."),
    ("process-startup-cost", "… at a start-up and pickling cost."),
    ("cpu-threads-hurt-latency", "A CPU-bound thread holding the GIL makes other threads late."),
    ("switch-interval-5ms", "The GIL is handed over about every 5 ms."),
    ("pipe-faster-than-queue", "A Pipe is faster than a Queue."),
    ("memory-bound-bandwidth-limit", "Memory-bound work is limited by bandwidth, not the GIL."),
    ("free-threaded-python-parallel", "On a free-threaded build pure-Python threads run in parallel."),
]

#: claims decided by the experiments plug-in (src/gilbench/report/experiments.py)
EXPERIMENT_CLAIMS = {
    "cpu-threads-hurt-latency": "convoy",
    "switch-interval-5ms": "switch-interval",
    "pipe-faster-than-queue": "queue-pipe",
}


def _evidence(js: Sequence[Judged], limit: int = 4) -> str:
    """'primes/python/threads@2: 0.98× [0.95–1.01], 1.0 cores (concurrent only)', …"""
    parts = []
    for j in list(js)[:limit]:
        sp = j.cell["speedup"]
        util = j.cell.get("cpu_utilization")
        cores = f", {util:.2f} cores" if util is not None and kind(j.cell) != "io" else ""
        parts.append(f"{j.kernel}/{j.variant}/{j.executor}@{j.workers}: "
                     f"{fmt_interval(sp)}{cores} ({j.verdict.label})")
    if len(js) > limit:
        parts.append(f"+{len(js) - limit} more")
    return "; ".join(parts)


def _decide(js: Sequence[Judged], good: set[str]) -> str:
    """confirmed if every judged cell's verdict is in ``good``; refuted if none is and none is
    *partial* (a partial gain is neither parallel nor serial: it cannot refute either way);
    else mixed."""
    hits = sum(1 for j in js if j.verdict.code in good)
    if hits == len(js):
        return "confirmed"
    if hits == 0 and not any(j.verdict.code == "partial" for j in js):
        return "refuted"
    return "mixed"


def claims(doc: dict) -> list[dict]:
    """The claims table: one dict per claim id ``{"id", "claim", "verdict", "evidence"}``."""
    c = usable_cores(doc)
    host = doc.get("host", {})
    gil_on = host.get("gil_enabled", True)
    all_judged = judge(doc)
    failed = [j for j in all_judged if j.verdict.code == "failed"]
    every = [j for j in all_judged if j.verdict.code != "failed"]
    # an unstable cell does not decide a claim (its verdict is tentative); it is named instead
    judged = [j for j in every if not j.verdict.unstable]
    shaky = [j for j in every if j.verdict.unstable]

    def sel(variants=None, families=None, executors=None, kinds=("cpu",), kernels=None,
            pool=None):
        return [j for j in (judged if pool is None else pool)
                if (variants is None or j.variant in variants)
                and (families is None or family(j.cell) in families)
                and (executors is None or j.executor in executors)
                and (kinds is None or kind(j.cell) in kinds)
                and (kernels is None or j.kernel in kernels)]

    one_core = f"not measurable: this host has {c} usable core" if c < 2 else None
    out: dict[str, dict] = {}

    def put(cid: str, verdict_: str, evidence: str, **query) -> None:
        if query:
            unsure = sel(pool=shaky, **query)
            if unsure:
                evidence += ("; " if evidence else "") + "left out as unstable: " + _evidence(unsure, 2)
            broken = sel(pool=failed, **query)
            if broken:
                evidence += "; failed: " + ", ".join(
                    f"{j.kernel}/{j.variant}/{j.executor}@{j.workers}" for j in broken[:4])
                if len(broken) > 4:
                    evidence += f" +{len(broken) - 4} more"
        out[cid] = {"id": cid, "verdict": verdict_, "evidence": evidence}

    def from_cells(cid: str, good: set[str], what: str, needs_cores: bool = True,
                   note: str = "", control: dict | None = None, **query) -> None:
        """Decide ``cid`` from the judged cells matching ``query``: confirmed when every
        verdict is in ``good``, refuted when none is, mixed otherwise."""
        if needs_cores and one_core:
            return put(cid, "not measured", one_core)
        js = sel(**query)
        if not js:
            tried = sel(pool=shaky + failed, **query)
            return put(cid, "not measured",
                       f"no {'stable, successful ' if tried else ''}{what} cells in this run",
                       **query)
        ev = _evidence(js) + note
        if control:
            held = sel(**control)
            if held:
                ev += "; control, GIL held while waiting: " + _evidence(held, 2)
        put(cid, _decide(js, good), ev, **query)

    # a "partial" gain counts against "not parallel": some of the work did overlap
    from_cells("pure-python-threads-not-parallel", {"concurrent", "slower"},
               "python × threads (CPU kernels)", note="" if gil_on else " (GIL off in this run)",
               variants={"python"}, families={"threads"})
    from_cells("nogil-c-code-parallel", {"parallel"}, "cython-nogil × threads (CPU kernels)",
               variants={"cython-nogil"}, families={"threads"})
    # waiting needs no core, so this one is measurable on one core too
    from_cells("gil-released-on-sleep-io", {"parallel"}, "python × threads (I/O kernels)",
               needs_cores=False, variants={"python"}, families={"threads"}, kinds=("io",),
               control={"variants": {"cython-gil"}, "families": {"threads"}, "kinds": ("io",)})
    from_cells("numpy-zlib-release-gil", {"parallel"}, "numpy/stdlib × threads (CPU kernels)",
               variants={"numpy", "stdlib"}, families={"threads"})
    from_cells("asyncio-no-cpu-parallelism", {"concurrent", "slower"},
               "asyncio (CPU and memory kernels)", needs_cores=False, executors={"asyncio"},
               kinds=("cpu", "memory"))
    from_cells("processes-bypass-gil", {"parallel"}, "python × process executors (CPU kernels)",
               variants={"python"}, families={"processes"})
    put("process-startup-cost", *_startup_claim(doc))
    for cid, experiment in EXPERIMENT_CLAIMS.items():
        put(cid, "not measured", f"needs the {experiment} experiment (not in this results file)")
    put("memory-bound-bandwidth-limit", *_bandwidth_claim(sel, one_core))
    free = host.get("py_gil_disabled") or host.get("build") == "free-threaded"
    if not free or gil_on:
        why = ("this run used a GIL build" if not free else "free-threaded build, but the GIL "
               "was re-enabled in this run (PYTHON_GIL=1 or an extension needing it)")
        put("free-threaded-python-parallel", "not measured",
            f"{why}; run `gilbench run` on a free-threaded Python and `gilbench compare` the files")
    else:
        from_cells("free-threaded-python-parallel", {"parallel"}, "python × threads (CPU kernels)",
                   variants={"python"}, families={"threads"})

    return [{"id": cid, "claim": text, **{k: out[cid][k] for k in ("verdict", "evidence")}}
            for cid, text in CLAIMS]


def startup_is_cold_minus_warm(cells: Sequence[dict]) -> bool:
    """True when every recorded start-up equals the first call minus the warm median, i.e.
    the runner derived it rather than timing the pool's start alone."""
    pairs = [(x["startup_s"], x["cold_wall_s"] - x["median_s"]) for x in cells
             if x.get("startup_s") is not None and x.get("cold_wall_s") is not None
             and x.get("median_s") is not None]
    return bool(pairs) and all(abs(a - b) <= 1e-9 + 1e-6 * abs(b) for a, b in pairs)


def _startup_claim(doc: dict) -> tuple[str, str]:
    """Process pools must cost measurably more to start than thread pools."""
    by_family: dict[str, list[float]] = {}
    by_exec: dict[str, list[float]] = {}
    for cell in doc["cells"]:
        s = cell.get("startup_s")
        if isinstance(s, (int, float)) and s >= 0 and not cell.get("error"):
            by_family.setdefault(family(cell), []).append(float(s))
            method = cell.get("start_method")
            label = cell["executor"] + (f" ({method})" if method else "")
            by_exec.setdefault(label, []).append(float(s))
    procs = by_family.get("processes")
    if not procs:
        return "not measured", "no process-pool start-up times in this file"
    p = statistics.median(procs)
    ev = "start-up, median over cells: " + ", ".join(
        f"{e} {fmt_time(statistics.median(v))}" for e, v in sorted(by_exec.items()))
    threads = by_family.get("threads")
    if threads:
        t = statistics.median(threads)
        ratio = p / t if t > 0 else math.inf
        ev += f" (processes/threads: {ratio:.0f}×)" if math.isfinite(ratio) else ""
        # twice the thread pool's start-up is a cost a user notices; within that it is noise
        return ("confirmed" if p >= 2 * t else "refuted"), ev
    return ("confirmed" if p > 1e-3 else "refuted"), ev + " (no thread-pool start-up to compare)"


def _bandwidth_claim(sel, one_core: str | None) -> tuple[str, str]:
    """Memory-bound GIL-free threads scale worse than compute-bound GIL-free threads."""
    if one_core:
        return "not measured", one_core
    free = {"cython-nogil", "numpy"}
    mem = sel(variants=free, families={"threads"}, kinds=("memory",))
    cpu = sel(variants=free, families={"threads"}, kinds=("cpu",))
    if not mem:
        return "not measured", "no GIL-free (cython-nogil/numpy) × threads cells on the memory kernel"
    ev = "memory: " + _evidence(mem, 3)
    if cpu:
        ev += "; compute, for comparison: " + _evidence(cpu, 2)
    if all(j.verdict.code == "parallel" for j in mem):
        # at this core count the memory bus kept up: bandwidth was not the limit here
        return "refuted", ev + " — bandwidth was not the limit at this core count"
    cpu_par = [j for j in cpu if j.verdict.code == "parallel"]
    if cpu_par:
        return "confirmed", ev
    return "mixed", ev + (" — compute kernels did not scale either, so the GIL-free threads "
                          "are not a clean control")


def merge_claims(base: list[dict], extra: Iterable[dict]) -> list[dict]:
    """Claims from the experiments plug-in replace 'not measured' ones; new ids are appended."""
    out = [dict(c) for c in base]
    index = {c["id"]: i for i, c in enumerate(out)}
    for c in extra:
        if not isinstance(c, dict) or "id" not in c:
            continue
        if c["id"] in index:
            i = index[c["id"]]
            if out[i]["verdict"] == "not measured":
                out[i].update({k: c[k] for k in ("verdict", "evidence", "claim") if c.get(k)})
        else:
            out.append({"id": c["id"], "claim": c.get("claim", c["id"]),
                        "verdict": c.get("verdict", "not measured"),
                        "evidence": c.get("evidence", "")})
            index[c["id"]] = len(out) - 1
    return out


def median(values: Sequence[float]) -> float | None:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.median(vals) if vals else None


def describe_cell(cell: dict) -> str:
    """'primes/python/threads@2' (+ start method)."""
    sm = f" ({cell['start_method']})" if cell.get("start_method") else ""
    return f"{cell['kernel']}/{cell['variant']}/{cell['executor']}@{cell['workers']}{sm}"


__all__ = [
    "CLAIMS", "RULE_MARKDOWN", "Verdict", "Judged", "verdict", "verdict_workers", "judge",
    "karp_flatt", "efficiency", "serial_fraction", "throughput", "headline", "claims",
    "merge_claims", "curves", "family", "kind", "is_failed", "is_unstable",
]
