"""The report: from a results document to report.md, report.html and the plots.

``write_report(doc, outdir)`` is the public entry point (``gilbench report`` and
``gilbench run --report DIR`` both call it). The report is built once as blocks
(``gilbench.report.blocks``) and rendered to Markdown and to a self-contained HTML page.
"""

from __future__ import annotations

import os
import re
import statistics
from pathlib import Path

from gilbench import stats
from gilbench._version import __version__
from gilbench.cell import Cell
from gilbench.verdicts import ANOMALY_TEXT, INTERVAL_METHOD, RULE_MARKDOWN

from . import analysis as A
from . import experiments
from . import format as F
from .claims import claims as decide_claims
from .claims import merge_claims
from .headline import headline
from .workload import workload_section
from .workload_builds import interpreters_section
from .blocks import (Badge, Block, Details, Heading, Image, Para, RawMarkdown, Table,
                     to_html, to_markdown)

TITLE = "gilbench report: when do threads use every core here?"


# --------------------------------------------------------------------------------------------
# sections


def _verdict_badge(j: A.Judged, common_w: int) -> Badge:
    v, cell = j.verdict, j.cell
    if v.code == "failed":
        text = A.failure_text(cell)
        detail = text if len(text) <= 48 else text[:47] + "…"
    elif A.is_failed(cell):  # undecided, host busy: not one undisturbed round
        detail = "no undisturbed round"
    else:
        record = Cell.read(cell)
        detail = F.fmt_interval(record.speedup)
        if A.kind(cell) != "io" and record.cpu_utilization is not None:
            detail += f" · {record.cpu_utilization:.2f} cores"
    if j.workers != common_w:
        detail += f" @{j.workers}"
    return _badge(v, cell, detail)


def _badge(v: A.Verdict, cell: dict, detail: str) -> Badge:
    """A verdict badge with its marks: ⚠ undecided or an anomaly (its note in the tooltip),
    ↻N when N disturbed rounds were set aside (kept in the file, never counted)."""
    title = v.why
    if v.note:
        title += f"; anomaly: {v.note}"
        detail += " · anomaly, see *Problems*"
    if A.is_unstable(cell):
        title += f"; wide spread: {A.unstable_text(cell)}"
    redone = A.disturbed(cell)
    if redone:
        detail += f" · {A.DISTURBED_MARK}{redone}"
        title += (f"; {redone} disturbed round{'s' if redone != 1 else ''} set aside (other "
                  "processes used the CPUs; kept in the file, never counted)")
    return Badge(v.code, v.label, title=title, detail=detail,
                 warn=v.unstable or bool(v.note) or v.code == "above-cores")


def verdict_section(doc: dict) -> list[Block]:
    """The verdict matrix (rows kernel × variant, columns executors) and the printed rule."""
    judged = A.judge(doc)
    c = A.usable_cores(doc)
    blocks: list[Block] = [Heading(2, "Verdicts", "verdicts")]
    if not judged:
        blocks.append(Para("No cells besides serial baselines: nothing to judge.", "note"))
        return blocks
    executors = sorted({j.executor for j in judged}, key=A.executor_sort_key(doc))
    common_w = statistics.mode([j.workers for j in judged])
    serial = {(x["kernel"], x["variant"]): x for x in doc["cells"] if A.family(x) == "serial"}
    rows: list[list] = []
    # indexed once: a search of ``judged`` per table cell is quadratic in the cells
    by_key = {}
    for j in judged:
        by_key.setdefault((j.kernel, j.variant, j.executor), j)
    seen = dict.fromkeys((j.kernel, j.variant) for j in judged)
    for k, v in seen:
        s = serial.get((k, v))
        if s is None:
            s_text = "—"
        elif A.is_failed(s) and s.get("error"):
            s_text = "failed"
        else:
            s_text = F.fmt_time(s.get("median_s"))
        row: list = [f"**{k}**", v, s_text]
        for e in executors:
            j = by_key.get((k, v, e))
            row.append("—" if j is None else _verdict_badge(j, common_w))
        rows.append(row)
    blocks.append(Para(
        f"Each cell judged at **{common_w} worker{'s' if common_w != 1 else ''}** "
        f"(the largest count measured ≤ max({c} usable cores, 2); `@W` marks another count), "
        "showing the speedup over serial with its 95% interval and the cores used. "
        "The column *serial* is the baseline's median time. Other worker counts are under "
        "[All numbers](#numbers)."))
    blocks.append(Table(["kernel", "variant", "serial"] + executors, rows,
                        ["l", "l", "r"] + ["l"] * len(executors), css="verdicts"))
    blocks.append(RawMarkdown(RULE_MARKDOWN + A.ceiling_rule(doc), css="rule"))
    return blocks


