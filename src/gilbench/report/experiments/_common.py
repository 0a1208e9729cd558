"""What every experiment section shares: claim texts and dicts, Markdown tables, figures.

Plots use matplotlib's object API (``Figure``), which renders with Agg and leaves pyplot's
global state alone; matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from ..format import is_number

CLAIM_TEXT = {
    "cpu-threads-hurt-latency": "A CPU-bound thread holding the GIL makes other threads late",
    "switch-interval-5ms": "The GIL is handed over about every 5 ms",
    "pipe-faster-than-queue": "A Pipe is faster than a Queue",
    "process-startup-cost": "Processes bypass the GIL at a start-up and pickling cost",
}

Claim = dict[str, Any]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def make_claim(cid: str, verdict: str, evidence: str, rule: str, source: str) -> Claim:
    return {"id": cid, "claim": CLAIM_TEXT[cid], "verdict": verdict, "evidence": evidence,
            "rule": rule, "source": source}


def new_figure(width: float = 9.0, height: float = 4.0, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, (list(axes) if ncols > 1 else [axes])


def save_figure(fig: Any, outdir: Path, name: str) -> str:
    filename = f"experiment-{name}.png"
    fig.savefig(outdir / filename, dpi=110)
    return filename


def add_legend(ax: Any) -> None:
    # legend() with nothing labelled warns (and the tests turn warnings into errors)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def positives(values: Iterable[Any]) -> list[float]:
    return [v for v in values if is_number(v) and v > 0]


def log_scale_if_positive(ax: Any, axis: str, values: Iterable[Any]) -> None:
    # a log axis with nothing positive on it warns and draws nothing: stay linear then
    if positives(values):
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


def case_label(case: dict) -> str:
    if case["workers"] == 0:
        return "alone"
    return f"{case['workers']}x {case['variant']} {case['executor']}"


def find_case(data: dict, executor: str, variant: str | None, workers: int) -> dict | None:
    """The first case that ran with these executor, variant and workers, or None."""
    for case in data.get("cases", []):
        if (case.get("executor"), case.get("variant"), case.get("workers")) == (
                executor, variant, workers) and not case.get("error"):
            return case
    return None
