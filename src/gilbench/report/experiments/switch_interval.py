"""The switch-interval experiment in the report.

Probe lateness against ``sys.setswitchinterval``: is the GIL handed over every 5 ms?

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from ..format import NA, fmt_per_s, fmt_time, is_number
from ._common import (Claim, add_legend, log_scale_if_positive, make_claim, markdown_table,
                      new_figure, positives, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "switch-interval"


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log(y) on log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if is_number(x) and is_number(y)
           and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    points = data.get("points", [])
    xs = [p["interval_ms"] for p in points]
    p50 = [p["lateness"]["p50_ms"] for p in points]
    p99 = [p["lateness"]["p99_ms"] for p in points]
    rps = [(p.get("echo") or {}).get("requests_per_s") for p in points]
    fig, (ax1, ax2) = new_figure(10, 4, 2)
    ax1.plot(xs, p50, "o-", label="p50 lateness")
    ax1.plot(xs, p99, "s--", label="p99 lateness")
    if xs:
        ax1.plot([min(xs), max(xs)], [min(xs), max(xs)], ":", color="grey",
                 label="lateness = interval")
    alone = (data.get("alone") or {}).get("lateness", {}).get("p50_ms")
    if is_number(alone):
        ax1.axhline(alone, color="tab:green", lw=0.8, label="p50 alone")
    log_scale_if_positive(ax1, "x", xs)
    log_scale_if_positive(ax1, "y", p50 + p99)
    ax1.set_xlabel("sys.setswitchinterval (ms)")
    ax1.set_ylabel("lateness of a 1 ms sleep (ms)")
    add_legend(ax1)
    ax1.set_title("beside one pure-Python thread")
    if positives(rps):
        ax2.plot(xs, [r if is_number(r) else float("nan") for r in rps], "o-", color="tab:green")
        log_scale_if_positive(ax2, "x", xs)
        log_scale_if_positive(ax2, "y", rps)
    ax2.set_xlabel("sys.setswitchinterval (ms)")
    ax2.set_ylabel("echo requests/s (median run)")
    ax2.set_title("echo server thread beside it")
    plot = save_figure(fig, outdir, "switch-interval")

    rows = [[f"{p['interval_ms']:g} ms", fmt_time(p['lateness']['p50_ms'], NA, unit="ms"),
             fmt_time(p['lateness']['p99_ms'], NA, unit="ms"), p['lateness']['n'],
             fmt_per_s((p.get('echo') or {}).get('requests_per_s'))] for p in points]
    a = data.get("alone") or {}
    alone = a.get("lateness", {})
    rows.insert(0, ["alone (no CPU thread)", fmt_time(alone.get("p50_ms"), NA, unit="ms"),
                    fmt_time(alone.get("p99_ms"), NA, unit="ms"), alone.get("n"),
                    fmt_per_s((a.get("echo") or {}).get("requests_per_s"))])
    table = markdown_table(["switch interval", "lateness p50", "lateness p99", "wake-ups",
                    "echo req/s"], rows)

    slope = _slope(xs, p50)
    at5 = next((p for p in points if abs(p["interval_ms"] - 5) < 1e-9), None)
    late5 = at5["lateness"]["p50_ms"] if at5 else None
    rule = ("confirmed when, beside one pure-Python thread at a 5 ms switch interval, the 1 ms "
            "probe's median lateness is between 2.5 and 10 ms and the median lateness grows "
            "with the interval (log-log slope 0.5 to 1.5 across the sweep); refuted when the "
            "lateness at 5 ms is outside 1 to 25 ms or the slope is below 0.25; mixed otherwise")
    original = data.get("original_interval_s")
    late5_text = fmt_time(late5, NA, unit="ms")
    evidence = (f"median lateness {late5_text} at a 5 ms interval (the host's default is "
                f"{fmt_time(original, NA)}); log-log slope of lateness on interval "
                f"{slope:.2f}" if is_number(slope) else f"median lateness {late5_text} at 5 ms")
    if not is_number(late5):
        verdict = "not measured"
    elif 2.5 <= late5 <= 10 and is_number(slope) and 0.5 <= slope <= 1.5:
        verdict = "confirmed"
    elif not (1 <= late5 <= 25) or (is_number(slope) and slope < 0.25):
        verdict = "refuted"
    else:
        verdict = "mixed"
    claims = [make_claim("switch-interval-5ms", verdict, evidence, rule,
                     "experiment switch-interval")]
    if verdict == "confirmed":
        conclusion = (f"A waiting thread gets the GIL back after about one switch interval: "
                      f"{evidence}. The interval is the knob: "
                      f"{fmt_time(p50[0], NA, unit='ms') if p50 else 'n/a'} at {xs[0]:g} ms, "
                      f"{fmt_time(p50[-1], NA, unit='ms') if p50 else 'n/a'} at {xs[-1]:g} ms.")
    else:
        conclusion = f"The 5 ms hand-over is {verdict} here: {evidence}."
    md = "\n\n".join([f"### {data.get('title', 'Switch interval')}", data.get("measures", ""),
                      f"![switch interval]({plot})", table,
                      f"**Conclusion.** {conclusion} The original interval "
                      f"({fmt_time(original, NA)}) was restored afterwards."])
    return md, claims


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    return [(f"{p['interval_ms']:g} ms: lateness p50",
             fmt_time(p["lateness"]["p50_ms"], NA, unit="ms"))
            for p in data.get("points", [])]