def plots_section(doc: dict, plots: dict[str, Path]) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Speedup curves", "curves")]
    blocks.append(Para(
        "Colour is the variant (python blue, cython-gil orange, cython-nogil green, numpy purple, "
        "stdlib red); line style the executor family (threads solid, asyncio dotted, processes "
        "dashed); marker the executor. Bands are the 95% intervals, the grey dashed line the "
        "ideal min(W, usable cores) (W for I/O), the red dotted line the usable-core count. "
        "Hollow markers: unstable; red ×: failed.", "note"))
    speedups = [(k, p) for k, p in plots.items() if k.startswith("speedup-")]
    for name, path in speedups:
        kernel = name[len("speedup-"):]
        blocks.append(Image(path, f"speedup vs workers for {kernel}"))
    if not speedups:
        blocks.append(Para("No parallel cells to plot.", "note"))
    for key, heading, anchor, caption in (
        ("utilization", "CPU utilisation", "utilization",
         "Cores actually busy. A speedup without CPU utilisation above 1 is not parallelism "
         "(I/O kernels are left out: waiting uses no CPU). Hatched bars: unstable."),
        ("throughput", "Throughput: python vs cython-nogil", "throughput",
         "The same work on one log axis: how far compiled code is ahead before any threads, and "
         "what each executor adds."),
        ("startup", "Start-up cost", "startup",
         "Pool start-up against the worker count (medians over kernels and variants). Colours "
         "for process pools are the start method (fork blue, forkserver green, spawn red)."),
    ):
        if key == "throughput" and key not in plots and isinstance(doc.get("workload"), dict):
            continue  # the user's function has no python/cython-nogil pair to compare
        blocks.append(Heading(2, heading, anchor))
        if key in plots:
            blocks.append(Image(plots[key], heading, caption))
        else:
            blocks.append(Para("Not measured in this run.", "note"))
        if key == "startup":
            blocks.extend(startup_table(doc))
    return blocks


