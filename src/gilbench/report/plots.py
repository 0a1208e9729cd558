"""The report's plots, drawn with matplotlib's Agg backend into PNG files.

Figures are built as ``matplotlib.figure.Figure`` objects attached to an explicit
``FigureCanvasAgg``: the Agg backend is chosen in code, pyplot's global state is never touched
(so a report can be written from inside another program, or from a thread, without a display).

One visual grammar across every plot, so none needs a legend hunt: the **colour** is the variant
(python blue, cython-gil orange, cython-nogil green, numpy purple, stdlib red), the **line style**
is the executor family (threads solid, asyncio dotted, processes dashed, interpreters dash-dot),
the **marker** is the executor. Failed cells are drawn as a red × on the axis; unstable ones
with hollow markers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

from gilbench.cell import Cell
from gilbench.results import FAMILIES
from gilbench.stats import median

from . import analysis as A
from .format import fmt_compact

VARIANT_COLORS = {
    "python": "#0072B2",
    "cython-gil": "#E69F00",
    "cython-nogil": "#009E73",
    "numpy": "#CC79A7",
    "stdlib": "#D55E00",
}
FAMILY_STYLES = {"serial": "-", "threads": "-", "asyncio": ":", "processes": "--",
                 "interpreters": "-."}
EXECUTOR_MARKERS = {
    "serial": "o", "threads": "o", "thread-pool": "s", "asyncio-to-thread": "^",
    "asyncio": "D", "asyncio-process": "*", "processes": "v", "process-pipe": "P",
    "process-pool": "X", "interpreters": "h",
}
START_COLORS = {"fork": "#0072B2", "forkserver": "#009E73", "spawn": "#D55E00", None: "#57606a"}
DPI = 100
_EXTRA = ["#56B4E9", "#F0E442", "#999999", "#000000"]


def color(variant: str) -> str:
    if variant in VARIANT_COLORS:
        return VARIANT_COLORS[variant]
    return _EXTRA[sum(map(ord, variant)) % len(_EXTRA)]


def _new(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    # no timestamp or version in the PNG metadata: same data, same bytes
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _style_axes(ax) -> None:
    ax.grid(True, color="#e6e9ec", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend(fig: Figure, variants: Sequence[str], executors: Sequence[str],
            families: dict[str, str], extra=()) -> None:
    """One legend at the bottom of the figure: colours = variants, markers/styles = executors
    (``families``: executor -> family, which picks the line style)."""
    handles = [Line2D([], [], color=color(v), lw=3, label=v) for v in variants]
    handles += [Line2D([], [], color="#57606a", lw=1.2, marker=EXECUTOR_MARKERS.get(e, "o"),
                       ls=FAMILY_STYLES.get(families.get(e, ""), "-"), label=e)
                for e in executors]
    handles += list(extra)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 9),
                   frameon=False, fontsize=8.5)


def _workers_axis(ax, counts: Sequence[int]) -> None:
    counts = sorted(set(counts))
    if len(counts) > 1 and counts[-1] / counts[0] >= 8:
        ax.set_xscale("log", base=2)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(counts)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.set_xlabel("workers")



def _log_ticks(axis) -> None:
    """Readable log ticks: 1, 2, 5 per decade, printed as 20k, 500k, 1M."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0,)))
    axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(fmt_compact))
    axis.set_minor_formatter(FuncFormatter(fmt_compact))


