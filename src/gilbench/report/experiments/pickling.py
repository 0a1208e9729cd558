"""The pickle experiment in the report.

Shipping a payload to a process: pickled against shared memory.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import NA, fmt_bytes, fmt_time, fmt_x, is_number
from ._common import (Claim, add_legend, log_scale_if_positive, make_claim, markdown_table,
                      new_figure, positives, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "pickle"


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    points = data.get("points", [])
    sizes = [p["size_bytes"] for p in points]
    fig, (ax,) = new_figure(8, 4)
    for method, style in (("pickle", "o-"), ("shm", "s-"), ("shm-reuse", "^--"),
                          ("empty", ":"), ("local", "x:")):
        ys = [p.get(f"{method}_s") for p in points]
        if positives(ys):
            ax.plot(sizes, [1e3 * y if is_number(y) else float("nan") for y in ys], style,
                    label=method)
    log_scale_if_positive(ax, "x", sizes)
    log_scale_if_positive(ax, "y", [p.get("pickle_s") for p in points])
    ax.set_xlabel("payload (bytes)")
    ax.set_ylabel("one task's round trip, best of repeats (ms)")
    add_legend(ax)
    plot = save_figure(fig, outdir, "pickle")

    rows = [[fmt_bytes(p["size_bytes"], NA),
             *(fmt_time(p.get(k), NA) for k in ("local_s", "empty_s", "pickle_s", "shm_s",
                                                "shm-reuse_s")),
             "yes" if p.get("crc_ok") else "NO"] for p in points]
    table = markdown_table(["payload", "work alone (local)", "empty task", "pickled", "shared memory",
                    "shared memory, reused", "result ok"], rows)
    table += "\n\nEach time is the best of the repeats (other processes only ever add time)."
    claims: list[Claim] = []
    big = points[-1] if points else None
    rule = ("confirmed when a task whose data is pickled to the worker takes at least 2x "
            "(empty-task round trip + the work done locally) at the largest payload; refuted "
            "when under 1.2x")
    if big and all(is_number(big.get(k)) for k in ("pickle_s", "empty_s", "local_s")):
        floor = big["empty_s"] + big["local_s"]
        ratio = big["pickle_s"] / floor if floor > 0 else None
        mb = big["size_bytes"] / 1e6
        per_mb = (big["pickle_s"] - floor) / mb if mb > 0 else None
        verdict = ("confirmed" if ratio and ratio >= 2 else
                   "refuted" if ratio and ratio < 1.2 else "mixed")
        evidence = (f"shipping {fmt_bytes(big['size_bytes'], NA)} pickled: "
                    f"{fmt_time(big['pickle_s'], NA)} per task against "
                    f"{fmt_time(floor, NA)} for an empty task plus the work ({fmt_x(ratio)}; "
                    f"about {fmt_time(per_mb, NA)} per MB), "
                    f"{fmt_time(big.get('shm_s'), NA)} through fresh shared memory, "
                    f"{fmt_time(big.get('shm-reuse_s'), NA)} when the data is already there")
        claims.append(make_claim("process-startup-cost", verdict, evidence, rule,
                             "experiment pickle"))
        conclusion = evidence[0].upper() + evidence[1:] + "."
    else:
        conclusion = "Not enough points to conclude."
    md = "\n\n".join([f"### {data.get('title', 'Pickle vs shared memory')}",
                      data.get("measures", ""), f"![pickle]({plot})", table,
                      f"**Conclusion.** {conclusion}"])
    return md, claims


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    return [(f"{fmt_bytes(p['size_bytes'], NA)}: pickle / shm",
             f"{fmt_time(p.get('pickle_s'), NA)} / {fmt_time(p.get('shm_s'), NA)}")
            for p in data.get("points", [])]