def startup_table(doc: dict) -> list[Block]:
    groups: dict[tuple[str, str | None, int], list[dict]] = {}
    for x in doc["cells"]:
        if A.is_failed(x) or A.family(x) == "serial":
            continue
        r = Cell.read(x)
        if r.startup_s is None and r.cold_wall_s is None:
            continue
        groups.setdefault((r.executor, r.start_method, r.workers), []).append(x)
    derived = A.startup_is_cold_minus_warm([x for xs in groups.values() for x in xs])
    rows = []
    executor_key = A.executor_sort_key(doc)
    for (e, sm, w), xs in sorted(groups.items(), key=lambda kv: (executor_key(kv[0][0]),
                                                                  kv[0][1] or "", kv[0][2])):
        rs = [Cell.read(x) for x in xs]
        starts = [r.startup_s for r in rs if F.is_number(r.startup_s) and r.startup_s >= 0]
        lost = sum(1 for r in rs if r.startup_note or F.is_number(r.startup_s)
                   and r.startup_s < 0)  # not separable from the warm runs' spread
        firsts = [r.cold_wall_s - r.median_s for r in rs
                  if r.cold_wall_s is not None and r.median_s is not None]
        start = stats.median(starts) if starts else None
        first = stats.median(firsts) if firsts else None
        if start is None and not lost and e not in ("thread-pool", "process-pool"):
            continue
        start_text = F.fmt_time(start) if starts else ("not measurable" if lost else "—")
        if starts and lost:
            start_text += f" ({lost} of {len(xs)} not measurable)"
        rows.append([e, sm or "—", str(w), start_text, F.fmt_startup(first), str(len(xs))])
    if not rows:
        return []
    lost_note = (" A start-up is *not measurable* when the cold call was no slower than "
                 "every warm one: it is smaller than the warm runs' spread.")
    if derived:  # the two columns are the same numbers: show one, and say what it is
        return [Para("The start-up in this file is the first (cold) call minus the warm median: "
                     "pool creation, worker start and the first pickling together." + lost_note,
                     "note"),
                Table(["executor", "start method", "workers", "start-up = cold − warm (median)",
                       "cells"], [r[:3] + r[4:] for r in rows], ["l", "l", "r", "r", "r"])]
    return [Para(lost_note.strip(), "note"),
            Table(["executor", "start method", "workers", "start-up (median)",
                   "cold − warm (median)", "cells"], rows, ["l", "l", "r", "r", "r", "r"])]


def scaling_section(doc: dict) -> list[Block]:
    """Parallel efficiency and the Karp–Flatt serial fraction for each curve."""
    c = A.ceiling(doc)
    blocks: list[Block] = [Heading(2, "Scaling per curve: efficiency and Karp–Flatt", "scaling")]
    curves = {key: cells for key, cells in A.curves(doc["cells"]).items()
              if A.family(cells[0]) != "serial" and A.kind(cells[0]) != "io"}
    ws = sorted({w for cells in curves.values() for w in (Cell.read(x).workers for x in cells)
                 if w >= 2})
    if not curves or not ws:
        blocks.append(Para("No CPU-kernel curves with 2 or more workers.", "note"))
        return blocks
    blocks.append(Para(
        "Per worker count *W*: parallel efficiency *E* = speedup / *p* and the Karp–Flatt "
        "serial fraction *e* = (1/*S* − 1/*p*) / (1 − 1/*p*), with *p* = min(*W*, usable "
        f"cores = {c.cores:g}). *e* near 0: almost all the work ran in parallel; near 1: none did "
        "(the GIL serialised it); above 1: the cell was slower than serial (it lost time "
        "to switching or hand-offs); *e* growing with *W*: overhead that grows with workers. "
        "I/O kernels are left out (their speedup is overlap of waits, not cores)."))
    rows = []
    order = {k: i for i, k in enumerate(A.kernel_names(doc))}
    executor_key = A.executor_sort_key(doc)
    for (k, v, e), cells in sorted(curves.items(), key=lambda kv: (
            order[kv[0][0]], A.variant_sort_key(kv[0][1]), executor_key(kv[0][2]))):
        row = [k, v, e]
        for w in ws:
            cell = next((x for x in cells if Cell.read(x).workers == w), None)
            if cell is None:
                row.append("—")
            elif A.is_failed(cell):
                row.append("failed")
            else:
                eff = A.efficiency(cell, c)
                kf = A.serial_fraction(cell, c)
                row.append(f"E {eff:.2f} · e {kf:.2f}" if kf is not None else f"E {eff:.2f} · e —")
        rows.append(row)
    blocks.append(Details(f"efficiency and Karp–Flatt for {len(rows)} curves", [
        Table(["kernel", "variant", "executor"] + [f"W = {w}" for w in ws], rows,
              ["l", "l", "l"] + ["r"] * len(ws))], open=len(rows) <= 12))
    return blocks


CLAIM_CODES = {"confirmed": "confirmed", "refuted": "refuted", "mixed": "mixed",
               "inconclusive": "inconclusive", "not measured": "not-measured"}


