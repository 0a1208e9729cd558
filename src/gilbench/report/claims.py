"""The article's claims, decided from a run's judged cells and GIL checks (and merged with the
experiments').

A claim's verdict is the one its evidence gives **whatever the undecided cells turn out to be**:

- each judged cell *agrees*, *disagrees* or is *neutral* (a partial gain: neither parallel nor
  serial, so it blocks both confirmation and refutation); a cell whose verdict is undecided
  counts on a side only when its whole interval lies in regions on that side (an interval
  straddling *slower | concurrent only* still says "no gain"), else it is *open*; a borderline
  cell (known to sit on the line between two regions) counts the same way, but where its two
  sides disagree about the claim it is *neutral*, not open: more rounds would not move it;
- confirmed: some decided cell agrees and nothing else disagrees or stays open; refuted: the
  same the other way (so a claim is refuted only by decided cells); mixed: both sides, or a
  neutral cell; **inconclusive**: open cells could still change the outcome, with what would
  decide them (more rounds, a quieter host).

Claims about GIL release are decided by the direct GIL check of the variants concerned
(``doc["kernels"][k]["variants"][v]["gil_check"]``, from ``gilbench.gilcheck.check_gil``);
their speedups are quoted as supporting evidence. A file without GIL checks (older runs), or a
run with the GIL off, falls back on the speedups and says so.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from gilbench.cell import Cell
from gilbench.stats import median

from .analysis import (Judged, ceiling, describe_cell, family, judge, kernel_names, kind,
                       more_rounds_hint, usable_cores)
from .claim_rule import Tally, cell_text, explain, listing, reach, side_of
from .experiments import decide
from .format import fmt_time

CLAIMS: list[tuple[str, str]] = [
    ("pure-python-threads-not-parallel", "Pure-Python CPU-bound threads do not run in parallel."),
    ("cython-gil-keeps-gil",
     "Compiled code that keeps the GIL (Cython without `nogil`) does not run threads in "
     "parallel either."),
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

#: every claim's id, in the report's order
CLAIM_IDS = tuple(cid for cid, _ in CLAIMS)

#: the claim verdicts, in the order the report counts them
CLAIM_VERDICTS = ("confirmed", "refuted", "mixed", "inconclusive", "not measured")

#: claims decided by the experiments plug-in (src/gilbench/report/experiments/)
EXPERIMENT_CLAIMS = {
    "cpu-threads-hurt-latency": "convoy",
    "switch-interval-5ms": "switch-interval",
    "pipe-faster-than-queue": "queue-pipe",
}

#: GIL claims: id -> (variants, kernel kinds, the GIL-check verdict that agrees)
GIL_CLAIMS: dict[str, tuple[frozenset[str], tuple[str, ...], str]] = {
    "pure-python-threads-not-parallel": (frozenset({"python"}), ("cpu",), "holds"),
    "cython-gil-keeps-gil": (frozenset({"cython-gil"}), ("cpu",), "holds"),
    "nogil-c-code-parallel": (frozenset({"cython-nogil"}), ("cpu",), "releases"),
    "gil-released-on-sleep-io": (frozenset({"python"}), ("io",), "releases"),
    "numpy-zlib-release-gil": (frozenset({"numpy", "stdlib"}), ("cpu",), "releases"),
}
_OPPOSITE = {"holds": "releases", "releases": "holds"}


# --------------------------------------------------------------------------------------------
# claims from speedups


class _Cells:
    """The judged cells of a document and the selections claims make of them."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.cores = usable_cores(doc)
        self.ceiling = ceiling(doc)
        judged = judge(doc)
        # cells left "undecided: host busy" are never guessed: no claim turns on them
        self.judged = [j for j in judged if not j.verdict.host_busy]
        self.busy = [j for j in judged if j.verdict.host_busy]

    def select(self, variants=None, families=None, executors=None, kinds=("cpu",),
               busy: bool = False) -> list[Judged]:
        """The judged cells matching the query (``busy``: those left *undecided: host busy*
        instead, which no claim rests on)."""
        return [j for j in (self.busy if busy else self.judged)
                if (variants is None or j.variant in variants)
                and (families is None or family(j.cell) in families)
                and (executors is None or j.executor in executors)
                and (kinds is None or kind(j.cell) in kinds)]

    def busy_text(self, **query) -> tuple[int, str]:
        """(how many, the evidence words) of the host-busy cells matching ``query``."""
        busy = self.select(busy=True, **query)
        if not busy:
            return 0, ""
        return len(busy), (f"left out, undecided — host busy ({len(busy)}: "
                           + listing([describe_cell(j.cell) for j in busy], 2)
                           + "): measure them again on a quiet host, gilbench run --resume FILE")

    def tally(self, js: Sequence[Judged], good: set[str]) -> Tally:
        t = Tally()
        for j in js:
            side = side_of(j, good, {"partial"} - good, self.ceiling)
            if side is not None:
                t.add(side, cell_text(j), j.verdict.decided)
        return t

    def decide(self, good: set[str], what: str, **query) -> tuple[str, str]:
        """(verdict, evidence) of the cells matching ``query``; failed cells and anomalies
        (above the core count) are named but decide nothing."""
        js = self.select(**query)
        t = self.tally(js, good)
        undecided = [j.cell for j in js if j.verdict.code == "undecided"]
        evidence = explain(t, "cells", more_rounds_hint(self.doc, undecided))
        anomalies = [j for j in js if j.verdict.code == "above-cores"]
        if anomalies:
            evidence += ("; " if evidence else "") + "left out, above the core count (an " \
                "anomaly, see *Problems*): " + listing([cell_text(j) for j in anomalies], 2)
        n_busy, busy = self.busy_text(**query)
        if busy:
            evidence += ("; " if evidence else "") + busy
        failed = [j for j in js if j.verdict.code == "failed"]
        if failed:
            evidence += ("; " if evidence else "") + "failed: " + listing(
                [f"{j.kernel}/{j.variant}/{j.executor}@{j.workers}" for j in failed])
        verdict = t.outcome()
        if verdict == "not measured" and n_busy:
            return "inconclusive", evidence  # measured, but the host never let it decide
        if verdict == "not measured":
            evidence = f"no {what} cells with a speedup in this run" + (
                f" ({evidence})" if evidence else "")
        return verdict, evidence


