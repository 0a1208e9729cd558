"""The convoy experiment in the report.

A CPU-bound thread beside latency probes and an echo server: how late the others get.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import NA, fmt_per_s, fmt_time, fmt_x, is_number
from ._common import (Claim, add_legend, case_label, find_case, log_scale_if_positive,
                      make_claim, markdown_table, new_figure, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "convoy"


ECHO_ANCHOR = (
    "Published anchor (the article; CPython 3.9, 2 cores): about 30k requests/s alone, about "
    "100 requests/s beside one CPU-bound thread, about 20k requests/s with the CPU work in "
    "another process. Quoted for comparison only: every figure below is this host's."
)


def _probe(case: dict | None, probe: str, key: str) -> float | None:
    if case is None:
        return None
    result = case.get("probes", {}).get(probe)
    if not result:
        return None
    if probe == "echo":
        return result.get(key)
    return result.get("lateness", {}).get(key)


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    cases = [c for c in data.get("cases", []) if not c.get("error")]
    labels = [case_label(c) for c in cases]
    fig, (ax1, ax2) = new_figure(11, 4.5, 2)
    x = list(range(len(cases)))
    for offset, probe, colour in ((-0.2, "thread-sleep", "tab:blue"),
                                  (0.2, "asyncio-sleep", "tab:orange")):
        values = [_probe(c, probe, "p99_ms") for c in cases]
        ax1.bar([i + offset for i in x], [v if is_number(v) else 0 for v in values], 0.4,
                label=f"{probe} p99", color=colour)
    log_scale_if_positive(ax1, "y", [_probe(c, "thread-sleep", "p99_ms") for c in cases])
    ax1.set_ylabel("lateness of a 1 ms sleep, p99 (ms)")
    ax1.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    add_legend(ax1)
    ax1.set_title("probe lateness")
    rates = [_probe(c, "echo", "requests_per_s") for c in cases]
    ax2.bar(x, [r if is_number(r) else 0 for r in rates], color="tab:green")
    log_scale_if_positive(ax2, "y", rates)
    ax2.set_ylabel("echo requests/s (median run)")
    ax2.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax2.set_title("echo server thread in this process")
    plot = save_figure(fig, outdir, "convoy")

    rows = []
    for c in data.get("cases", []):
        if c.get("error"):
            rows.append([case_label(c)] + ["-"] * 6 + [c["error"]])
            continue
        echo = c.get("probes", {}).get("echo") or {}
        runs = ", ".join(fmt_per_s(r, "") for r in echo.get("runs_requests_per_s") or [])
        load = c.get("load") or {}
        rows.append([
            case_label(c),
            f"{fmt_time(_probe(c, 'thread-sleep', 'p50_ms'), NA, unit='ms')} / "
            f"{fmt_time(_probe(c, 'thread-sleep', 'p99_ms'), NA, unit='ms')}",
            f"{fmt_time(_probe(c, 'asyncio-sleep', 'p50_ms'), NA, unit='ms')} / "
            f"{fmt_time(_probe(c, 'asyncio-sleep', 'p99_ms'), NA, unit='ms')}",
            fmt_per_s(echo.get("requests_per_s")) + (f" ({runs})" if runs else ""),
            f"{echo['slow_share']:.1%}" if is_number(echo.get("slow_share")) else "n/a",
            fmt_time((echo.get("latency") or {}).get("p99_ms"), NA, unit="ms"),
            fmt_per_s(load.get("chunks_per_s"), "") if load.get("chunks_per_s") else "-",
            echo.get("error") or "",
        ])
    table = markdown_table(["case", "thread sleep p50 / p99", "asyncio sleep p50 / p99",
                    "echo req/s (runs)", "echo > 1 ms", "echo p99", "worker chunks/s",
                    "note"], rows)

    alone = find_case(data, "none", None, 0)
    py = find_case(data, "threads", "python", 1)
    nogil = find_case(data, "threads", "cython-nogil", 1)
    proc = find_case(data, "processes", "python", 1)
    lat = {k: _probe(c, "thread-sleep", "p99_ms") for k, c in
           (("alone", alone), ("python", py), ("nogil", nogil), ("process", proc))}
    rps = {k: _probe(c, "echo", "requests_per_s") for k, c in
           (("alone", alone), ("python", py), ("nogil", nogil), ("process", proc))}

    # the reference is the control when there is one: the same CPU load from a thread that
    # releases the GIL, so that only the GIL differs (the probe alone also differs in how
    # idle the cores are, which on some hosts changes wake-up times; see the note below)
    ref = "nogil" if is_number(lat["nogil"]) else "alone"
    ref_label = "beside 1 cython-nogil thread" if ref == "nogil" else "alone"
    lat_factor = lat["python"] / lat[ref] if is_number(lat["python"]) and is_number(lat[ref]) \
        and lat[ref] > 0 else None
    rps_ref = rps["nogil"] if is_number(rps["nogil"]) else rps["alone"]
    rps_factor = rps_ref / rps["python"] if is_number(rps_ref) and is_number(rps["python"]) \
        and rps["python"] > 0 else None
    rule = ("compared with the same probe beside one cython-nogil thread (the control: the "
            "same CPU load without the GIL; the probe alone when the control is missing): "
            "confirmed when, beside one pure-Python thread, the 1 ms probe's p99 lateness is "
            "at least 5x and the echo server's requests/s at most 1/5 of the reference; "
            "refuted when both stay within 2x; mixed otherwise (echo not measured: decided on "
            "lateness alone)")
    alone_ms, python_ms, nogil_ms = (fmt_time(lat[k], NA, unit="ms")
                                     for k in ("alone", "python", "nogil"))
    figures = [f"probe p99 lateness {alone_ms} alone, {python_ms} beside 1 pure-Python thread, "
               f"{nogil_ms} beside 1 cython-nogil thread ({fmt_x(lat_factor)} later than "
               f"{ref_label})"]
    if is_number(rps["alone"]) or is_number(rps["python"]):
        figures.append(f"echo {fmt_per_s(rps['alone'])} alone, {fmt_per_s(rps['python'])} "
                       f"beside 1 pure-Python thread, {fmt_per_s(rps['nogil'])} beside 1 "
                       f"cython-nogil thread ({fmt_x(rps_factor)} fewer than "
                       f"{'beside cython-nogil' if is_number(rps['nogil']) else 'alone'}), "
                       f"{fmt_per_s(rps['process'])} with the CPU work in another process")
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
    claims = [make_claim("cpu-threads-hurt-latency", verdict, evidence, rule, "experiment convoy")]

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
    busy_rtt = min([r for r in (rtt["nogil"], rtt["process"]) if is_number(r)], default=None)
    if is_number(rtt["alone"]) and is_number(busy_rtt) and rtt["alone"] > 3 * busy_rtt:
        conclusion += (f" The echo server alone is slower than beside a busy core: its median "
                       f"round trip is {fmt_time(rtt['alone'], NA, unit='ms')} alone against "
                       f"{fmt_time(busy_rtt, NA, unit='ms')} while another core is kept "
                       "busy. The likely cause (inferred, not measured): an idle core takes "
                       "tens of microseconds to wake (deep idle states; on a virtual machine, a "
                       "halted vCPU), which a busy neighbour prevents. Hence the claim is "
                       "decided against the cython-nogil control.")
    cgil = find_case(data, "threads", "cython-gil", 1)
    chunk_ms = (data.get("params") or {}).get("chunk_s")
    if cgil is not None and is_number(chunk_ms):
        conclusion += (f" A cython-gil worker holds the GIL for a whole {chunk_ms * 1e3:g} ms "
                       f"call, which the switch interval cannot interrupt: p99 lateness "
                       f"{fmt_time(_probe(cgil, 'thread-sleep', 'p99_ms'), NA, unit='ms')}.")
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
        f"Switch interval {fmt_time(data.get('switch_interval_s'), NA)}; child processes "
        f"start with {params.get('start_method', '?')}.",
        f"**Conclusion.** {conclusion}",
    ])
    return md, claims


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = []
    for label, ex, v, w in (("alone", "none", None, 0),
                            ("1 python thread", "threads", "python", 1),
                            ("1 cython-nogil thread", "threads", "cython-nogil", 1),
                            ("1 python process", "processes", "python", 1)):
        c = find_case(data, ex, v, w)
        if c is not None:
            out.append((f"{label}: probe p99 / echo",
                        f"{fmt_time(_probe(c, 'thread-sleep', 'p99_ms'), NA, unit='ms')} / "
                        f"{fmt_per_s(_probe(c, 'echo', 'requests_per_s'))}"))
    return out