def claims_section(doc: dict, outdir: Path) -> tuple[list[Block], list[Block]]:
    """(claims table blocks, experiment sections)."""
    claims = decide_claims(doc)
    experiment_blocks: list[Block] = []
    if doc.get("experiments"):
        md, extra = experiments.render(doc, outdir)
        claims = merge_claims(claims, extra)
        if md and md.strip():
            experiment_blocks += [Heading(2, "Experiments", "experiments"), RawMarkdown(md)]
    rows = []
    for cl in claims:
        code = CLAIM_CODES.get(cl["verdict"], "not-measured")
        rows.append([cl["claim"], Badge(code, cl["verdict"], title=cl["id"]),
                     cl.get("decided_by") or "—", cl.get("evidence") or "—", f"`{cl['id']}`"])
    counts = {v: sum(1 for cl in claims if cl["verdict"] == v) for v in CLAIM_CODES}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    blocks: list[Block] = [
        Heading(2, "What the article says, and what this host shows", "claims"),
        Para(f"Each classic claim against this run's cells"
             f"{' and experiments' if doc.get('experiments') else ''} ({summary}). A claim's "
             "verdict is the one its evidence gives whatever the undecided cells turn out to "
             "be: *refuted* needs decided cells against it, *mixed* means decided cells on "
             "both sides, *inconclusive* that undecided cells could still change it (the "
             "evidence says what would decide them). Claims about GIL release are decided by "
             "the direct GIL check of each variant (the main thread's pace while the call runs "
             "in another thread), the speedups quoted as support; *decided by* names the "
             "measurement."),
        Table(["claim", "here", "decided by", "evidence from this run", "id"], rows,
              ["l", "c", "l", "l", "l"]),
    ]
    return blocks, experiment_blocks


#: problem status -> (badge code, badge text)
PROBLEM_BADGES = {"failed": ("failed", "failed"), "undecided": ("undecided", "undecided"),
                  "anomaly": ("above-cores", "anomaly"), "unstable": ("partial", "unstable")}


def problems_section(doc: dict) -> list[Block]:
    """Every failed, undecided, anomalous or unstable cell with its reason: nothing is hidden."""
    found = A.problems(doc)
    blocks: list[Block] = [Heading(2, "Problems: failed, undecided and anomalous cells",
                                   "problems")]
    if not found:
        blocks.append(Para("None: every cell finished, agreed with the reference, was decided "
                           "and stayed within the usable cores.", "note"))
        return blocks
    rows = []
    for p in found:
        code, text = PROBLEM_BADGES[p.status]
        if p.status == "failed" and p.cell.get("timed_out"):
            text = "timed out"
        speed = ("" if p.status == "failed" or A.family(p.cell) == "serial" else
                 f" (speedup {F.fmt_interval(p.cell.get('speedup'))})")
        rows.append([A.describe_cell(p.cell), Badge(code, text), p.why + speed])
    n = {s: sum(1 for p in found if p.status == s) for s in PROBLEM_BADGES}
    text = (f"{n['failed']} failed, {n['undecided']} undecided, {n['anomaly']} anomalous, "
            f"{n['unstable']} with a wide spread. Failed cells have no speedup. Undecided ones "
            "keep their median, but their interval still straddles a verdict boundary")
    undecided = [p.cell for p in found if p.status == "undecided"]
    text += f" ({A.more_rounds_hint(doc, undecided)})." if undecided else "."
    text += (f" An anomaly ({ANOMALY_TEXT}, n = min(W, usable cores)) is not a finding: "
             "its checks say what may explain it. A wide spread between rounds (IQR) is a "
             "note: the verdict rests on the paired interval.")
    blocks.append(Para(text))
    blocks.append(Table(["cell (kernel/variant/executor@workers)", "status", "why"], rows))
    return blocks


