"""The article's claims, decided from a run's judged cells (and merged with the experiments')."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from gilbench.stats import median

from .analysis import Judged, family, judge, kind, usable_cores
from .format import fmt_interval, fmt_time


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
    p = median(procs)
    ev = "start-up, median over cells: " + ", ".join(
        f"{e} {fmt_time(median(v))}" for e, v in sorted(by_exec.items()))
    threads = by_family.get("threads")
    if threads:
        t = median(threads)
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