# --------------------------------------------------------------------------------------------
# claims from GIL checks


def gil_checks(doc: dict, variants: Iterable[str], kinds: Sequence[str]) -> list[tuple[str, str, dict]]:
    """(kernel, variant, gil_check) for every variant of ``variants`` on a kernel of ``kinds``
    whose GIL check the document records."""
    out = []
    variants = set(variants)
    for k in kernel_names(doc) + [k for k in doc.get("kernels") or {} if k not in
                                  kernel_names(doc)]:
        facts = (doc.get("kernels") or {}).get(k) or {}
        if facts.get("kind", "cpu") not in kinds:
            continue
        for v, vf in (facts.get("variants") or {}).items():
            check = vf.get("gil_check") if isinstance(vf, dict) else None
            if v in variants and isinstance(check, dict) and check.get("verdict"):
                out.append((k, v, check))
    return out


def _check_text(k: str, v: str, check: dict) -> str:
    """'primes/cython-nogil 0.97 [0.95–0.99] releases'."""
    f, lo, hi = check.get("fraction"), check.get("low"), check.get("high")
    nums = ""
    if isinstance(f, (int, float)) and math.isfinite(f):
        nums = f" {f:.2f}"
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            nums += f" [{lo:.2f}–{hi:.2f}]"
    text = f"{k}/{v}{nums} {check['verdict']}"
    if check["verdict"] == "undecided" and check.get("reason"):
        text += f" ({check['reason']})"
    return text


def gil_tally(checks: Sequence[tuple[str, str, dict]], good: str) -> Tally:
    """A tally of GIL checks: ``good`` agrees, its opposite disagrees, ``partly`` is neutral,
    ``undecided`` is open."""
    t = Tally()
    for k, v, check in checks:
        verdict = check["verdict"]
        side = ("agree" if verdict == good else "disagree" if verdict == _OPPOSITE[good]
                else "neutral" if verdict == "partly" else "open")
        t.add(side, _check_text(k, v, check), side != "open")
    return t


def _support(gil_verdict: str, speed: tuple[str, str]) -> str:
    """How the speedups relate to the GIL check's verdict, with their evidence."""
    verdict, evidence = speed
    if verdict == "not measured":
        return "no speedup cells to support it"
    if verdict == gil_verdict:
        return f"speedups support it ({evidence})"
    if verdict == "inconclusive":
        return f"speedups are inconclusive ({evidence})"
    return f"speedups say {verdict} ({evidence})"