def speedup_plot(doc: dict, kernel: str, path: Path) -> Path | None:
    """Speedup vs workers for one kernel: one panel per executor family, one line per
    variant × executor, interval bands, the ideal line and the usable-core count marked."""
    c = A.usable_cores(doc)
    cells = [x for x in doc["cells"] if x["kernel"] == kernel and A.family(x) != "serial"]
    if not cells:
        return None
    io = A.kind(cells[0]) == "io"
    fams = [f for f in FAMILIES if any(A.family(x) == f for x in cells)]
    fams += sorted({A.family(x) for x in cells} - set(fams))
    fig = _new(min(4.2 * len(fams) + 0.6, 13), 3.7)
    axes = fig.subplots(1, len(fams), sharey=True, squeeze=False)[0]
    all_w = sorted({Cell.read(x).workers for x in cells})
    top = 1.0
    for ax, fam in zip(axes, fams):
        _style_axes(ax)
        ws = [w for w in all_w]
        ideal = [w if io else min(w, c) for w in ws]
        ax.plot(ws, ideal, color="#8c959f", lw=1, ls=(0, (4, 3)), zorder=1)
        ax.axhline(1.0, color="#8c959f", lw=0.8, zorder=1)
        if not io:
            ax.axvline(c, color="#cf222e", lw=1, ls=(0, (2, 2)), alpha=0.7, zorder=1)
        top = max(top, max(ideal))
        for (k, v, e), curve in A.curves(x for x in cells if A.family(x) == fam).items():
            ok = [Cell.read(x) for x in curve if not A.is_failed(x)]
            col, mk = color(v), EXECUTOR_MARKERS.get(e, "o")
            ls = FAMILY_STYLES.get(fam, "-")
            if ok:
                xs = [x.workers for x in ok]
                med = [x.speedup.median for x in ok]
                lo = [x.speedup.low for x in ok]
                hi = [x.speedup.high for x in ok]
                top = max(top, max(hi))
                ax.fill_between(xs, lo, hi, color=col, alpha=0.13, lw=0, zorder=2)
                ax.plot(xs, med, color=col, ls=ls, lw=1.8, zorder=3)
                for x in ok:
                    hollow = A.is_unstable(x)
                    ax.plot([x.workers], [x.speedup.median], marker=mk, ms=6,
                            color=col, mfc="white" if hollow else col, mew=1.3, zorder=4)
            for x in curve:
                if A.is_failed(x):
                    ax.plot([Cell.read(x).workers], [0], marker="x", ms=9, mew=2, color="#cf222e",
                            clip_on=False, zorder=5)
        ax.set_title(fam, fontsize=10)
        _workers_axis(ax, all_w)
    axes[0].set_ylabel("speedup vs serial (×)")
    axes[0].set_ylim(0, top * 1.12)
    if not io:
        axes[-1].text(c, top * 1.1, f" {c} usable core{'s' if c != 1 else ''}", color="#cf222e",
                      fontsize=8, va="top", ha="left")
    variants = sorted({Cell.read(x).variant for x in cells}, key=A.variant_sort_key)
    executors = sorted({Cell.read(x).executor for x in cells}, key=A.executor_sort_key(doc))
    extra = [Line2D([], [], color="#8c959f", ls=(0, (4, 3)),
                    label="ideal (W)" if io else "ideal: min(W, cores)")]
    if any(A.is_failed(x) for x in cells):
        extra.append(Line2D([], [], color="#cf222e", marker="x", ls="", mew=2, label="failed"))
    fig.suptitle(f"{kernel}: speedup vs workers" + (" (I/O: overlap of waits)" if io else ""),
                 fontsize=11)
    _legend(fig, variants, executors, A.executor_families(cells), extra)
    return _save(fig, path)


def utilization_plot(doc: dict, path: Path) -> Path | None:
    """Cores used (Σ CPU / wall) at the verdict worker count, per kernel, executor and variant."""
    judged = [j for j in A.judge(doc) if A.kind(j.cell) != "io"]
    kernels = []
    for j in judged:
        if j.kernel not in kernels:
            kernels.append(j.kernel)
    if not kernels:
        return None
    c = A.usable_cores(doc)
    fig = _new(10, 1.0 + 2.1 * len(kernels))
    axes = fig.subplots(len(kernels), 1, squeeze=False)[:, 0]
    variants_all = sorted({j.variant for j in judged}, key=A.variant_sort_key)
    for ax, kernel in zip(axes, kernels):
        _style_axes(ax)
        js = [j for j in judged if j.kernel == kernel]
        executors = sorted({j.executor for j in js}, key=A.executor_sort_key(doc))
        variants = [v for v in variants_all if any(j.variant == v for j in js)]
        width = 0.8 / max(1, len(variants))
        ymax = 1.0
        for vi, v in enumerate(variants):
            for ei, e in enumerate(executors):
                j = next((j for j in js if j.variant == v and j.executor == e), None)
                if j is None:
                    continue
                x = ei - 0.4 + width * (vi + 0.5)
                util = j.cell.get("cpu_utilization")
                if A.is_failed(j.cell) or util is None:
                    ax.plot([x], [0.05], marker="x", color="#cf222e", ms=7, mew=2)
                    continue
                ymax = max(ymax, util)
                ax.bar(x, util, width * 0.92, color=color(v),
                       hatch="///" if A.is_unstable(j.cell) else None, edgecolor="white", lw=0.5)
        n = min(max(j.workers for j in js), c)
        ax.axhline(n, color="#1a7f37", lw=1, ls=(0, (4, 3)))
        ax.axhline(1, color="#8c959f", lw=0.8)
        ax.set_xticks(range(len(executors)), executors, fontsize=8.5)
        ax.set_ylim(0, max(ymax, n) * 1.15)
        ax.set_ylabel("cores used")
        ax.set_title(f"{kernel} (at {', '.join(sorted({str(j.workers) for j in js}))} workers)",
                     fontsize=9.5, loc="left")
    extra = [Line2D([], [], color="#1a7f37", ls=(0, (4, 3)), label="min(W, usable cores)")]
    handles = [Line2D([], [], color=color(v), lw=6, label=v) for v in variants_all] + extra
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
               fontsize=8.5)
    fig.suptitle("CPU utilisation: Σ task CPU time / wall time (1 = one core busy)", fontsize=11)
    return _save(fig, path)


