"""Two runs side by side: per cell whether b changed against a, by the test in
``compare_rule`` (a non-serial cell with paired rounds by its speedup, which cancels the drift
of its group between runs; a serial cell or a cell without rounds by its time per unit of work,
with an interval widened for that drift), and "faster / slower / scales better / scales worse /
not significant".

The test is stated in every output (``test_text``). The ratio of time per unit of work (median
wall time / size) is shown for every cell: ``gilbench run`` calibrates sizes per host, so when
sizes differ a non-linear kernel's ratio moves by itself, and the output warns and names
``gilbench run --like A.json`` (A's matrix at A's sizes).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from gilbench import stats
from gilbench.cell import Cell, CellKey

from . import analysis as A
from . import format as F
from .blocks import Badge, Block, Details, Heading, Para, Table, to_html, to_markdown
from .compare_rule import (CHANGED, at_level, DEFAULT_MIN_CHANGE, FDR, JUDGED, MIN_REPEATS, TEST_TEXT,
                           Drift, estimate_drift, fcr_confidence, is_serial, paired_rounds,
                           parse_statuses, problem, scaling_significance, significance,
                           speedup_p_value, speedup_ratio, short_test_text, test_text,
                           time_p_value, time_ratio)

#: a cell's key, with its start method added where one file holds it under several
KeyT = CellKey | tuple


@dataclass
class Row:
    """One matched (or unmatched) cell. ``ratio``/``low``/``high`` are what was judged: b/a of
    the speedup when ``basis`` is "speedup", else b/a of the time per unit of work (the same as
    ``time``). ``time`` is (ratio, low, high) of the time per unit of work for every compared
    cell (information when the speedup was judged)."""

    key: KeyT  # (kernel, variant, executor, workers[, start_method])
    a: dict | None
    b: dict | None
    #: faster | slower | scales better | scales worse | not significant | failed in a | ...
    status: str
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    basis: str | None = None  # "time" | "speedup" (compared cells)
    time: tuple[float, float, float] | None = None
    #: the p-value of "no change" (the test the interval inverts), before the false discovery
    #: rate is held across the comparison's cells
    p: float | None = None
    #: the false discovery rate selected this cell's test (it may still be under --min-change)
    selected: bool = False

    @property
    def compared(self) -> bool:
        return self.status in JUDGED

    @property
    def changed(self) -> bool:
        return self.status in CHANGED


@dataclass
class Comparison:
    """The rows and counts of a comparison of run ``a`` with run ``b``."""

    names: tuple[str, str]
    docs: tuple[dict, dict]
    rows: list[Row] = field(default_factory=list)
    min_change: float = DEFAULT_MIN_CHANGE
    #: the files compared, when known (the hints name them)
    files: tuple[str, str] | None = None
    #: the drift between the runs, from their serial cells (widens the time intervals)
    drift: Drift = field(default_factory=lambda: Drift(0, None))
    #: per family of tests ("speedup", "time"): (discoveries, tests) at the false discovery
    #: rate ``compare_rule.FDR`` (Benjamini-Hochberg within the family)
    selected: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def discoveries(self) -> int:
        """How many tests the false discovery rate selected, both families together."""
        return sum(found for found, _ in self.selected.values())

    @property
    def tests(self) -> int:
        return sum(n for _, n in self.selected.values())

    @property
    def comparable(self) -> int:
        """How many cells were compared (measured, successful, in both files)."""
        return sum(1 for r in self.rows if r.compared)

    @property
    def changed(self) -> int:
        """How many compared cells changed (faster, slower, scales better or worse)."""
        return sum(1 for r in self.rows if r.changed)

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

    def with_status(self, statuses: tuple[str, ...]) -> list[Row]:
        """The significant cells whose status is one of ``statuses`` (``parse_statuses``),
        b's worst change first: what ``gilbench compare --fail-on`` fails on."""
        return sorted((r for r in self.rows if r.changed and r.status in statuses),
                      key=best_first, reverse=True)

    @property
    def not_compared(self) -> int:
        return sum(1 for r in self.rows if not r.compared)

    def summary(self) -> str:
        """'b is faster in N cells, slower in M[, scales better in X, scales worse in Y], not
        significant in K' (+ not compared, + changed in all when speedups were judged)."""
        n = self.count("faster")
        text = (f"{self.names[1]} is faster in {n} cell{'s' if n != 1 else ''}, slower in "
                f"{self.count('slower')}")
        by_speedup = any(r.basis == "speedup" for r in self.rows)
        if by_speedup:
            text += (f", scales better in {self.count('scales better')}, scales worse in "
                     f"{self.count('scales worse')}")
        text += f", not significant in {self.count('not significant')}"
        if by_speedup:
            text += f" (changed: {self.changed} of {self.comparable} compared)"
        if self.not_compared:
            text += f"; {self.not_compared} not compared (failed, missing or too few repeats)"
        return text + f" — {len(self.rows)} cells in all."

    def test_text(self) -> str:
        """The test, and the drift estimated here, in words."""
        return test_text(self.min_change, self.drift, self.selected)

    def short_test_text(self, details: str) -> str:
        """The test in two lines for the terminal, saying why a cell the false discovery rate
        selected is not "changed"; the full text is in ``details`` (the compare.md file)."""
        under = [r for r in self.rows if r.selected and not r.changed]
        excluded = sum(1 for r in under if r.low is not None and (r.low > 1 or r.high < 1))
        return short_test_text(self.min_change, self.discoveries, self.tests, excluded,
                               len(under) - excluded, details)