def numbers_section(doc: dict) -> list[Block]:
    """Every cell's numbers, one collapsible table per kernel."""
    c = A.ceiling(doc)
    # cells timed one at a time (pytest-benchmark) have no paired rounds: a bootstrap interval
    boot = sum(1 for x in doc["cells"] if isinstance(x.get("speedup"), dict)
               and A.family(x) != "serial" and not x.get("rounds"))
    method = f"the paired rounds' 95% interval ({INTERVAL_METHOD})" + (
        f"; {boot} cells timed one at a time, without paired rounds, have a percentile "
        "bootstrap 95% interval instead" if boot else "")
    blocks: list[Block] = [Heading(2, "All numbers", "numbers"), Para(
        "Times are medians of the warm repeats with their interquartile range; speedup = "
        f"T(serial, same variant) / T(cell) with {method}; cores = Σ CPU / wall; "
        f"E and e as above (p = min(W, {c.cores:g})); cold = the first call, start-up "
        "included.", "note")]
    executors = A.executor_order(doc["cells"])
    by_kernel: dict[str, list[dict]] = {}
    for x in doc["cells"]:  # grouped once, not searched per kernel
        by_kernel.setdefault(x["kernel"], []).append(x)
    for kernel in A.kernel_names(doc):
        cells = sorted(by_kernel.get(kernel, []), key=lambda x: A.sort_key(x, executors))
        unit = next((x.get("unit") for x in cells if x.get("unit")),
                    A.kernel_facts(doc, kernel).get("unit", ""))
        rows = []
        for x in cells:
            r = Cell.read(x)
            failed = A.is_failed(x)
            fam = A.family(x)
            if failed and r.error is not None or failed and r.timed_out:
                status = Badge("failed", "timed out" if r.timed_out else "failed",
                               detail="")
            elif failed:
                status = Badge("failed", "failed")
            elif fam == "serial":
                status = Badge("baseline", "baseline", warn=A.is_unstable(x))
            elif r.workers < 2:
                status = Badge("single", "1 worker", warn=A.is_unstable(x))
            else:
                status = _badge(A.verdict(x, c), x, "")
            eff = A.efficiency(x, c) if fam != "serial" else None
            kf = A.serial_fraction(x, c)
            rows.append([
                r.variant, r.executor, str(r.workers), r.start_method or "",
                f"{r.size:,}", F.fmt_time(r.median_s), F.fmt_time(r.iqr_s),
                F.fmt_interval(r.speedup) if fam != "serial" else "1 (baseline)",
                F.fmt_cores(r.cpu_utilization), "—" if eff is None else f"{eff:.2f}",
                "—" if kf is None else f"{kf:.2f}",
                F.fmt_rate(A.throughput(x), unit) if not failed else "—",
                F.fmt_time(r.cold_wall_s),
                "not measurable" if r.startup_note else F.fmt_startup(r.startup_s),
                status,
            ])
        table = Table(["variant", "executor", "W", "start", "size", "median", "IQR",
                       "speedup [95%]", "cores", "E", "e", "throughput", "cold", "start-up",
                       "verdict"], rows,
                      ["l", "l", "r", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"])
        blocks.append(Details(f"{kernel} ({len(cells)} cells)", [Heading(3, kernel), table]))
    return blocks


def run_section(doc: dict) -> list[Block]:
    host = doc.get("host", {})
    cfg = doc.get("config", {})
    rows = [[k, F.fmt_value(v)] for k, v in host.items()]
    cfg_rows = [[k, F.fmt_value(v)] for k, v in cfg.items()]
    started = doc.get("created", "?")
    finished = doc.get("finished") or "not finished (interrupted?)"
    la0, la1 = host.get("load_average_start"), host.get("load_average_end")
    load = ""
    if la0 or la1:
        load = f" Load average at start {F.fmt_value(la0)}, at end {F.fmt_value(la1)}."
    command = " ".join(doc.get("command") or []) or "?"
    return [
        Heading(2, "The run", "run"),
        Para(f"Started {started}, finished {finished}; {len(doc['cells'])} cells. "
             f"Command: `{command}`.{load}"),
        Details("configuration", [Table(["setting", "value"], cfg_rows)]),
        Details("host and interpreter", [Table(["field", "value"], rows)]),
    ]



# --------------------------------------------------------------------------------------------


def build(doc: dict, outdir: Path, plots: dict[str, Path]) -> list[Block]:
    """All the report's blocks, in reading order."""
    head = headline(doc)
    claims_blocks, experiment_blocks = claims_section(doc, outdir)
    if isinstance(doc.get("workload"), dict):
        # the user's function (`gilbench try`): the article's claims are about the kernels,
        # and the start-up claim about them too; nothing in them concerns the function
        claims_blocks = []
    has_cells = bool(doc["cells"])
    sections = [("Verdicts", "verdicts"), ("Claims", "claims"), ("Problems", "problems"),
                ("Curves", "curves"), ("Scaling", "scaling"), ("Experiments", "experiments"),
                ("Numbers", "numbers"), ("Run", "run")]
    if not has_cells:  # an experiments-only file (`gilbench claims`): no cell sections
        sections = [s for s in sections if s[1] in ("claims", "experiments", "run")]
    if not experiment_blocks:
        sections = [s for s in sections if s[1] != "experiments"]
    if not claims_blocks:
        sections = [s for s in sections if s[1] != "claims"]
    if isinstance(doc.get("interpreters"), dict):  # `gilbench try --python`: side by side
        sections.insert(0, ("Interpreters", "interpreters"))
    toc = " · ".join(f"[{t}](#{a})" for t, a in sections)
    blocks: list[Block] = [
        Heading(1, TITLE, "top"),
        Para(head["host"], "host"),
        *([Para(head["warning"], "warning")] if head["warning"] else []),
        Para(head["answer"], "lead"),
        *([Para(head["noise"], "note")] if head.get("noise") else []),
        Para(toc, "toc"),
    ]
    blocks += interpreters_section(doc)  # `gilbench try --python`: the builds side by side
    blocks += workload_section(doc)  # own-code runs (`gilbench try`): the advice comes first
    if has_cells:
        blocks += verdict_section(doc)
    blocks += claims_blocks
    if has_cells:
        blocks += problems_section(doc)
        blocks += plots_section(doc, plots)
        blocks += scaling_section(doc)
    blocks += experiment_blocks
    if has_cells:
        blocks += numbers_section(doc)
    blocks += run_section(doc)
    return blocks


def write_report(doc: dict, outdir: str | os.PathLike) -> dict[str, Path]:
    """Write report.md, report.html and the plots (PNG) into ``outdir``.

    ``doc`` is a validated results document (``gilbench.results.read`` or
    ``gilbench.report.load_any``). Returns every file written, name -> path:
    ``"markdown"``, ``"html"`` and one ``"plot:NAME"`` per PNG (``plot:speedup-primes``, ...).
    """
    from . import plots as P  # matplotlib is imported only when a report is written

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    plot_paths = P.write_plots(doc, outdir)
    blocks = build(doc, outdir, plot_paths)
    md_path = outdir / "report.md"
    html_path = outdir / "report.html"
    md_path.write_text(to_markdown(blocks), encoding="utf-8")
    footer = (f"Written by gilbench {__version__} from a results file created "
              f"{doc.get('created', '?')}. Self-contained: plots are embedded, nothing is "
              "fetched.")
    html_path.write_text(to_html(TITLE, blocks, outdir, footer), encoding="utf-8")
    out: dict[str, Path] = {"markdown": md_path, "html": html_path}
    out.update({f"plot:{name}": p for name, p in plot_paths.items()})
    for b in blocks:  # the experiments plug-in's plots, as its Markdown refers to them
        if isinstance(b, RawMarkdown):
            for name in re.findall(r"!\[[^\]]*\]\(([^)\s/]+\.png)\)", b.text):
                if (outdir / name).is_file():
                    out.setdefault(f"plot:{Path(name).stem}", outdir / name)
    return out
