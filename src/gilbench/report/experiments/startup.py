"""The startup experiment in the report.

What starting a thread, a process (per start method) and a pool costs.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import NA, fmt_time, fmt_x, is_number
from ._common import (Claim, log_scale_if_positive, make_claim, markdown_table, new_figure,
                      save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "startup"


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    thread = data.get("thread") or {}
    methods = data.get("methods", [])
    pools = data.get("pools", [])
    bars = [("thread", thread.get("ready_median_s"))]
    bars += [(m["method"], m.get("ready_median_s")) for m in methods if not m.get("skipped")]
    bars += [(f"{p['pool']} (cold, 1 task)", p.get("median_s")) for p in pools]
    fig, (ax,) = new_figure(8, 3.8)
    ax.bar(range(len(bars)), [1e3 * v if is_number(v) else 0 for _, v in bars],
           color=["tab:green"] + ["tab:blue"] * (len(bars) - 1))
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=20, ha="right", fontsize=8)
    log_scale_if_positive(ax, "y", [v for _, v in bars])
    ax.set_ylabel("start until running Python code (ms)")
    plot = save_figure(fig, outdir, "startup")

    rows = [["thread", fmt_time(thread.get("ready_median_s"), NA),
             fmt_time(thread.get("total_median_s"), NA), "-", ""]]
    for m in methods:
        rows.append([m["method"], fmt_time(m.get("ready_median_s"), NA),
                     fmt_time(m.get("total_median_s"), NA), fmt_time(m.get("first_s"), NA),
                     m.get("skipped") or ""])
    for p in pools:
        rows.append([f"{p['pool']} ({p['workers']} workers"
                     + (f", {p['start_method']}" if p.get("start_method") else "") + ")",
                     "-", fmt_time(p.get("median_s"), NA), "-", "create + 1 task + shutdown"])
    table = markdown_table(["what", "start to running (median)", "start to joined (median)",
                    "first start", "note"], rows)
    measured = [m for m in methods if is_number(m.get("ready_median_s"))]
    cheapest = min(measured, key=lambda m: m["ready_median_s"]) if measured else None
    t = thread.get("ready_median_s")
    ratio = cheapest["ready_median_s"] / t if cheapest and is_number(t) and t > 0 else None
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
    per_method = ", ".join(f"{m['method']} {fmt_time(m['ready_median_s'], NA)}" for m in measured)
    evidence = (f"starting a process: {per_method}; a thread: {fmt_time(t, NA)} "
                f"(cheapest process start {fmt_x(ratio)} a thread's)")
    claims = [make_claim("process-startup-cost", verdict, evidence, rule, "experiment startup")]
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


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = [("thread", fmt_time((data.get("thread") or {}).get("ready_median_s"), NA))]
    for m in data.get("methods", []):
        out.append((m["method"], m.get("skipped") or fmt_time(m.get("ready_median_s"), NA)))
    return out