def _keyed(doc: dict) -> dict[KeyT, dict]:
    """Cells by (kernel, variant, executor, workers); the start method joins the key only where
    one file holds the same cell under several start methods."""
    base: dict[KeyT, list[dict]] = {}
    for c in doc["cells"]:
        base.setdefault(Cell.read(c).key, []).append(c)
    out: dict[KeyT, dict] = {}
    for k, cells in base.items():
        if len(cells) == 1:
            out[k] = cells[0]
        else:
            for c in cells:
                out[k + (c.get("start_method") or "-",)] = c
    return out


def _status_when_not_compared(a: dict | None, b: dict | None, names: tuple[str, str]
                              ) -> str | None:
    """"only in a", "failed in b", "too few repeats" ... or None when both can be compared."""
    if a is None or b is None:
        return f"only in {names[0] if b is None else names[1]}"
    pa, pb = problem(a), problem(b)
    if not (pa or pb):
        return None
    if pa == "failed" and pb == "failed":
        return "failed in both"
    if "failed" in (pa, pb):
        return f"failed in {names[0] if pa == 'failed' else names[1]}"
    return "too few repeats"


def compare(doc_a: dict, doc_b: dict, names: tuple[str, str] = ("a", "b"),
            min_change: float = DEFAULT_MIN_CHANGE) -> Comparison:
    """Match the cells of two results documents and judge each matched pair by the test of
    ``compare_rule`` with ``min_change`` (default 5%)."""
    if not (isinstance(min_change, (int, float)) and 0 <= min_change < 1):
        raise ValueError(f"min_change must be a fraction in [0, 1), not {min_change!r}")
    ka, kb = _keyed(doc_a), _keyed(doc_b)
    both = {"cells": doc_a["cells"] + doc_b["cells"]}
    order = {k: i for i, k in enumerate(A.kernel_names(both))}
    executor_key = A.executor_sort_key(both)
    keys = sorted(set(ka) | set(kb), key=lambda k: (
        order[k[0]], A.variant_sort_key(k[1]), executor_key(k[2]), k[3], k[4:]))
    status = {k: _status_when_not_compared(ka.get(k), kb.get(k), names) for k in keys}
    times = {k: time_ratio(ka[k], kb[k]) for k in keys if status[k] is None}
    # the drift between runs, from the serial cells: their ratio is drift plus real change
    drift = estimate_drift([math.log(t[0]) for k, t in times.items() if is_serial(ka[k])])
    serials = ([Cell.read(c) for c in doc_a["cells"] if is_serial(c)],  # read once, not per
               [Cell.read(c) for c in doc_b["cells"] if is_serial(c)])  # cell paired with them
    comp = Comparison(names, (doc_a, doc_b), min_change=float(min_change), drift=drift)
    # first every compared cell's test (p-value), then the false discovery rate across them
    tests: dict[KeyT, tuple] = {}
    for k in keys:
        if status[k] is not None:
            continue
        a, b = ka[k], kb[k]
        time = drift.widen(*times[k])
        pairs = (None, None) if is_serial(a) else (paired_rounds(a, serials[0]),
                                                    paired_rounds(b, serials[1]))
        if pairs[0] and pairs[1]:
            tests[k] = ("speedup", speedup_p_value(*pairs), pairs, time)
        else:
            tests[k] = ("time", time_p_value(*time), None, time)
    # two families, each answering its own question (did the scaling change; did the time):
    # the false discovery rate is held within each
    cut, level = {}, {}
    for basis in ("speedup", "time"):
        ps = sorted(t[1] for t in tests.values() if t[0] == basis)
        found = stats.benjamini_hochberg(ps, FDR)
        cut[basis] = ps[found - 1] if found else -1.0
        level[basis] = fcr_confidence(found, len(ps))
        comp.selected[basis] = (found, len(ps))
    for k in keys:
        a, b = ka.get(k), kb.get(k)
        if status[k] is not None:
            comp.rows.append(Row(k, a, b, status[k]))
            continue
        basis, p, pairs, time = tests[k]
        selected = p <= cut[basis]
        if basis == "speedup":
            # a selected cell shows its interval at the false-coverage-rate level it was
            # selected at; the others their 95% interval
            ratio, low, high = speedup_ratio(*pairs, confidence=level[basis] if selected
                                             else 0.95)
            judged = scaling_significance(ratio, low, high, min_change) if selected \
                else "not significant"
        else:
            if selected:
                ratio, low, high = at_level(*time, level[basis])
            else:
                ratio, low, high = time
            judged = significance(ratio, low, high, min_change) if selected \
                else "not significant"
        comp.rows.append(Row(k, a, b, judged, ratio, low, high, basis, time, p, selected))
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