def decide_gil_claim(doc: dict, cid: str, speed: tuple[str, str]) -> tuple[str, str, str]:
    """(verdict, evidence, decided by) of a GIL claim: by the GIL checks when the document has
    them for the claim's variants (and the GIL was on), else by the speedups ``speed``."""
    variants, kinds, good = GIL_CLAIMS[cid]
    checks = gil_checks(doc, variants, kinds)
    gil_on = doc.get("host", {}).get("gil_enabled", True) is not False
    if not gil_on:
        return (speed[0], f"Speedups (the GIL was off in this run, so the GIL check does not "
                          f"apply): {speed[1]}", "speedups")
    if not checks:
        return (speed[0], f"Speedups (no GIL check in this file for "
                          f"{'/'.join(sorted(variants))}): {speed[1]}", "speedups")
    t = gil_tally(checks, good)
    verdict = t.outcome()
    hint = "run on a quieter host with 2 or more usable cores"
    evidence = f"GIL check: {explain(t, 'checks', hint)}; {_support(verdict, speed)}"
    return verdict, evidence, "GIL check"


# --------------------------------------------------------------------------------------------
# the claims table


def claims(doc: dict) -> list[dict]:
    """The claims table: one dict per claim id ``{"id", "claim", "verdict", "evidence",
    "decided_by"}`` (``verdict`` one of ``CLAIM_VERDICTS``)."""
    cells = _Cells(doc)
    c = cells.cores
    host = doc.get("host", {})
    gil_on = host.get("gil_enabled", True)
    one_core = f"not measurable: this host has {c} usable core" if c < 2 else None
    out: dict[str, dict] = {}

    def put(cid: str, verdict: str, evidence: str, by: str = "speedups") -> None:
        out[cid] = {"id": cid, "verdict": verdict, "evidence": evidence, "decided_by": by}

    def from_cells(cid: str, good: set[str], what: str, needs_cores: bool = True,
                   control: dict | None = None, **query) -> None:
        if needs_cores and one_core and cid not in GIL_CLAIMS:
            return put(cid, "not measured", one_core, "—")
        speed = cells.decide(good, what, **query)
        if control:
            held = cells.select(**control)
            if held:
                speed = (speed[0], speed[1] + "; control, GIL held while waiting: "
                         + listing([cell_text(j) for j in held], 2))
        if cid in GIL_CLAIMS:
            if needs_cores and one_core:
                speed = ("not measured", one_core)
            return put(cid, *decide_gil_claim(doc, cid, speed))
        put(cid, *speed)

    # a "partial" gain counts against "not parallel": some of the work did overlap
    from_cells("pure-python-threads-not-parallel", {"concurrent", "slower"},
               "python × threads (CPU kernels)", variants={"python"}, families={"threads"})
    from_cells("cython-gil-keeps-gil", {"concurrent", "slower"},
               "cython-gil × threads (CPU kernels)", variants={"cython-gil"},
               families={"threads"})
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
    put("process-startup-cost", *_startup_claim(doc), "start-up times")
    for cid, experiment in EXPERIMENT_CLAIMS.items():
        put(cid, "not measured", f"needs the {experiment} experiment (not in this results file)",
            "—")
    put("memory-bound-bandwidth-limit", *_bandwidth_claim(cells, one_core))
    free = host.get("py_gil_disabled") or host.get("build") == "free-threaded"
    if not free or gil_on:
        why = ("this run used a GIL build" if not free else "free-threaded build, but the GIL "
               "was re-enabled in this run (PYTHON_GIL=1 or an extension needing it)")
        put("free-threaded-python-parallel", "not measured",
            f"{why}; run `gilbench run` on a free-threaded Python and `gilbench compare` the "
            "files", "—")
    else:
        from_cells("free-threaded-python-parallel", {"parallel"}, "python × threads (CPU kernels)",
                   variants={"python"}, families={"threads"})
    return [{"id": cid, "claim": text, **{k: out[cid][k] for k in
                                          ("verdict", "evidence", "decided_by")}}
            for cid, text in CLAIMS]


def _startup_claim(doc: dict) -> tuple[str, str]:
    """Process pools must cost measurably more to start than thread pools."""
    by_family: dict[str, list[float]] = {}
    by_exec: dict[str, list[float]] = {}
    for cell in map(Cell.read, doc["cells"]):
        s = cell.startup_s
        if isinstance(s, (int, float)) and s >= 0 and not cell.error:
            by_family.setdefault(family(cell), []).append(float(s))
            method = cell.start_method
            label = cell.executor + (f" ({method})" if method else "")
            by_exec.setdefault(label, []).append(float(s))
    procs = by_family.get("processes")
    if not procs:
        return "not measured", "no process-pool start-up times in this file"
    p = median(procs)
    ev = "start-up, median over cells: " + ", ".join(
        f"{e} {fmt_time(median(v))}" for e, v in sorted(by_exec.items()))
    threads = by_family.get("threads")
    if threads:
        t = median(threads)
        ratio = p / t if t > 0 else math.inf
        ev += f" (processes/threads: {ratio:.0f}×)" if math.isfinite(ratio) else ""
        # twice the thread pool's start-up is a cost a user notices; within that it is noise
        return _without_pickling("confirmed" if p >= 2 * t else "refuted", ev)
    return _without_pickling("confirmed" if p > 1e-3 else "refuted",
                             ev + " (no thread-pool start-up to compare)")


