"""The queue-pipe experiment in the report.

Multiprocessing Queue against Pipe: throughput and round trips by payload size.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path

from ..format import NA, fmt_bytes, fmt_per_s, fmt_time, fmt_x, is_number
from ._common import (Claim, add_legend, log_scale_if_positive, make_claim, markdown_table,
                      new_figure, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "queue-pipe"


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    rows = data.get("throughput", [])
    lat = data.get("latency", [])
    sizes = (data.get("params") or {}).get("sizes") or sorted({r["size_bytes"] for r in rows})
    kinds = (data.get("params") or {}).get("kinds") or ["queue", "pipe", "pipe-simplex"]
    fig, (ax1, ax2) = new_figure(10, 4, 2)
    width = 0.8 / max(1, len(kinds))
    for j, kind in enumerate(kinds):
        values = [next((r["messages_per_s"] for r in rows if r["kind"] == kind
                        and r["size_bytes"] == s), None) for s in sizes]
        ax1.bar([i + (j - (len(kinds) - 1) / 2) * width for i in range(len(sizes))],
                [v if is_number(v) else 0 for v in values], width, label=kind)
    ax1.set_xticks(range(len(sizes)), [fmt_bytes(s, NA) for s in sizes])
    log_scale_if_positive(ax1, "y", [r["messages_per_s"] for r in rows])
    ax1.set_ylabel("messages/s, one producer to one consumer")
    add_legend(ax1)
    lat_kinds = sorted({r["kind"] for r in lat}, key=lambda k: kinds.index(k)
                       if k in kinds else 99)
    width = 0.8 / max(1, len(lat_kinds))
    for j, kind in enumerate(lat_kinds):
        values = [next((r["round_trip"]["p50_ms"] for r in lat if r["kind"] == kind
                        and r["size_bytes"] == s), None) for s in sizes]
        ax2.bar([i + (j - (len(lat_kinds) - 1) / 2) * width for i in range(len(sizes))],
                [v if is_number(v) else 0 for v in values], width, label=kind)
    ax2.set_xticks(range(len(sizes)), [fmt_bytes(s, NA) for s in sizes])
    log_scale_if_positive(ax2, "y", [r["round_trip"]["p50_ms"] for r in lat])
    ax2.set_ylabel("round trip, median (ms)")
    add_legend(ax2)
    plot = save_figure(fig, outdir, "queue-pipe")

    trows = []
    for s in sizes:
        cells = [fmt_bytes(s, NA)]
        for kind in kinds:
            r = next((r for r in rows if r["kind"] == kind and r["size_bytes"] == s), None)
            cells.append(f"{fmt_per_s(r['messages_per_s'])} ({r['mb_per_s']:.3g} MB/s)"
                         if r else "n/a")
        for kind in ("queue", "pipe"):
            r = next((r for r in lat if r["kind"] == kind and r["size_bytes"] == s), None)
            cells.append(fmt_time(r["round_trip"]["p50_ms"], NA, unit="ms") if r else "n/a")
        trows.append(cells)
    table = markdown_table(["message"] + [f"{k} throughput" for k in kinds]
                   + ["queue round trip", "pipe round trip"], trows)

    measures = []
    for r in data.get("ratios", []):
        size = fmt_bytes(r["size_bytes"], NA)
        if is_number(r.get("throughput_pipe_over_queue")):
            measures.append((f"throughput at {size}: Pipe/Queue "
                             f"{r['throughput_pipe_over_queue']:.2f}",
                             r["throughput_pipe_over_queue"]))
        if is_number(r.get("latency_queue_over_pipe")):
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
    claims = [make_claim("pipe-faster-than-queue", verdict, evidence, rule,
                     "experiment queue-pipe")]
    transport = []
    for size in sizes:
        simplex = next((r for r in rows if r["kind"] == "pipe-simplex"
                        and r["size_bytes"] == size), None)
        duplex = next((r for r in rows if r["kind"] == "pipe" and r["size_bytes"] == size), None)
        queue = next((r for r in rows if r["kind"] == "queue" and r["size_bytes"] == size), None)
        if simplex and duplex and queue:
            transport.append(f"at {fmt_bytes(size, NA)}, Pipe(duplex=False) moves "
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


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = []
    for r in data.get("ratios", []):
        out.append((f"{fmt_bytes(r['size_bytes'], NA)}: Pipe/Queue throughput",
                    fmt_x(r.get("throughput_pipe_over_queue"))))
        out.append((f"{fmt_bytes(r['size_bytes'], NA)}: Queue/Pipe round trip",
                    fmt_x(r.get("latency_queue_over_pipe"))))
    return out