#: badge colours: a better speedup is good news like a shorter time
STATUS_CODES = {"faster": "faster", "slower": "slower", "scales better": "faster",
                "scales worse": "slower", "not significant": "not-significant"}


def _speedup(c: dict | None) -> str:
    if c is None:
        return "—"
    if A.family(c) == "serial":
        return "1 (serial)"
    if A.is_failed(c):
        return "failed"
    return F.fmt_interval(Cell.read(c).speedup)


def change_words(status: str, ratio: float | None) -> str:
    """'1.25× faster', 'scales 1.12× better', 'not significant' ... for a status and its ratio
    b/a (of times, or of speedups for "scales ...")."""
    return {"faster": f"{1 / ratio:.2f}× faster" if ratio else "faster",
            "slower": f"{ratio:.2f}× slower",
            "scales better": f"scales {ratio:.2f}× better",
            "scales worse": f"scales {1 / ratio:.2f}× worse" if ratio else "scales worse",
            }.get(status, status)


def _words(r: Row) -> str:
    return change_words(r.status, r.ratio)


def row_cells(r: Row) -> list:
    """The cells of one row of ``HEADER``."""
    k = r.key
    label = f"{k[2]}" + (f" ({k[4]})" if len(k) > 4 else "")
    med = [F.fmt_time(c.get("median_s")) if c is not None else "—" for c in (r.a, r.b)]
    if r.compared:
        time = F.fmt_ratio_interval(*r.time)
        if r.a["size"] != r.b["size"]:
            time += " ≠size"
        speedup = F.fmt_ratio_interval(r.ratio, r.low, r.high) if r.basis == "speedup" else "—"
        badge = Badge(STATUS_CODES[r.status], _words(r),
                      title=f"{r.status} (judged on the {r.basis})")
    else:
        time = speedup = "—"
        code = "failed" if r.status.startswith("failed") else "missing"
        badge = Badge(code, r.status)
    return [k[0], k[1], label, str(k[3]), med[0], med[1], time, speedup, badge,
            _speedup(r.a), _speedup(r.b)]


HEADER = ["kernel", "variant", "executor", "W", "median a", "median b", "time b/a [95%]",
          "speedup b/a [95%]", "b vs a", "speedup a", "speedup b"]


def row_line(r: Row) -> str:
    """One changed cell on one line: 'primes cython-nogil threads W=2: scales 1.98× worse
    (speedup b/a 0.504 [0.49–0.52])'."""
    k = r.key
    executor = k[2] + (f" ({k[4]})" if len(k) > 4 else "")
    return (f"{k[0]} {k[1]} {executor} W={k[3]}: {_words(r)} "
            f"({r.basis} b/a {F.fmt_ratio_interval(r.ratio, r.low, r.high)})")


def best_first(r: Row) -> float:
    """Sort key of changed rows: b's best change first (time down, or speedup up)."""
    return r.ratio if r.basis == "time" else 1 / r.ratio


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
        detail = "" if j.verdict.code == "failed" else F.fmt_interval(Cell.read(j.cell).speedup)
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
        Para(comp.test_text(), "note"),
    ]
    for name, doc in zip(comp.names, comp.docs):
        busy = A.contention(doc)
        if busy:  # a contended run makes every ratio against it suspect
            blocks.append(Para(f"Run *{name}*: {busy}", "warning"))
    if comp.sizes_differ:  # marked ≠size in the tables
        blocks.append(Para(comp.sizes_warning(), "warning"))
    blocks += verdict_changes(comp)
    significant = sorted((r for r in comp.rows if r.changed), key=best_first)
    blocks.append(Heading(2, "Significant differences", "significant"))
    if significant:
        rows = []
        for r in significant:
            k, v, e, w, _ma, _mb, time, speedup, badge, sa, sb = row_cells(r)
            rows.append([k, v, e, w, time, speedup, badge,
                         f"{sa.split(' [')[0]} → {sb.split(' [')[0]}"])
        blocks.append(Para(f"{len(significant)} cells, {nb}'s best change first."))
        blocks.append(Table(["kernel", "variant", "executor", "W", "time b/a [95%]",
                             "speedup b/a [95%]", "b vs a", "speedup a → b"], rows,
                            ["l", "l", "l", "r", "r", "r", "l", "r"]))
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
                                                                        "r", "r", "r", "l", "r",
                                                                        "r"])],
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


__all__ = ["Comparison", "Row", "Drift", "compare", "significance", "scaling_significance",
           "write_compare", "test_text", "TEST_TEXT", "DEFAULT_MIN_CHANGE", "parse_statuses",
           "row_line"]