def _value_axis(axis, values: Sequence[float], log_always: bool = False) -> None:
    """Log scale (1-2-5 ticks) when the values span a decade or more, else linear: a log axis
    over a narrow range only crowds the labels."""
    vals = [v for v in values if v > 0]
    if vals and (log_always or max(vals) / min(vals) >= 10):
        axis.axes.set_yscale("log")
        _log_ticks(axis)
    else:
        axis.set_major_formatter(FuncFormatter(fmt_compact))


def throughput_plot(doc: dict, path: Path) -> Path | None:
    """Throughput of python vs cython-nogil on one log axis, per CPU kernel and executor
    (a dot per variant: on a log axis a bar's length would mean nothing)."""
    judged = [j for j in A.judge(doc) if j.variant in ("python", "cython-nogil")]
    serial = {(x["kernel"], x["variant"]): x for x in doc["cells"]
              if A.family(x) == "serial" and x["variant"] in ("python", "cython-nogil")}
    kernels = [k for k in A.kernel_names(doc)
               if {v for (kk, v) in serial if kk == k} >= {"python", "cython-nogil"}
               and A.kind(serial[(k, "python")]) != "io"]
    if not kernels:
        return None
    cols = 2 if len(kernels) > 1 else 1
    rows = math.ceil(len(kernels) / cols)
    fig = _new(11 if cols == 2 else 6.5, 0.9 + 2.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(kernels):]:
        ax.set_visible(False)
    for ax, kernel in zip(axes, kernels):
        _style_axes(ax)
        js = [j for j in judged if j.kernel == kernel]
        executors = ["serial"] + sorted({j.executor for j in js}, key=A.executor_sort_key(doc))
        unit = ""
        values: list[float] = []
        failed: list[float] = []
        for vi, v in enumerate(("python", "cython-nogil")):
            xs, ys, hollow = [], [], []
            for ei, e in enumerate(executors):
                if e == "serial":
                    cell = serial.get((kernel, v))
                else:
                    cell = next((j.cell for j in js if j.variant == v and j.executor == e), None)
                if cell is None:
                    continue
                unit = cell.get("unit") or unit
                t = A.throughput(cell)
                if t is None or (A.is_failed(cell) and e != "serial"):
                    failed.append(ei)
                    continue
                xs.append(ei)
                ys.append(t)
                hollow.append(A.is_unstable(cell))
            values += ys
            ax.plot(xs, ys, color=color(v), lw=1, alpha=0.5)
            for x, y, h in zip(xs, ys, hollow):
                ax.plot([x], [y], marker="o", ms=8, color=color(v), mfc="white" if h else color(v),
                        mew=1.5)
        _value_axis(ax.yaxis, values, log_always=True)
        for ei in failed:
            ax.plot([ei], [min(values) if values else 1], marker="x", color="#cf222e", ms=8,
                    mew=2)
        ax.set_xticks(range(len(executors)), executors, fontsize=8, rotation=20, ha="right")
        ax.set_xlim(-0.5, len(executors) - 0.5)
        ax.set_ylabel(f"{unit or 'units'}/s (log)")
        w = sorted({j.workers for j in js})
        ax.set_title(f"{kernel}" + (f" (at {', '.join(map(str, w))} workers)" if w else ""),
                     fontsize=9.5, loc="left")
    handles = [Line2D([], [], color=color(v), marker="o", ms=8, lw=1, label=v)
               for v in ("python", "cython-nogil")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False, fontsize=9)
    fig.suptitle("Throughput: python vs cython-nogil, same work, same log axis", fontsize=11)
    return _save(fig, path)


