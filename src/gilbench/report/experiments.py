"""Report sections for the experiments (``doc["experiments"]``), and the claims they decide.

``render(doc, outdir) -> (markdown, claims)``: one section per experiment with a PNG plot
(written to ``outdir``, referred to by file name), a table of the numbers, and a sentence of
conclusion computed from them; plus claim dicts ``{"id", "claim", "verdict", "evidence",
"rule", "source"}`` for the claims the experiments decide. Every verdict states its rule, and
the evidence quotes the figures that decided it.

Only the data in the document is used (never the experiment code), so a results file from
another host renders the same. Plots use matplotlib's object API (``Figure``), which renders
with Agg and leaves pyplot's global state alone.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

#: the published anchor for the echo case, quoted (not measured here)
ECHO_ANCHOR = (
    "Published anchor (the article; CPython 3.9, 2 cores): about 30k requests/s alone, about "
    "100 requests/s beside one CPU-bound thread, about 20k requests/s with the CPU work in "
    "another process. Quoted for comparison only: every figure below is this host's."
)

CLAIM_TEXT = {
    "cpu-threads-hurt-latency": "A CPU-bound thread holding the GIL makes other threads late",
    "switch-interval-5ms": "The GIL is handed over about every 5 ms",
    "pipe-faster-than-queue": "A Pipe is faster than a Queue",
    "process-startup-cost": "Processes bypass the GIL at a start-up and pickling cost",
}

#: experiments in display order (unknown names are listed after, with their raw metadata)
ORDER = ("convoy", "switch-interval", "contention", "queue-pipe", "startup", "pickle",
         "break-even")

Claim = dict[str, Any]


# --------------------------------------------------------------------------- formatting


def _ok(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_ms(ms: float | None) -> str:
    """Milliseconds, shown in us below 1 ms."""
    if not _ok(ms):
        return "n/a"
    if ms < 1:
        return f"{ms * 1e3:.3g} us"
    return f"{ms:.3g} ms"


def fmt_s(s: float | None) -> str:
    """Seconds, in the unit that reads best."""
    return fmt_ms(s * 1e3) if _ok(s) else "n/a"


def fmt_rate(x: float | None, unit: str = "/s") -> str:
    """A rate with k/M suffixes."""
    if not _ok(x):
        return "n/a"
    for factor, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= factor:
            return f"{x / factor:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def fmt_bytes(n: int | float | None) -> str:
    if not _ok(n):
        return "n/a"
    for factor, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= factor:
            return f"{n / factor:g} {suffix}"
    return f"{n:g} B"


def fmt_x(x: float | None) -> str:
    """A ratio, as "12x" or "0.8x"."""
    return f"{x:.2g}x" if _ok(x) and x < 10 else (f"{x:.0f}x" if _ok(x) else "n/a")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def _claim(cid: str, verdict: str, evidence: str, rule: str, source: str) -> Claim:
    return {"id": cid, "claim": CLAIM_TEXT[cid], "verdict": verdict, "evidence": evidence,
            "rule": rule, "source": source}


def _figure(width: float = 9.0, height: float = 4.0, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, (list(axes) if ncols > 1 else [axes])


def _save(fig: Any, outdir: Path, name: str) -> str:
    filename = f"experiment-{name}.png"
    fig.savefig(outdir / filename, dpi=110)
    return filename


def _legend(ax: Any) -> None:
    # legend() with nothing labelled warns (and the tests turn warnings into errors)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _positive(values: Iterable[Any]) -> list[float]:
    return [v for v in values if _ok(v) and v > 0]


def _log_if_positive(ax: Any, axis: str, values: Iterable[Any]) -> None:
    # a log axis with nothing positive on it warns and draws nothing: stay linear then
    if _positive(values):
        from matplotlib.ticker import LogFormatter

        class Plain(LogFormatter):
            # plain numbers ("6", "0.5"), not "6x10^0" or "6e-01"; LogFormatter still
            # decides which (minor) ticks get a label
            def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
                return f"{x:g}"

        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        target = ax.yaxis if axis == "y" else ax.xaxis
        target.set_major_formatter(Plain())
        target.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(1, 0.5)))


# --------------------------------------------------------------------------- convoy


def _case_label(case: dict) -> str:
    if case["workers"] == 0:
        return "alone"
    return f"{case['workers']}x {case['variant']} {case['executor']}"


def _find_case(data: dict, executor: str, variant: str | None, workers: int) -> dict | None:
    for case in data.get("cases", []):
        if (case.get("executor"), case.get("variant"), case.get("workers")) == (
                executor, variant, workers) and not case.get("error"):
            return case
    return None


def _probe(case: dict | None, probe: str, key: str) -> float | None:
    if case is None:
        return None
    result = case.get("probes", {}).get(probe)
    if not result:
        return None
    if probe == "echo":
        return result.get(key)
    return result.get("lateness", {}).get(key)


def _convoy(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    cases = [c for c in data.get("cases", []) if not c.get("error")]
    labels = [_case_label(c) for c in cases]
    fig, (ax1, ax2) = _figure(11, 4.5, 2)
    x = list(range(len(cases)))
    for offset, probe, colour in ((-0.2, "thread-sleep", "tab:blue"),
                                  (0.2, "asyncio-sleep", "tab:orange")):
        values = [_probe(c, probe, "p99_ms") for c in cases]
        ax1.bar([i + offset for i in x], [v if _ok(v) else 0 for v in values], 0.4,
                label=f"{probe} p99", color=colour)
    _log_if_positive(ax1, "y", [_probe(c, "thread-sleep", "p99_ms") for c in cases])
    ax1.set_ylabel("lateness of a 1 ms sleep, p99 (ms)")
    ax1.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    _legend(ax1)
    ax1.set_title("probe lateness")
    rates = [_probe(c, "echo", "requests_per_s") for c in cases]
    ax2.bar(x, [r if _ok(r) else 0 for r in rates], color="tab:green")
    _log_if_positive(ax2, "y", rates)
    ax2.set_ylabel("echo requests/s (median run)")
    ax2.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax2.set_title("echo server thread in this process")
    plot = _save(fig, outdir, "convoy")

    rows = []
    for c in data.get("cases", []):
        if c.get("error"):
            rows.append([_case_label(c)] + ["-"] * 6 + [c["error"]])
            continue
        echo = c.get("probes", {}).get("echo") or {}
        runs = ", ".join(fmt_rate(r, "") for r in echo.get("runs_requests_per_s") or [])
        load = c.get("load") or {}
        rows.append([
            _case_label(c),
            f"{fmt_ms(_probe(c, 'thread-sleep', 'p50_ms'))} / "
            f"{fmt_ms(_probe(c, 'thread-sleep', 'p99_ms'))}",
            f"{fmt_ms(_probe(c, 'asyncio-sleep', 'p50_ms'))} / "
            f"{fmt_ms(_probe(c, 'asyncio-sleep', 'p99_ms'))}",
            fmt_rate(echo.get("requests_per_s")) + (f" ({runs})" if runs else ""),
            f"{echo['slow_share']:.1%}" if _ok(echo.get("slow_share")) else "n/a",
            fmt_ms((echo.get("latency") or {}).get("p99_ms")),
            fmt_rate(load.get("chunks_per_s"), "") if load.get("chunks_per_s") else "-",
            echo.get("error") or "",
        ])
    table = _table(["case", "thread sleep p50 / p99", "asyncio sleep p50 / p99",
                    "echo req/s (runs)", "echo > 1 ms", "echo p99", "worker chunks/s",
                    "note"], rows)

    alone = _find_case(data, "none", None, 0)
    py = _find_case(data, "threads", "python", 1)
    nogil = _find_case(data, "threads", "cython-nogil", 1)
    proc = _find_case(data, "processes", "python", 1)
    lat = {k: _probe(c, "thread-sleep", "p99_ms") for k, c in
           (("alone", alone), ("python", py), ("nogil", nogil), ("process", proc))}
    rps = {k: _probe(c, "echo", "requests_per_s") for k, c in
           (("alone", alone), ("python", py), ("nogil", nogil), ("process", proc))}

    # the reference is the control when there is one: the same CPU load from a thread that
    # releases the GIL, so that only the GIL differs (the probe alone also differs in how
    # idle the cores are, which on some hosts changes wake-up times; see the note below)
    ref = "nogil" if _ok(lat["nogil"]) else "alone"
    ref_label = "beside 1 cython-nogil thread" if ref == "nogil" else "alone"
    lat_factor = lat["python"] / lat[ref] if _ok(lat["python"]) and _ok(lat[ref]) \
        and lat[ref] > 0 else None
    rps_ref = rps["nogil"] if _ok(rps["nogil"]) else rps["alone"]
    rps_factor = rps_ref / rps["python"] if _ok(rps_ref) and _ok(rps["python"]) \
        and rps["python"] > 0 else None
    rule = ("compared with the same probe beside one cython-nogil thread (the control: the "
            "same CPU load without the GIL; the probe alone when the control is missing): "
            "confirmed when, beside one pure-Python thread, the 1 ms probe's p99 lateness is "
            "at least 5x and the echo server's requests/s at most 1/5 of the reference; "
            "refuted when both stay within 2x; mixed otherwise (echo not measured: decided on "
            "lateness alone)")
    figures = [f"probe p99 lateness {fmt_ms(lat['alone'])} alone, {fmt_ms(lat['python'])} "
               f"beside 1 pure-Python thread, {fmt_ms(lat['nogil'])} beside 1 cython-nogil "
               f"thread ({fmt_x(lat_factor)} later than {ref_label})"]
    if _ok(rps["alone"]) or _ok(rps["python"]):
        figures.append(f"echo {fmt_rate(rps['alone'])} alone, {fmt_rate(rps['python'])} "
                       f"beside 1 pure-Python thread, {fmt_rate(rps['nogil'])} beside 1 "
                       f"cython-nogil thread ({fmt_x(rps_factor)} fewer than "
                       f"{'beside cython-nogil' if _ok(rps['nogil']) else 'alone'}), "
                       f"{fmt_rate(rps['process'])} with the CPU work in another process")
    factors = [f for f in (lat_factor, rps_factor) if f is not None]
    if lat_factor is None:
        verdict = "not measured"
    elif all(f >= 5 for f in factors):
        verdict = "confirmed"
    elif all(f <= 2 for f in factors):
        verdict = "refuted"
    else:
        verdict = "mixed"
    evidence = "; ".join(figures)
    claims = [_claim("cpu-threads-hurt-latency", verdict, evidence, rule, "experiment convoy")]

    if verdict == "confirmed":
        conclusion = (f"A pure-Python CPU-bound thread makes this process's other threads late: "
                      f"{evidence}. Threads that release the GIL (cython-nogil) and work in "
                      "other processes leave responsiveness close to the probe alone.")
    elif verdict == "not measured":
        conclusion = "The cases needed for a conclusion (alone, 1 pure-Python thread) are missing."
    else:
        conclusion = f"The convoy effect is {verdict} on this host: {evidence}."
    rtt = {k: ((c or {}).get("probes", {}).get("echo") or {}).get("latency", {}).get("p50_ms")
           for k, c in (("alone", alone), ("nogil", nogil), ("process", proc))}
    busy_rtt = min([r for r in (rtt["nogil"], rtt["process"]) if _ok(r)], default=None)
    if _ok(rtt["alone"]) and _ok(busy_rtt) and rtt["alone"] > 3 * busy_rtt:
        conclusion += (f" The echo server alone is slower than beside a busy core: its median "
                       f"round trip is {fmt_ms(rtt['alone'])} alone against "
                       f"{fmt_ms(busy_rtt)} while another core is kept busy. The likely "
                       "cause (inferred, not measured): an idle core takes tens of "
                       "microseconds to wake (deep idle states; on a virtual machine, a "
                       "halted vCPU), which a busy neighbour prevents. Hence the claim is "
                       "decided against the cython-nogil control.")
    cgil = _find_case(data, "threads", "cython-gil", 1)
    chunk_ms = (data.get("params") or {}).get("chunk_s")
    if cgil is not None and _ok(chunk_ms):
        conclusion += (f" A cython-gil worker holds the GIL for a whole {chunk_ms * 1e3:g} ms "
                       f"call, which the switch interval cannot interrupt: p99 lateness "
                       f"{fmt_ms(_probe(cgil, 'thread-sleep', 'p99_ms'))}.")
    params = data.get("params") or {}
    md = "\n\n".join([
        f"### {data.get('title', 'Convoy')}",
        data.get("measures", ""),
        f"> {ECHO_ANCHOR}",
        f"![convoy]({plot})",
        table,
        f"Each probe ran {params.get('window_s', '?')} s per case; the echo window was cut into "
        f"{params.get('echo_runs', '?')} client runs (a new process and connection each; the "
        "rate shown is the median run, every run in brackets), because beside a CPU-bound "
        "thread the rate can be bimodal: a run either keeps winning the GIL back after each "
        "short release, or loses it every time and waits out the switch interval. "
        f"Switch interval {fmt_s(data.get('switch_interval_s'))}; child processes start with "
        f"{params.get('start_method', '?')}.",
        f"**Conclusion.** {conclusion}",
    ])
    return md, claims


# --------------------------------------------------------------------------- switch interval


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if _ok(x) and _ok(y)
           and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _switch_interval(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    points = data.get("points", [])
    xs = [p["interval_ms"] for p in points]
    p50 = [p["lateness"]["p50_ms"] for p in points]
    p99 = [p["lateness"]["p99_ms"] for p in points]
    rps = [(p.get("echo") or {}).get("requests_per_s") for p in points]
    fig, (ax1, ax2) = _figure(10, 4, 2)
    ax1.plot(xs, p50, "o-", label="p50 lateness")
    ax1.plot(xs, p99, "s--", label="p99 lateness")
    if xs:
        ax1.plot([min(xs), max(xs)], [min(xs), max(xs)], ":", color="grey",
                 label="lateness = interval")
    alone = (data.get("alone") or {}).get("lateness", {}).get("p50_ms")
    if _ok(alone):
        ax1.axhline(alone, color="tab:green", lw=0.8, label="p50 alone")
    _log_if_positive(ax1, "x", xs)
    _log_if_positive(ax1, "y", p50 + p99)
    ax1.set_xlabel("sys.setswitchinterval (ms)")
    ax1.set_ylabel("lateness of a 1 ms sleep (ms)")
    _legend(ax1)
    ax1.set_title("beside one pure-Python thread")
    if _positive(rps):
        ax2.plot(xs, [r if _ok(r) else float("nan") for r in rps], "o-", color="tab:green")
        _log_if_positive(ax2, "x", xs)
        _log_if_positive(ax2, "y", rps)
    ax2.set_xlabel("sys.setswitchinterval (ms)")
    ax2.set_ylabel("echo requests/s (median run)")
    ax2.set_title("echo server thread beside it")
    plot = _save(fig, outdir, "switch-interval")

    rows = [[f"{p['interval_ms']:g} ms", fmt_ms(p['lateness']['p50_ms']),
             fmt_ms(p['lateness']['p99_ms']), p['lateness']['n'],
             fmt_rate((p.get('echo') or {}).get('requests_per_s'))] for p in points]
    a = data.get("alone") or {}
    rows.insert(0, ["alone (no CPU thread)", fmt_ms(a.get("lateness", {}).get("p50_ms")),
                    fmt_ms(a.get("lateness", {}).get("p99_ms")), a.get("lateness", {}).get("n"),
                    fmt_rate((a.get("echo") or {}).get("requests_per_s"))])
    table = _table(["switch interval", "lateness p50", "lateness p99", "wake-ups",
                    "echo req/s"], rows)

    slope = _slope(xs, p50)
    at5 = next((p for p in points if abs(p["interval_ms"] - 5) < 1e-9), None)
    late5 = at5["lateness"]["p50_ms"] if at5 else None
    rule = ("confirmed when, beside one pure-Python thread at a 5 ms switch interval, the 1 ms "
            "probe's median lateness is between 2.5 and 10 ms and the median lateness grows "
            "with the interval (log-log slope 0.5 to 1.5 across the sweep); refuted when the "
            "lateness at 5 ms is outside 1 to 25 ms or the slope is below 0.25; mixed otherwise")
    original = data.get("original_interval_s")
    evidence = (f"median lateness {fmt_ms(late5)} at a 5 ms interval (the host's default is "
                f"{fmt_s(original)}); log-log slope of lateness on interval "
                f"{slope:.2f}" if _ok(slope) else f"median lateness {fmt_ms(late5)} at 5 ms")
    if not _ok(late5):
        verdict = "not measured"
    elif 2.5 <= late5 <= 10 and _ok(slope) and 0.5 <= slope <= 1.5:
        verdict = "confirmed"
    elif not (1 <= late5 <= 25) or (_ok(slope) and slope < 0.25):
        verdict = "refuted"
    else:
        verdict = "mixed"
    claims = [_claim("switch-interval-5ms", verdict, evidence, rule,
                     "experiment switch-interval")]
    if verdict == "confirmed":
        conclusion = (f"A waiting thread gets the GIL back after about one switch interval: "
                      f"{evidence}. The interval is the knob: "
                      f"{fmt_ms(p50[0]) if p50 else 'n/a'} at {xs[0]:g} ms, "
                      f"{fmt_ms(p50[-1]) if p50 else 'n/a'} at {xs[-1]:g} ms.")
    else:
        conclusion = f"The 5 ms hand-over is {verdict} here: {evidence}."
    md = "\n\n".join([f"### {data.get('title', 'Switch interval')}", data.get("measures", ""),
                      f"![switch interval]({plot})", table,
                      f"**Conclusion.** {conclusion} The original interval "
                      f"({fmt_s(original)}) was restored afterwards."])
    return md, claims


# --------------------------------------------------------------------------- contention


def _contention(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    cases = [c for c in data.get("cases", []) if not c.get("error")]
    samplers = (data.get("params") or {}).get("samplers") or ["spin", "nap"]
    labels = [_case_label(c) for c in cases]
    fig, (ax,) = _figure(9, 4)
    width = 0.8 / max(1, len(samplers))
    for j, s in enumerate(samplers):
        values = [(c["samplers"].get(s) or {}).get("wait_share") for c in cases]
        ax.bar([i + (j - (len(samplers) - 1) / 2) * width for i in range(len(cases))],
               [100 * v if _ok(v) else 0 for v in values], width, label=f"{s} sampler")
    ax.set_xticks(range(len(cases)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("time spent waiting to get the GIL back (%)")
    ax.set_ylim(0, 105)
    _legend(ax)
    plot = _save(fig, outdir, "contention")

    rows = []
    for c in data.get("cases", []):
        if c.get("error"):
            rows.append([_case_label(c), c["error"], "", "", ""])
            continue
        cells = [_case_label(c)]
        for s in samplers:
            r = c["samplers"].get(s) or {}
            cells.append(f"{r['wait_share']:.1%}" if _ok(r.get("wait_share")) else "n/a")
            cells.append(f"{fmt_rate(r.get('handovers_per_s'))}, "
                         f"{fmt_ms(r.get('handover_wait_median_ms'))} each")
        rows.append(cells)
    header = ["case"]
    for s in samplers:
        header += [f"{s}: waiting", f"{s}: hand-overs"]
    table = _table(header, rows)
    py = _find_case(data, "threads", "python", 1)
    nogil = _find_case(data, "threads", "cython-nogil", 1)

    def share(c: dict | None, s: str) -> float | None:
        return ((c or {}).get("samplers", {}).get(s) or {}).get("wait_share")

    if py is not None and _ok(share(py, "spin")):
        conclusion = (f"Beside one pure-Python thread the spin sampler waits "
                      f"{share(py, 'spin'):.0%} of the time (a fair share would be 50%): each "
                      "of its releases lets the worker take over, and getting the GIL back "
                      "costs a whole switch interval; beside one cython-nogil thread it waits "
                      f"{share(nogil, 'spin'):.1%}." if _ok(share(nogil, "spin")) else
                      f"Beside one pure-Python thread the spin sampler waits "
                      f"{share(py, 'spin'):.0%} of the time.")
    else:
        conclusion = "Not enough cases to conclude."
    baseline = data.get("baseline_s") or {}
    md = "\n\n".join([
        f"### {data.get('title', 'GIL contention')}", data.get("measures", ""),
        f"![contention]({plot})", table,
        "What it measures: a sampler thread times calls that release the GIL and return at "
        "once (spin: `select.select([], [], [], 0)`, "
        f"{fmt_s(baseline.get('spin'))} alone; nap: `time.sleep(0)`, "
        f"{fmt_s(baseline.get('nap'))} alone). A call more than "
        f"{fmt_s((data.get('params') or {}).get('handover_s'))} over its cost alone counts "
        "as a hand-over, and the share is the sum of those waits over the window. It cannot "
        "tell a wait for the GIL from a wait for a core (the process case shows the latter), "
        "does not see waits shorter than the threshold, and its own releases cost the workers "
        "hand-overs too.",
        f"**Conclusion.** {conclusion}",
    ])
    return md, []


# --------------------------------------------------------------------------- queue vs pipe


def _queue_pipe(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    rows = data.get("throughput", [])
    lat = data.get("latency", [])
    sizes = (data.get("params") or {}).get("sizes") or sorted({r["size_bytes"] for r in rows})
    kinds = (data.get("params") or {}).get("kinds") or ["queue", "pipe", "pipe-simplex"]
    fig, (ax1, ax2) = _figure(10, 4, 2)
    width = 0.8 / max(1, len(kinds))
    for j, kind in enumerate(kinds):
        values = [next((r["messages_per_s"] for r in rows if r["kind"] == kind
                        and r["size_bytes"] == s), None) for s in sizes]
        ax1.bar([i + (j - (len(kinds) - 1) / 2) * width for i in range(len(sizes))],
                [v if _ok(v) else 0 for v in values], width, label=kind)
    ax1.set_xticks(range(len(sizes)), [fmt_bytes(s) for s in sizes])
    _log_if_positive(ax1, "y", [r["messages_per_s"] for r in rows])
    ax1.set_ylabel("messages/s, one producer to one consumer")
    _legend(ax1)
    lat_kinds = sorted({r["kind"] for r in lat}, key=lambda k: kinds.index(k)
                       if k in kinds else 99)
    width = 0.8 / max(1, len(lat_kinds))
    for j, kind in enumerate(lat_kinds):
        values = [next((r["round_trip"]["p50_ms"] for r in lat if r["kind"] == kind
                        and r["size_bytes"] == s), None) for s in sizes]
        ax2.bar([i + (j - (len(lat_kinds) - 1) / 2) * width for i in range(len(sizes))],
                [v if _ok(v) else 0 for v in values], width, label=kind)
    ax2.set_xticks(range(len(sizes)), [fmt_bytes(s) for s in sizes])
    _log_if_positive(ax2, "y", [r["round_trip"]["p50_ms"] for r in lat])
    ax2.set_ylabel("round trip, median (ms)")
    _legend(ax2)
    plot = _save(fig, outdir, "queue-pipe")

    trows = []
    for s in sizes:
        cells = [fmt_bytes(s)]
        for kind in kinds:
            r = next((r for r in rows if r["kind"] == kind and r["size_bytes"] == s), None)
            cells.append(f"{fmt_rate(r['messages_per_s'])} ({r['mb_per_s']:.3g} MB/s)"
                         if r else "n/a")
        for kind in ("queue", "pipe"):
            r = next((r for r in lat if r["kind"] == kind and r["size_bytes"] == s), None)
            cells.append(fmt_ms(r["round_trip"]["p50_ms"]) if r else "n/a")
        trows.append(cells)
    table = _table(["message"] + [f"{k} throughput" for k in kinds]
                   + ["queue round trip", "pipe round trip"], trows)

    measures = []
    for r in data.get("ratios", []):
        size = fmt_bytes(r["size_bytes"])
        if _ok(r.get("throughput_pipe_over_queue")):
            measures.append((f"throughput at {size}: Pipe/Queue "
                             f"{r['throughput_pipe_over_queue']:.2f}",
                             r["throughput_pipe_over_queue"]))
        if _ok(r.get("latency_queue_over_pipe")):
            measures.append((f"round trip at {size}: Queue/Pipe "
                             f"{r['latency_queue_over_pipe']:.2f}",
                             r["latency_queue_over_pipe"]))
    rule = ("a measure counts for the Pipe when it is at least 10% better (ratio >= 1.1); "
            "confirmed when every measure (throughput and round trip, each size) counts for "
            "the Pipe, refuted when none does, mixed otherwise")
    better = [m for m in measures if m[1] >= 1.1]
    if not measures:
        verdict = "not measured"
    elif len(better) == len(measures):
        verdict = "confirmed"
    elif not better:
        verdict = "refuted"
    else:
        verdict = "mixed"
    evidence = "; ".join(m[0] for m in measures) + " (above 1: the Pipe is better)"
    claims = [_claim("pipe-faster-than-queue", verdict, evidence, rule,
                     "experiment queue-pipe")]
    transport = []
    for size in sizes:
        simplex = next((r for r in rows if r["kind"] == "pipe-simplex"
                        and r["size_bytes"] == size), None)
        duplex = next((r for r in rows if r["kind"] == "pipe" and r["size_bytes"] == size), None)
        queue = next((r for r in rows if r["kind"] == "queue" and r["size_bytes"] == size), None)
        if simplex and duplex and queue:
            transport.append(f"at {fmt_bytes(size)}, Pipe(duplex=False) moves "
                             f"{simplex['messages_per_s'] / queue['messages_per_s']:.2f}x the "
                             f"Queue's messages/s and Pipe() "
                             f"{duplex['messages_per_s'] / queue['messages_per_s']:.2f}x")
    conclusion = {
        "confirmed": "The Pipe beats the Queue on every measure here: ",
        "refuted": "The Pipe is not measurably faster than the Queue here: ",
        "mixed": "The Pipe is faster on some measures and not others: ",
        "not measured": "Not measured: ",
    }[verdict] + evidence + "."
    if transport:
        conclusion += (" Which pipe matters: " + "; ".join(transport) + ". Pipe() is a socket "
                       "pair on Linux and Pipe(duplex=False) an OS pipe, the transport a Queue "
                       "uses too, so a large-message gap that Pipe(duplex=False) does not share "
                       "comes from the transport, not from having two ends.")
    md = "\n\n".join([
        f"### {data.get('title', 'Queue vs Pipe')}", data.get("measures", ""),
        f"![queue vs pipe]({plot})", table,
        "`pipe` is `Pipe()` as usually written (duplex: a socket pair on Linux); "
        "`pipe-simplex` is `Pipe(duplex=False)` (an OS pipe, which a Queue also uses). A Queue "
        "adds a feeder thread that pickles and writes in the producer, which can overlap with "
        "the producer's own work.",
        f"**Conclusion.** {conclusion}",
    ])
    return md, claims


# --------------------------------------------------------------------------- start-up


def _startup(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    thread = data.get("thread") or {}
    methods = data.get("methods", [])
    pools = data.get("pools", [])
    bars = [("thread", thread.get("ready_median_s"))]
    bars += [(m["method"], m.get("ready_median_s")) for m in methods if not m.get("skipped")]
    bars += [(f"{p['pool']} (cold, 1 task)", p.get("median_s")) for p in pools]
    fig, (ax,) = _figure(8, 3.8)
    ax.bar(range(len(bars)), [1e3 * v if _ok(v) else 0 for _, v in bars],
           color=["tab:green"] + ["tab:blue"] * (len(bars) - 1))
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=20, ha="right", fontsize=8)
    _log_if_positive(ax, "y", [v for _, v in bars])
    ax.set_ylabel("start until running Python code (ms)")
    plot = _save(fig, outdir, "startup")

    rows = [["thread", fmt_s(thread.get("ready_median_s")), fmt_s(thread.get("total_median_s")),
             "-", ""]]
    for m in methods:
        rows.append([m["method"], fmt_s(m.get("ready_median_s")), fmt_s(m.get("total_median_s")),
                     fmt_s(m.get("first_s")), m.get("skipped") or ""])
    for p in pools:
        rows.append([f"{p['pool']} ({p['workers']} workers"
                     + (f", {p['start_method']}" if p.get("start_method") else "") + ")",
                     "-", fmt_s(p.get("median_s")), "-", "create + 1 task + shutdown"])
    table = _table(["what", "start to running (median)", "start to joined (median)",
                    "first start", "note"], rows)
    measured = [m for m in methods if _ok(m.get("ready_median_s"))]
    cheapest = min(measured, key=lambda m: m["ready_median_s"]) if measured else None
    t = thread.get("ready_median_s")
    ratio = cheapest["ready_median_s"] / t if cheapest and _ok(t) and t > 0 else None
    rule = ("confirmed when starting a worker process with the cheapest start method takes at "
            "least 10x as long as starting a thread; refuted when it takes under 2x")
    if ratio is None:
        verdict = "not measured"
    elif ratio >= 10:
        verdict = "confirmed"
    elif ratio < 2:
        verdict = "refuted"
    else:
        verdict = "mixed"
    per_method = ", ".join(f"{m['method']} {fmt_s(m['ready_median_s'])}" for m in measured)
    evidence = (f"starting a process: {per_method}; a thread: {fmt_s(t)} "
                f"(cheapest process start {fmt_x(ratio)} a thread's)")
    claims = [_claim("process-startup-cost", verdict, evidence, rule, "experiment startup")]
    md = "\n\n".join([
        f"### {data.get('title', 'Process start-up')}", data.get("measures", ""),
        f"![start-up]({plot})", table,
        "The child does nothing but report back, and imports only the standard library, so "
        "this is the start method's own cost; a real worker also pays for its imports (spawn "
        "and forkserver children import them again; fork children inherit them). The first "
        "forkserver start includes starting the fork server.",
        f"**Conclusion.** {evidence[0].upper() + evidence[1:]}.",
    ])
    return md, claims


def _pickle(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    points = data.get("points", [])
    sizes = [p["size_bytes"] for p in points]
    fig, (ax,) = _figure(8, 4)
    for method, style in (("pickle", "o-"), ("shm", "s-"), ("shm-reuse", "^--"),
                          ("empty", ":"), ("local", "x:")):
        ys = [p.get(f"{method}_s") for p in points]
        if _positive(ys):
            ax.plot(sizes, [1e3 * y if _ok(y) else float("nan") for y in ys], style,
                    label=method)
    _log_if_positive(ax, "x", sizes)
    _log_if_positive(ax, "y", [p.get("pickle_s") for p in points])
    ax.set_xlabel("payload (bytes)")
    ax.set_ylabel("one task's round trip, best of repeats (ms)")
    _legend(ax)
    plot = _save(fig, outdir, "pickle")

    rows = [[fmt_bytes(p["size_bytes"]), fmt_s(p.get("local_s")), fmt_s(p.get("empty_s")),
             fmt_s(p.get("pickle_s")), fmt_s(p.get("shm_s")), fmt_s(p.get("shm-reuse_s")),
             "yes" if p.get("crc_ok") else "NO"] for p in points]
    table = _table(["payload", "work alone (local)", "empty task", "pickled", "shared memory",
                    "shared memory, reused", "result ok"], rows)
    table += "\n\nEach time is the best of the repeats (other processes only ever add time)."
    claims: list[Claim] = []
    big = points[-1] if points else None
    rule = ("confirmed when a task whose data is pickled to the worker takes at least 2x "
            "(empty-task round trip + the work done locally) at the largest payload; refuted "
            "when under 1.2x")
    if big and all(_ok(big.get(k)) for k in ("pickle_s", "empty_s", "local_s")):
        floor = big["empty_s"] + big["local_s"]
        ratio = big["pickle_s"] / floor if floor > 0 else None
        mb = big["size_bytes"] / 1e6
        per_mb = (big["pickle_s"] - floor) / mb if mb > 0 else None
        verdict = ("confirmed" if ratio and ratio >= 2 else
                   "refuted" if ratio and ratio < 1.2 else "mixed")
        evidence = (f"shipping {fmt_bytes(big['size_bytes'])} pickled: "
                    f"{fmt_s(big['pickle_s'])} per task against {fmt_s(floor)} for an empty "
                    f"task plus the work ({fmt_x(ratio)}; about {fmt_s(per_mb)} per MB), "
                    f"{fmt_s(big.get('shm_s'))} through fresh shared memory, "
                    f"{fmt_s(big.get('shm-reuse_s'))} when the data is already there")
        claims.append(_claim("process-startup-cost", verdict, evidence, rule,
                             "experiment pickle"))
        conclusion = evidence[0].upper() + evidence[1:] + "."
    else:
        conclusion = "Not enough points to conclude."
    md = "\n\n".join([f"### {data.get('title', 'Pickle vs shared memory')}",
                      data.get("measures", ""), f"![pickle]({plot})", table,
                      f"**Conclusion.** {conclusion}"])
    return md, claims


def _break_even(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    sweeps = data.get("sweeps") or {}
    win = (data.get("params") or {}).get("win_ratio", 0.9)
    fig, (ax,) = _figure(8, 4.2)
    all_ratios = []
    for kind, sweep in sweeps.items():
        points = sweep.get("points") or []
        for executor, style in (("thread-pool", "o-"), ("process-pool", "s--")):
            xs = [p["task_us"] for p in points]
            ys = [p[f"{executor}_s"] / p["serial_s"] if _ok(p.get(f"{executor}_s"))
                  and _ok(p.get("serial_s")) and p["serial_s"] > 0 else float("nan")
                  for p in points]
            all_ratios += ys
            if xs:
                ax.plot(xs, ys, style, label=f"{executor}, {kind} tasks")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(win, color="grey", lw=0.8, ls=":")
    _log_if_positive(ax, "x", [p["task_us"] for s in sweeps.values()
                               for p in s.get("points") or []])
    _log_if_positive(ax, "y", all_ratios)
    ax.set_xlabel("task size: serial time per task (us)")
    ax.set_ylabel("pool time / serial time (below 1: pool wins)")
    _legend(ax)
    plot = _save(fig, outdir, "break-even")

    rows = []
    sentences = []
    for kind, sweep in sweeps.items():
        if sweep.get("error"):
            rows.append([kind, sweep["error"], ""])
            continue
        for executor in ("thread-pool", "process-pool"):
            be = (sweep.get("break_even") or {}).get(executor) or {}
            if _ok(be.get("task_us")):
                lo, hi = be.get("between_us") or [None, None]
                text = f"~{be['task_us']:.3g} us (between {lo:.3g} and {hi:.3g} us)"
            else:
                text = be.get("note") or "n/a"
            rows.append([f"{kind} tasks", executor, text])
            sentences.append(f"{executor} with {kind} tasks: {text}")
    table = _table(["tasks", "pool", "break-even task size"], rows)
    detail = []
    for kind, sweep in sweeps.items():
        for p in sweep.get("points") or []:
            detail.append([kind, f"{p['task_us']:.3g} us", p["tasks"], fmt_s(p["serial_s"]),
                           fmt_s(p.get("thread-pool_s")), fmt_s(p.get("process-pool_s")),
                           "yes" if p.get("results_agree") else "NO"])
    detail_table = _table(["tasks", "task size", "n", "serial", "thread pool", "process pool",
                           "results agree"], detail)

    claims: list[Claim] = []
    py = (sweeps.get("python") or {}).get("break_even", {}).get("process-pool")
    smallest = ((sweeps.get("python") or {}).get("points") or [None])[0]
    rule = ("confirmed when a warm process pool is slower than serial for the smallest "
            "pure-Python tasks swept (a cost per task exists that small tasks cannot repay); "
            "refuted when it is faster already there")
    if py is not None and smallest is not None and _ok(smallest.get("process-pool_s")):
        r = smallest["process-pool_s"] / smallest["serial_s"]
        verdict = "confirmed" if r >= 1 else "refuted"
        where = (f"~{py['task_us']:.3g} us" if _ok(py.get("task_us")) else (py.get("note") or "?"))
        evidence = (f"process pool / serial {fmt_x(r)} at {smallest['task_us']:.3g} us "
                    f"pure-Python tasks; break-even task size {where}")
        claims.append(_claim("process-startup-cost", verdict, evidence, rule,
                             "experiment break-even"))
    md = "\n\n".join([
        f"### {data.get('title', 'Break-even task size')}", data.get("measures", ""),
        f"![break-even]({plot})", table, detail_table,
        f"Pools are warm (start-up excluded; see the start-up section) and get one task per "
        f"submission. Times are the best of the repeats. A pool wins at a size when it takes under {win:g}x the serial time; the "
        "break-even is interpolated on log axes between the last size it lost and the first it "
        "won for good.",
        "**Conclusion.** " + ("; ".join(sentences) + "." if sentences else "Not measured."),
    ])
    return md, claims


SECTIONS: dict[str, Callable[[dict, Path], tuple[str, list[Claim]]]] = {
    "convoy": _convoy,
    "switch-interval": _switch_interval,
    "contention": _contention,
    "queue-pipe": _queue_pipe,
    "startup": _startup,
    "pickle": _pickle,
    "break-even": _break_even,
}


#: other processes using more than this many cores around an experiment earn a caution
BUSY_OTHER_CORES = 0.25


def busy_host(data: dict) -> str | None:
    """A warning when other processes competed for the cores around an experiment, else None.

    Decided on ``other_cpu_cores_before/_after`` (host-wide busy cores sampled while this
    process idled, just before and after) above ``BUSY_OTHER_CORES``; the load average is
    not used, since it counts the experiment's own workers too.
    """
    others = [x for x in (data.get("other_cpu_cores_before"), data.get("other_cpu_cores_after"))
              if _ok(x)]
    if not others or max(others) <= BUSY_OTHER_CORES:
        return None
    return (f"other processes kept {max(others):.2g} of this host's "
            f"{data.get('usable_cores', '?')} usable cores busy around this experiment "
            "(sampled just before and after it): they competed for the cores, so its latencies "
            "and speed-ups include that competition (a wait for a core looks like a wait for "
            "the GIL, and pools cannot get every core).")


def merge_claims(claims: list[Claim]) -> list[Claim]:
    """One claim per id: several experiments deciding the same claim are combined (all
    confirmed -> confirmed, all refuted -> refuted, else mixed), evidence joined."""
    merged: dict[str, list[Claim]] = {}
    for c in claims:
        merged.setdefault(c["id"], []).append(c)
    out = []
    for cid, parts in merged.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        verdicts = {p["verdict"] for p in parts} - {"not measured"}
        verdict = (verdicts.pop() if len(verdicts) == 1 else
                   "not measured" if not verdicts else "mixed")
        out.append({
            "id": cid, "claim": parts[0]["claim"], "verdict": verdict,
            "evidence": "; ".join(f"{p['source']}: {p['evidence']}" for p in parts),
            "rule": " / ".join(f"{p['source']}: {p['rule']}" for p in parts)
                    + " (combined: all agree -> that verdict, else mixed)",
            "source": ", ".join(p["source"] for p in parts),
        })
    return out


def figures(doc: dict) -> list[tuple[str, str, str]]:
    """Key figures for a terminal summary: (experiment, figure, value)."""
    out: list[tuple[str, str, str]] = []
    for name, data in (doc.get("experiments") or {}).items():
        if data.get("error"):
            out.append((name, "error", data["error"]))
            continue
        if name == "convoy":
            for label, ex, v, w in (("alone", "none", None, 0),
                                    ("1 python thread", "threads", "python", 1),
                                    ("1 cython-nogil thread", "threads", "cython-nogil", 1),
                                    ("1 python process", "processes", "python", 1)):
                c = _find_case(data, ex, v, w)
                if c is not None:
                    out.append((name, f"{label}: probe p99 / echo",
                                f"{fmt_ms(_probe(c, 'thread-sleep', 'p99_ms'))} / "
                                f"{fmt_rate(_probe(c, 'echo', 'requests_per_s'))}"))
        elif name == "switch-interval":
            for p in data.get("points", []):
                out.append((name, f"{p['interval_ms']:g} ms: lateness p50",
                            fmt_ms(p["lateness"]["p50_ms"])))
        elif name == "contention":
            for c in data.get("cases", []):
                s = ((c.get("samplers") or {}).get("spin") or {}).get("wait_share")
                if _ok(s):
                    out.append((name, f"{_case_label(c)}: spin waits", f"{s:.1%}"))
        elif name == "queue-pipe":
            for r in data.get("ratios", []):
                out.append((name, f"{fmt_bytes(r['size_bytes'])}: Pipe/Queue throughput",
                            fmt_x(r.get("throughput_pipe_over_queue"))))
                out.append((name, f"{fmt_bytes(r['size_bytes'])}: Queue/Pipe round trip",
                            fmt_x(r.get("latency_queue_over_pipe"))))
        elif name == "startup":
            out.append((name, "thread", fmt_s((data.get("thread") or {}).get("ready_median_s"))))
            for m in data.get("methods", []):
                out.append((name, m["method"], m.get("skipped") or fmt_s(m.get("ready_median_s"))))
        elif name == "pickle":
            for p in data.get("points", []):
                out.append((name, f"{fmt_bytes(p['size_bytes'])}: pickle / shm",
                            f"{fmt_s(p.get('pickle_s'))} / {fmt_s(p.get('shm_s'))}"))
        elif name == "break-even":
            for kind, sweep in (data.get("sweeps") or {}).items():
                for executor, be in (sweep.get("break_even") or {}).items():
                    value = (f"~{be['task_us']:.3g} us" if _ok(be.get("task_us"))
                             else be.get("note") or "n/a")
                    out.append((name, f"{executor}, {kind} tasks", value))
    return out


def render(doc: dict, outdir: Path) -> tuple[str, list[Claim]]:
    """Markdown for the experiment sections (level-3 headings; PNG plots written to
    ``outdir``) and the claim dicts the experiments decide, one per claim id."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    experiments = doc.get("experiments") or {}
    # no heading of its own: the main report puts this under its "Experiments" heading
    parts: list[str] = []
    claims: list[Claim] = []
    names = [n for n in ORDER if n in experiments] + [n for n in experiments if n not in ORDER]
    for name in names:
        data = experiments[name]
        title = data.get("title", name)
        if data.get("error"):
            parts.append(f"### {title}\n\nThis experiment failed: `{data['error']}`.")
            continue
        section = SECTIONS.get(name)
        if section is None:
            parts.append(f"### {title}\n\n(No report section for experiment `{name}`.)")
            continue
        md, cl = section(data, outdir)
        others = [x for x in (data.get("other_cpu_cores_before"),
                              data.get("other_cpu_cores_after")) if _ok(x)]
        meta = (f"*{'quick' if data.get('quick') else 'full'} run, "
                f"{data.get('duration_s', 0):.1f} s, {data.get('usable_cores', '?')} usable "
                f"cores; other processes used "
                + (" / ".join(f"{x:.2f}" for x in others) + " cores before / after"
                   if others else "an unknown share of the cores")
                + f"; load average {data.get('load_average_start')} at the start.*")
        caution = busy_host(data)
        if caution:
            meta += f"\n\n**Caution:** {caution}"
        parts.append(md + "\n\n" + meta)
        claims.extend(cl)
    if claims:
        rows = [[c["claim"], f"**{c['verdict']}**", c["evidence"], c["rule"]]
                for c in merge_claims(claims)]
        parts.insert(0, "How the experiments decided their claims (each rule in full):\n\n"
                     + _table(["claim", "verdict", "evidence", "rule"], rows))
    return "\n\n".join(parts) + "\n", merge_claims(claims)


def decide(doc: dict) -> list[Claim]:
    """The claim verdicts alone (the plots are drawn in a throw-away directory)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gilbench-claims-") as tmp:
        return render(doc, Path(tmp))[1]
