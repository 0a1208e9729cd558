"""Two runs side by side: per cell the ratio of median times b/a, its bootstrap 95% interval,
and "faster / slower / not significant".

The test, stated in every output (``test_text``): a cell is *faster* or *slower* when the 95%
percentile-bootstrap interval of the ratio excludes 1 **and** the ratio moved by at least the
minimum change (default 5%, like asv's ``--factor``): a tight interval around a 2% change is a
real but negligible difference, and two runs of one command on a shared host differ that much.
The ratio is of time per unit of work (median wall time / size), because ``gilbench run``
calibrates sizes per host: when sizes differ, a non-linear kernel's ratio moves by itself, so
the output warns and names ``gilbench run --like A.json`` (A's matrix at A's sizes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gilbench import stats

from . import analysis as A
from . import format as F
from .blocks import Badge, Block, Details, Heading, Para, Table, to_html, to_markdown

#: fewer warm repeats than this in either file and the interval means nothing: not compared
MIN_REPEATS = 3
#: a ratio must move at least this much (either way) to be called faster or slower
DEFAULT_MIN_CHANGE = 0.05


def test_text(min_change: float = DEFAULT_MIN_CHANGE) -> str:
    """The test a comparison applies, in words (printed with every comparison)."""
    return (
        "**Test.** Ratio = b/a of the median warm wall time per unit of work (< 1: b is "
        f"faster). Its 95% interval is a percentile bootstrap ({stats.BOOTSTRAP_RESAMPLES} "
        "resamples, each file's repeats resampled independently). A cell is **faster** or "
        "**slower** when the interval excludes 1 **and** the ratio changed by at least "
        f"{100 * min_change:g}% (`--min-change {min_change:g}`), else **not significant**. "
        "Cells that failed in either file, exist in one file only, or have fewer than "
        f"{MIN_REPEATS} repeats are not compared. The interval covers the spread within each "
        "run, not drift between runs (a busy neighbour during one of them): compare runs made "
        "on a quiet host.")


TEST_TEXT = test_text()

KeyT = tuple


@dataclass
class Row:
    """One matched (or unmatched) cell."""

    key: KeyT  # (kernel, variant, executor, workers[, start_method])
    a: dict | None
    b: dict | None
    status: str  # faster | slower | not significant | failed in a | ... | only in b
    ratio: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def compared(self) -> bool:
        return self.status in ("faster", "slower", "not significant")


@dataclass
class Comparison:
    """The rows and counts of a comparison of run ``a`` with run ``b``."""

    names: tuple[str, str]
    docs: tuple[dict, dict]
    rows: list[Row] = field(default_factory=list)
    min_change: float = DEFAULT_MIN_CHANGE
    #: the files compared, when known (the hints name them)
    files: tuple[str, str] | None = None

    @property
    def comparable(self) -> int:
        """How many cells were compared (measured, successful, in both files)."""
        return sum(1 for r in self.rows if r.compared)

    @property
    def sizes_differ(self) -> list[Row]:
        """Compared cells whose two runs did different amounts of work."""
        return [r for r in self.rows if r.compared and r.a["size"] != r.b["size"]]

    def sizes_warning(self) -> str:
        """A warning when compared cells ran different sizes ("" when they all agree)."""
        n = len(self.sizes_differ)
        if not n:
            return ""
        return (f"**Sizes differ** in {n} of {self.comparable} compared cells (each run "
                "calibrated its own): their ratio is per unit of work, which a kernel whose "
                f"cost is not linear in its size moves by itself. Re-run *{self.names[1]}* at "
                f"*{self.names[0]}*'s sizes with `gilbench run --like {self._file_a}`.")

    @property
    def _file_a(self) -> str:
        return self.files[0] if self.files else "A.json"

    def nothing_comparable(self) -> str:
        """One line saying why no cell could be compared."""
        n = {s: sum(1 for r in self.rows if r.status.startswith(s))
             for s in ("only in", "failed", "too few")}
        return (f"nothing to compare: no cell was measured successfully in both files "
                f"({n['only in']} in one file only, {n['failed']} failed, {n['too few']} with "
                f"fewer than {MIN_REPEATS} repeats); compare two runs of one matrix, e.g. "
                f"B from `gilbench run --like {self._file_a}`")

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def not_compared(self) -> int:
        return sum(1 for r in self.rows if not r.compared)

    def summary(self) -> str:
        """'b is faster in N cells, slower in M, not significant in K' (+ not compared)."""
        n = self.count("faster")
        text = (f"{self.names[1]} is faster in {n} cell{'s' if n != 1 else ''}, slower in "
                f"{self.count('slower')}, not significant in {self.count('not significant')}")
        if self.not_compared:
            text += f"; {self.not_compared} not compared (failed, missing or too few repeats)"
        return text + f" — {len(self.rows)} cells in all."


def _keyed(doc: dict) -> dict[KeyT, dict]:
    """Cells by (kernel, variant, executor, workers); the start method joins the key only where
    one file holds the same cell under several start methods."""
    base: dict[KeyT, list[dict]] = {}
    for c in doc["cells"]:
        base.setdefault((c["kernel"], c["variant"], c["executor"], c["workers"]), []).append(c)
    out: dict[KeyT, dict] = {}
    for k, cells in base.items():
        if len(cells) == 1:
            out[k] = cells[0]
        else:
            for c in cells:
                out[k + (c.get("start_method") or "-",)] = c
    return out


def _problem(c: dict) -> str | None:
    """Why a cell's times cannot be compared ("failed", "too few repeats"), or None.
    Only the wall times matter here: a cell whose serial baseline failed still has them."""
    if c.get("error") or c.get("timed_out") or c.get("result_ok") is False:
        return "failed"
    walls = c.get("wall_s") or []
    if len(walls) < MIN_REPEATS or not all(isinstance(t, (int, float)) and t > 0 for t in walls):
        return "too few repeats"
    return None


def significance(ratio: float, low: float, high: float, min_change: float) -> str:
    """faster | slower | not significant: the interval must exclude 1 and the ratio move by at
    least ``min_change`` (a factor 1 + min_change, either way)."""
    factor = 1 + min_change
    if high < 1 and ratio <= 1 / factor:
        return "faster"
    if low > 1 and ratio >= factor:
        return "slower"
    return "not significant"


def compare(doc_a: dict, doc_b: dict, names: tuple[str, str] = ("a", "b"),
            min_change: float = DEFAULT_MIN_CHANGE) -> Comparison:
    """Match the cells of two results documents and judge each matched pair (``significance``
    with ``min_change``, default 5%)."""
    if not (isinstance(min_change, (int, float)) and 0 <= min_change < 1):
        raise ValueError(f"min_change must be a fraction in [0, 1), not {min_change!r}")
    ka, kb = _keyed(doc_a), _keyed(doc_b)
    both = {"cells": doc_a["cells"] + doc_b["cells"]}
    order = {k: i for i, k in enumerate(A.kernel_names(both))}
    executor_key = A.executor_sort_key(both)
    keys = sorted(set(ka) | set(kb), key=lambda k: (
        order[k[0]], A.variant_sort_key(k[1]), executor_key(k[2]), k[3], k[4:]))
    comp = Comparison(names, (doc_a, doc_b), min_change=float(min_change))
    for k in keys:
        a, b = ka.get(k), kb.get(k)
        if a is None or b is None:
            comp.rows.append(Row(k, a, b, f"only in {names[0] if b is None else names[1]}"))
            continue
        pa, pb = _problem(a), _problem(b)
        if pa or pb:
            if pa == "failed" and pb == "failed":
                status = "failed in both"
            elif "failed" in (pa, pb):
                status = f"failed in {names[0] if pa == 'failed' else names[1]}"
            else:
                status = "too few repeats"
            comp.rows.append(Row(k, a, b, status))
            continue
        scale = a["size"] / b["size"] if a["size"] and b["size"] else 1.0
        sp = stats.bootstrap_ratio(b["wall_s"], a["wall_s"], scale)
        # the point estimate can sit outside a skewed percentile interval; keep it inside
        ratio, low, high = sp["median"], min(sp["low"], sp["median"]), max(sp["high"], sp["median"])
        status = significance(ratio, low, high, min_change)
        comp.rows.append(Row(k, a, b, status, ratio, low, high))
    return comp


# --------------------------------------------------------------------------------------------
# rendering


def _run_label(doc: dict) -> dict[str, str]:
    h = doc.get("host", {})
    gil = h.get("gil_enabled")
    return {
        "host": f"{h.get('hostname', '?')}: {h.get('cpu_model', '?')}",
        "usable cores": str(h.get("usable_cores", "?")),
        "Python": f"{h.get('python_implementation', '')} {h.get('python_version', '?')}".strip(),
        "build": f"{h.get('build', '?')}, GIL {'on' if gil else 'off' if gil is not None else '?'}",
        "created": str(doc.get("created", "?")),
        "cells": str(len(doc["cells"])),
        "repeats / target": f"{doc.get('config', {}).get('repeats', '?')} / "
                            f"{doc.get('config', {}).get('target_time_s', '?')} s",
    }


STATUS_CODES = {"faster": "faster", "slower": "slower", "not significant": "not-significant"}


def _speedup(c: dict | None) -> str:
    if c is None:
        return "—"
    if A.family(c) == "serial":
        return "1 (serial)"
    if A.is_failed(c):
        return "failed"
    return F.fmt_interval(c["speedup"])


def row_cells(r: Row) -> list:
    k = r.key
    label = f"{k[2]}" + (f" ({k[4]})" if len(k) > 4 else "")
    med = [F.fmt_time(c.get("median_s")) if c is not None else "—" for c in (r.a, r.b)]
    if r.compared:
        ratio = F.fmt_ratio_interval(r.ratio, r.low, r.high)
        if r.a["size"] != r.b["size"]:
            ratio += " ≠size"
        if r.status == "faster":
            words = f"{1 / r.ratio:.2f}× faster"
        elif r.status == "slower":
            words = f"{r.ratio:.2f}× slower"
        else:
            words = "not significant"
        badge = Badge(STATUS_CODES[r.status], words, title=r.status)
    else:
        ratio = "—"
        code = "failed" if r.status.startswith("failed") else "missing"
        badge = Badge(code, r.status)
    return [k[0], k[1], label, str(k[3]), med[0], med[1], ratio, badge,
            _speedup(r.a), _speedup(r.b)]


HEADER = ["kernel", "variant", "executor", "W", "median a", "median b", "ratio b/a [95%]",
          "b vs a", "speedup a", "speedup b"]


def verdict_changes(comp: Comparison) -> list[Block]:
    """Verdicts (the report's rule) of each run side by side, where they differ."""
    ja = {(j.kernel, j.variant, j.executor): j for j in A.judge(comp.docs[0])}
    jb = {(j.kernel, j.variant, j.executor): j for j in A.judge(comp.docs[1])}
    shared = [k for k in ja if k in jb]
    # by code: an undecided verdict's words carry its median, which moves by itself
    changed = [k for k in shared if ja[k].verdict.code != jb[k].verdict.code]
    blocks: list[Block] = [Heading(2, "Verdicts side by side", "verdicts")]
    if not shared:
        blocks.append(Para("The two runs have no (kernel, variant, executor) in common.", "note"))
        return blocks
    blocks.append(Para(
        f"Each run judged by the report's rule at its own verdict worker count "
        f"(usable cores: a {A.usable_cores(comp.docs[0])}, b {A.usable_cores(comp.docs[1])}): "
        f"{len(changed)} of {len(shared)} verdicts differ"
        + (", listed here." if changed else ".")))

    def badge(j: A.Judged) -> Badge:
        detail = "" if j.verdict.code == "failed" else F.fmt_interval(j.cell["speedup"])
        return Badge(j.verdict.code, j.verdict.label, title=j.verdict.why,
                     detail=f"{detail} @{j.workers}", warn=j.verdict.unstable)

    if changed:
        rows = [[k[0], k[1], k[2], badge(ja[k]), badge(jb[k])] for k in changed]
        blocks.append(Table(["kernel", "variant", "executor", f"a = {comp.names[0]}",
                             f"b = {comp.names[1]}"], rows))
    return blocks


def build(comp: Comparison) -> list[Block]:
    na, nb = comp.names
    la, lb = _run_label(comp.docs[0]), _run_label(comp.docs[1])
    head_rows = [[k, la[k], lb.get(k, "?")] for k in la]
    blocks: list[Block] = [
        Heading(1, f"gilbench compare: {na} vs {nb}", "top"),
        Table(["", f"a = {na}", f"b = {nb}"], head_rows),
        Para(f"**{comp.summary()}**", "lead"),
        Para(test_text(comp.min_change), "note"),
    ]
    for name, doc in zip(comp.names, comp.docs):
        busy = A.contention(doc)
        if busy:  # a contended run makes every ratio against it suspect
            blocks.append(Para(f"Run *{name}*: {busy}", "warning"))
    if comp.sizes_differ:  # marked ≠size in the tables
        blocks.append(Para(comp.sizes_warning(), "warning"))
    blocks += verdict_changes(comp)
    significant = sorted((r for r in comp.rows if r.status in ("faster", "slower")),
                         key=lambda r: r.ratio)
    blocks.append(Heading(2, "Significant differences", "significant"))
    if significant:
        rows = []
        for r in significant:
            k, v, e, w, _ma, _mb, ratio, badge, sa, sb = row_cells(r)
            rows.append([k, v, e, w, ratio, badge, f"{sa.split(' [')[0]} → {sb.split(' [')[0]}"])
        blocks.append(Para(f"{len(significant)} cells, {nb} fastest first."))
        blocks.append(Table(["kernel", "variant", "executor", "W", "ratio b/a [95%]", "b vs a",
                             "speedup a → b"], rows, ["l", "l", "l", "r", "r", "l", "r"]))
    else:
        blocks.append(Para(f"None: no interval excludes 1 with a change of at least "
                           f"{100 * comp.min_change:g}%.", "note"))
    blocks.append(Heading(2, "All cells", "cells"))
    order = {k: i for i, k in enumerate(A.kernel_names(
        {"cells": comp.docs[0]["cells"] + comp.docs[1]["cells"]}))}
    kernels = sorted({r.key[0] for r in comp.rows}, key=lambda k: order[k])
    for kernel in kernels:
        rows = [row_cells(r) for r in comp.rows if r.key[0] == kernel]
        blocks.append(Details(f"{kernel} ({len(rows)} cells)",
                              [Heading(3, kernel), Table(HEADER, rows, ["l", "l", "l", "r", "r",
                                                                        "r", "r", "l", "r", "r"])],
                              open=True))
    return blocks


def write_compare(doc_a: dict, doc_b: dict, outdir: str | os.PathLike,
                  names: tuple[str, str] = ("a", "b"), min_change: float = DEFAULT_MIN_CHANGE,
                  comp: Comparison | None = None) -> tuple[Comparison, dict[str, Path]]:
    """Compare two results documents (or write the comparison ``comp`` already made); write
    compare.md and compare.html into ``outdir``. Returns the comparison and
    ``{"markdown": path, "html": path}``."""
    comp = comp or compare(doc_a, doc_b, names, min_change)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    blocks = build(comp)
    md, html = outdir / "compare.md", outdir / "compare.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    html.write_text(to_html(f"gilbench compare: {names[0]} vs {names[1]}", blocks, outdir,
                            "Written by gilbench compare. Self-contained: nothing is fetched."),
                    encoding="utf-8")
    return comp, {"markdown": md, "html": html}


__all__ = ["Comparison", "Row", "compare", "significance", "write_compare", "test_text",
           "TEST_TEXT", "DEFAULT_MIN_CHANGE"]