def startup_plot(doc: dict, path: Path) -> Path | None:
    """Start-up per executor and start method against the worker count (medians over kernels
    and variants): the start-up as recorded, and the first call cold − warm."""
    cells = [x for x in doc["cells"] if not A.is_failed(x) and A.family(x) != "serial"]
    derived = A.startup_is_cold_minus_warm(cells)
    families = A.executor_families(cells)
    executor_key = A.executor_sort_key(doc)
    groups: dict[tuple[str, str | None], dict[int, tuple[list[float], list[float]]]] = {}
    for x in map(Cell.read, cells):
        s, cold, warm = x.startup_s, x.cold_wall_s, x.median_s
        first = cold - warm if isinstance(cold, (int, float)) and warm is not None else None
        if s is None and first is None:
            continue
        per_w = groups.setdefault((x.executor, x.start_method), {})
        start, over = per_w.setdefault(x.workers, ([], []))
        if isinstance(s, (int, float)):
            start.append(float(s))
        if first is not None:
            over.append(float(first))
    # executors without a recorded start-up (plain threads, asyncio) have nothing to start
    groups = {k: v for k, v in groups.items() if any(start for start, _ in v.values())}
    if not groups:
        return None
    panels = [("first call cold − warm (pool start-up + first pickling)", 1)] if derived else [
        ("pool start-up, as recorded", 0), ("first call cold − warm", 1)]
    fig = _new(6.5 if derived else 11, 3.8)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    all_w: set[int] = set()
    positive: list[float] = []
    dropped = 0
    for (e, sm), per_w in sorted(groups.items(), key=lambda kv: (executor_key(kv[0][0]),
                                                                  kv[0][1] or "")):
        label = e + (f" ({sm})" if sm else "")
        col = START_COLORS.get(sm, START_COLORS[None]) if families.get(e) == "processes" \
            else "#8c959f"
        style = dict(color=col, marker=EXECUTOR_MARKERS.get(e, "o"),
                     ls=FAMILY_STYLES.get(families.get(e, ""), "-"), lw=1.6, label=label)
        for ax, (_, idx) in zip(axes, panels):
            pts = [(w, median(v[idx]) * 1e3) for w, v in sorted(per_w.items()) if v[idx]]
            dropped += sum(1 for _, y in pts if y <= 0)
            pts = [(w, y) for w, y in pts if y > 0]  # log axis; ≤ 0 is noise, counted below
            if pts:
                all_w.update(w for w, _ in pts)
                positive.extend(y for _, y in pts)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], **style)
    if not positive:
        return None
    for ax, (title, _) in zip(axes, panels):
        _style_axes(ax)
        ax.set_title(title, fontsize=9.5)
        _workers_axis(ax, sorted(all_w))
    _value_axis(axes[0].yaxis, positive)
    if min(positive) > 0 and axes[0].get_yscale() == "linear":
        axes[0].set_ylim(0, max(positive) * 1.15)
    axes[0].set_ylabel("milliseconds" + (" (log)" if axes[0].get_yscale() == "log" else ""))
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5),
               frameon=False, fontsize=8.5)
    note = f" ({dropped} point{'s' if dropped != 1 else ''} ≤ 0 left out: noise)" if dropped else ""
    fig.suptitle("What starting workers costs" + note, fontsize=11)
    return _save(fig, path)


def write_plots(doc: dict, outdir: Path) -> dict[str, Path]:
    """Every plot the data supports, as PNG files in ``outdir``: name -> path."""
    outdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for kernel in A.kernel_names(doc):
        p = speedup_plot(doc, kernel, outdir / f"speedup-{file_slug(kernel)}.png")
        if p:
            out[f"speedup-{kernel}"] = p
    for name, fn in (("utilization", utilization_plot), ("throughput", throughput_plot),
                     ("startup", startup_plot)):
        p = fn(doc, outdir / f"{name}.png")
        if p:
            out[name] = p
    return out


def file_slug(name: str) -> str:
    """A file-name-safe form of a kernel name."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)