def _without_pickling(verdict: str, evidence: str) -> tuple[str, str]:
    """The claim is about start-up *and* pickling; the cells time start-up only. A start-up
    cost that is there decides half of it: inconclusive until pickling is measured."""
    if verdict != "confirmed":
        return verdict, evidence
    return ("inconclusive", f"the start-up half holds ({evidence}); pickling is not measured "
            "by these cells: `gilbench claims --experiments pickle` measures it")


def _bandwidth_claim(cells: _Cells, one_core: str | None) -> tuple[str, str]:
    """Memory-bound GIL-free threads scale worse than compute-bound GIL-free threads: refuted
    when every memory cell reached the cores (decided parallel, or undecided only between
    parallel and above the core count), one is decided parallel and none was left *undecided:
    host busy*; confirmed when some memory cell is decided short of parallel while a compute
    cell is decided parallel."""
    if one_core:
        return "not measured", one_core
    free = {"cython-nogil", "numpy"}
    mem = cells.select(variants=free, families={"threads"}, kinds=("memory",))
    cpu = cells.select(variants=free, families={"threads"}, kinds=("cpu",))
    mem = [j for j in mem if j.verdict.code not in ("failed", "above-cores")]
    if not mem:
        n_busy, busy = cells.busy_text(variants=free, families={"threads"}, kinds=("memory",))
        if n_busy:
            return "inconclusive", busy
        return "not measured", "no GIL-free (cython-nogil/numpy) × threads cells on the memory kernel"
    ev = "memory: " + listing([cell_text(j) for j in mem], 3)
    if cpu:
        ev += "; compute, for comparison: " + listing([cell_text(j) for j in cpu], 2)
    undecided = [j.cell for j in mem + cpu if j.verdict.code == "undecided"]
    # an undecided memory cell counts where every region its interval reaches agrees (up to
    # the core count or past it: scaled either way; short of parallel: held back)
    side = {id(j): reach(j, cells.ceiling) for j in mem}
    scaled = [j for j in mem if side[id(j)] <= {"parallel", "above-cores"}]
    if len(scaled) == len(mem) and any(j.verdict.code == "parallel" for j in mem):
        # "every memory cell scaled" holds only if none was left out: a cell the busy host
        # kept from deciding may be the one the bus held back
        n_busy, busy = cells.busy_text(variants=free, families={"threads"}, kinds=("memory",))
        if n_busy:
            return "inconclusive", f"{ev}; {busy}"
        # at this core count the memory bus kept up: bandwidth was not the limit here
        return "refuted", ev + " — bandwidth was not the limit at this core count"
    short = [j for j in mem if side[id(j)] <= {"partial", "concurrent", "slower"}]
    cpu_par = [j for j in cpu if j.verdict.code == "parallel" and j.verdict.decided]
    if any(j.verdict.decided for j in short) and cpu_par:
        return "confirmed", ev
    if undecided:
        return "inconclusive", ev + f" — {len(undecided)} cells undecided: " + \
            more_rounds_hint(cells.doc, undecided)
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
            # an experiment that decides what the cells left open (or did not measure) wins
            if out[i]["verdict"] == "not measured" or out[i]["verdict"] == "inconclusive" \
                    and c.get("verdict") not in (None, "not measured", "inconclusive"):
                out[i].update({k: c[k] for k in ("verdict", "evidence", "claim") if c.get(k)})
                out[i]["decided_by"] = c.get("source") or "experiment"
        else:
            out.append({"id": c["id"], "claim": c.get("claim", c["id"]),
                        "verdict": c.get("verdict", "not measured"),
                        "evidence": c.get("evidence", ""),
                        "decided_by": c.get("source") or "experiment"})
            index[c["id"]] = len(out) - 1
    return out


def claims_of(doc: dict) -> list[dict]:
    """Every claim a results document decides: the cells' and GIL checks' (``claims``) merged
    with the experiments' (each dict has ``id``, ``claim``, ``verdict``, ``evidence``,
    ``decided_by``)."""
    base = claims(doc)
    if doc.get("experiments"):
        base = merge_claims(base, decide(doc))
    return base
