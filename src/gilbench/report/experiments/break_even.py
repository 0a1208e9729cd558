"""The break-even experiment in the report.

The task size where a pool starts to beat serial.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import is_number, fmt_s, fmt_x
from ._common import (Claim, add_legend, log_scale_if_positive, make_claim, markdown_table,
                      new_figure, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "break-even"


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    sweeps = data.get("sweeps") or {}
    win = (data.get("params") or {}).get("win_ratio", 0.9)
    fig, (ax,) = new_figure(8, 4.2)
    all_ratios = []
    for kind, sweep in sweeps.items():
        points = sweep.get("points") or []
        for executor, style in (("thread-pool", "o-"), ("process-pool", "s--")):
            xs = [p["task_us"] for p in points]
            ys = [p[f"{executor}_s"] / p["serial_s"] if is_number(p.get(f"{executor}_s"))
                  and is_number(p.get("serial_s")) and p["serial_s"] > 0 else float("nan")
                  for p in points]
            all_ratios += ys
            if xs:
                ax.plot(xs, ys, style, label=f"{executor}, {kind} tasks")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axhline(win, color="grey", lw=0.8, ls=":")
    log_scale_if_positive(ax, "x", [p["task_us"] for s in sweeps.values()
                               for p in s.get("points") or []])
    log_scale_if_positive(ax, "y", all_ratios)
    ax.set_xlabel("task size: serial time per task (us)")
    ax.set_ylabel("pool time / serial time (below 1: pool wins)")
    add_legend(ax)
    plot = save_figure(fig, outdir, "break-even")

    rows = []
    sentences = []
    for kind, sweep in sweeps.items():
        if sweep.get("error"):
            rows.append([kind, sweep["error"], ""])
            continue
        for executor in ("thread-pool", "process-pool"):
            be = (sweep.get("break_even") or {}).get(executor) or {}
            if is_number(be.get("task_us")):
                lo, hi = be.get("between_us") or [None, None]
                text = f"~{be['task_us']:.3g} us (between {lo:.3g} and {hi:.3g} us)"
            else:
                text = be.get("note") or "n/a"
            rows.append([f"{kind} tasks", executor, text])
            sentences.append(f"{executor} with {kind} tasks: {text}")
    table = markdown_table(["tasks", "pool", "break-even task size"], rows)
    detail = []
    for kind, sweep in sweeps.items():
        for p in sweep.get("points") or []:
            detail.append([kind, f"{p['task_us']:.3g} us", p["tasks"], fmt_s(p["serial_s"]),
                           fmt_s(p.get("thread-pool_s")), fmt_s(p.get("process-pool_s")),
                           "yes" if p.get("results_agree") else "NO"])
    detail_table = markdown_table(["tasks", "task size", "n", "serial", "thread pool", "process pool",
                           "results agree"], detail)

    claims: list[Claim] = []
    py = (sweeps.get("python") or {}).get("break_even", {}).get("process-pool")
    smallest = ((sweeps.get("python") or {}).get("points") or [None])[0]
    rule = ("confirmed when a warm process pool is slower than serial for the smallest "
            "pure-Python tasks swept (a cost per task exists that small tasks cannot repay); "
            "refuted when it is faster already there")
    if py is not None and smallest is not None and is_number(smallest.get("process-pool_s")):
        r = smallest["process-pool_s"] / smallest["serial_s"]
        verdict = "confirmed" if r >= 1 else "refuted"
        where = (f"~{py['task_us']:.3g} us" if is_number(py.get("task_us")) else (py.get("note") or "?"))
        evidence = (f"process pool / serial {fmt_x(r)} at {smallest['task_us']:.3g} us "
                    f"pure-Python tasks; break-even task size {where}")
        claims.append(make_claim("process-startup-cost", verdict, evidence, rule,
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


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = []
    for kind, sweep in (data.get("sweeps") or {}).items():
        for executor, be in (sweep.get("break_even") or {}).items():
            value = (f"~{be['task_us']:.3g} us" if is_number(be.get("task_us"))
                     else be.get("note") or "n/a")
            out.append((f"{executor}, {kind} tasks", value))
    return out
