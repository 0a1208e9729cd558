"""The contention experiment in the report.

How often samplers wait for the GIL beside CPU-bound workers.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import NA, fmt_per_s, fmt_time, is_number
from ._common import (Claim, add_legend, case_label, find_case, markdown_table, new_figure,
                      save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "contention"


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    cases = [c for c in data.get("cases", []) if not c.get("error")]
    samplers = (data.get("params") or {}).get("samplers") or ["spin", "nap"]
    labels = [case_label(c) for c in cases]
    fig, (ax,) = new_figure(9, 4)
    width = 0.8 / max(1, len(samplers))
    for j, s in enumerate(samplers):
        values = [(c["samplers"].get(s) or {}).get("wait_share") for c in cases]
        ax.bar([i + (j - (len(samplers) - 1) / 2) * width for i in range(len(cases))],
               [100 * v if is_number(v) else 0 for v in values], width, label=f"{s} sampler")
    ax.set_xticks(range(len(cases)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("time spent waiting to get the GIL back (%)")
    ax.set_ylim(0, 105)
    add_legend(ax)
    plot = save_figure(fig, outdir, "contention")

    rows = []
    for c in data.get("cases", []):
        if c.get("error"):
            rows.append([case_label(c), c["error"], "", "", ""])
            continue
        cells = [case_label(c)]
        for s in samplers:
            r = c["samplers"].get(s) or {}
            cells.append(f"{r['wait_share']:.1%}" if is_number(r.get("wait_share")) else "n/a")
            cells.append(f"{fmt_per_s(r.get('handovers_per_s'))}, "
                         f"{fmt_time(r.get('handover_wait_median_ms'), NA, unit='ms')} each")
        rows.append(cells)
    header = ["case"]
    for s in samplers:
        header += [f"{s}: waiting", f"{s}: hand-overs"]
    table = markdown_table(header, rows)
    py = find_case(data, "threads", "python", 1)
    nogil = find_case(data, "threads", "cython-nogil", 1)

    def share(c: dict | None, s: str) -> float | None:
        return ((c or {}).get("samplers", {}).get(s) or {}).get("wait_share")

    if py is not None and is_number(share(py, "spin")):
        conclusion = (f"Beside one pure-Python thread the spin sampler waits "
                      f"{share(py, 'spin'):.0%} of the time (a fair share would be 50%): each "
                      "of its releases lets the worker take over, and getting the GIL back "
                      "costs a whole switch interval; beside one cython-nogil thread it waits "
                      f"{share(nogil, 'spin'):.1%}." if is_number(share(nogil, "spin")) else
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
        f"{fmt_time(baseline.get('spin'), NA)} alone; nap: `time.sleep(0)`, "
        f"{fmt_time(baseline.get('nap'), NA)} alone). A call more than "
        f"{fmt_time((data.get('params') or {}).get('handover_s'), NA)} over its cost alone counts "
        "as a hand-over, and the share is the sum of those waits over the window. It cannot "
        "tell a wait for the GIL from a wait for a core (the process case shows the latter), "
        "does not see waits shorter than the threshold, and its own releases cost the workers "
        "hand-overs too.",
        f"**Conclusion.** {conclusion}",
    ])
    return md, []


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = []
    for c in data.get("cases", []):
        s = ((c.get("samplers") or {}).get("spin") or {}).get("wait_share")
        if is_number(s):
            out.append((f"{case_label(c)}: spin waits", f"{s:.1%}"))
    return out
