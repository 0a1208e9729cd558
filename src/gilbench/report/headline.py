"""The headline of a report: the host line and a one-paragraph answer drawn from the verdicts."""

from __future__ import annotations

from gilbench.verdicts import BORDERLINE_TEXT

from .analysis import (Judged, busy_banner, contention, describe_cell, executor_sort_key,
                       judge, kind, noise_line, problems, usable_cores, variant_sort_key)
from .format import fmt_speedup_range, join_words


def headline(doc: dict) -> dict[str, str]:
    """``{"host", "answer", "warning", "noise"}``: the host line, a one-paragraph answer drawn
    from the same verdicts as the table, a warning when the host was busy ("" if not) and the
    host-noise line ("" for files without noise accounting); Markdown inline text."""
    host = doc.get("host", {})
    c = usable_cores(doc)
    gil = host.get("gil_enabled")
    build = host.get("build") or ("free-threaded" if host.get("py_gil_disabled") else "default")
    quota = host.get("cgroup_cpu_quota")
    cores = f"{c} usable core{'s' if c != 1 else ''}"
    detail = []
    if host.get("logical_cores") is not None:
        detail.append(f"{host['logical_cores']} logical")
    affinity = host.get("affinity_cores")
    if affinity is not None and affinity != host.get("logical_cores"):
        detail.append(f"affinity {host['affinity_cores']}")
    if quota is not None:
        detail.append(f"cgroup quota {quota:g}")
    if detail:
        cores += f" ({', '.join(detail)})"
    python = f"{host.get('python_implementation', 'Python')} {host.get('python_version', '?')}"
    gil_words = "GIL on" if gil else ("GIL off" if gil is not None else "GIL state unknown")
    host_line = (f"**{host.get('cpu_model', 'unknown CPU')}** · {cores} · {python}, "
                 f"{build} build, **{gil_words}**")

    judged = judge(doc)
    sentences: list[str] = []
    if c < 2:
        sentences.append(
            "This host has **1 usable core**, so nothing can run in parallel here: the verdicts "
            "below show only the cost of workers and the overlap of waits.")
    if judged:
        sentences += _findings(doc, judged, c)
    elif doc["cells"]:
        sentences.append("The file holds no cells besides the serial baselines, so there is "
                         "nothing to judge.")
    elif doc.get("experiments"):
        sentences.append("This file holds experiments only "
                         f"({join_words(sorted(doc['experiments']))}), no speedup cells: "
                         "see the claims and the experiments below.")
    else:
        sentences.append("This file holds no cells yet (the run was interrupted before the "
                         "first cell finished, or is still running).")
    found = problems(doc)
    counts = {s: sum(1 for p in found if p.status == s)
              for s in ("failed", "anomaly", "unstable")}
    words = {"failed": "failed", "anomaly": "anomalous",
             "unstable": "with a wide spread between rounds"}
    named = [f"{n} {words[s]}" for s, n in counts.items() if n]
    if named:
        sentences.append(f"Of the cells, {join_words(named)} (listed under *Problems* with "
                         "the undecided ones).")
    if not doc.get("finished"):
        sentences.append("The run did not finish (interrupted or still running): "
                         "only the finished cells are shown.")
    warning = " ".join(w for w in (busy_banner(doc), contention(doc)) if w)
    return {"host": host_line, "answer": " ".join(sentences), "warning": warning,
            "noise": noise_line(doc)}


def _findings(doc: dict, judged: list[Judged], cores: int) -> list[str]:
    """Sentences drawn from the same verdicts as the table: each names only cells whose
    verdict says so, quotes only those cells' medians, and counts undecided cells apart."""
    executor_key = executor_sort_key(doc)
    cpu = [j for j in judged if kind(j.cell) != "io"]
    by_pair: dict[tuple[str, str], list[Judged]] = {}
    for j in cpu:
        # a verdict with a note is an anomaly (named below), never a plain finding
        if j.verdict.decided and j.verdict.code in _GROUP and not j.verdict.note:
            by_pair.setdefault((j.variant, j.executor), []).append(j)
    groups: dict[str, list[tuple[str, str, list[float]]]] = {g: [] for g in _SENTENCE}
    split: list[str] = []
    for (v, e), js in sorted(by_pair.items(), key=lambda kv: (variant_sort_key(kv[0][0]),
                                                               executor_key(kv[0][1]))):
        kinds = {_GROUP[j.verdict.code] for j in js}
        if len(kinds) == 1:
            groups[kinds.pop()].append((v, e, [_median(j) for j in js]))
        else:
            split.append(f"{v} with {e} (" + ", ".join(
                f"{j.kernel}: {j.verdict.label} {_median(j):.2f}×" for j in js) + ")")
    all_variants = {j.variant for j in cpu}
    w_counts = sorted({j.workers for j in cpu})
    at = f" at {join_words([str(w) for w in w_counts])} workers" if w_counts else ""
    out = []
    if groups["parallel"]:
        out.append(f"Reached several cores here{at}: "
                   f"{_pairs_text(groups['parallel'], all_variants)}.")
    elif any(j.verdict.decided for j in cpu) and cores >= 2 \
            and not any(j.verdict.code == "parallel" for j in cpu):
        out.append(f"No cell was judged parallel on CPU work{at}.")
    if split:
        out.append(f"Depends on the kernel: {join_words(_shorten(split))}.")
    if groups["partial"]:
        out.append("A real gain, short of parallel: "
                   f"{_pairs_text(groups['partial'], all_variants)}.")
    if groups["none"]:
        out.append("No gain over serial (concurrent only or slower; medians in brackets): "
                   f"{_pairs_text(groups['none'], all_variants)}.")
    above = [j for j in judged if j.verdict.code == "above-cores"
             or (j.verdict.decided and j.verdict.note)]
    if above:
        out.append("Not a finding but an anomaly to explain (above the core count: "
                   f"beyond the {cores} usable cores): " + ", ".join(
                       f"{describe_cell(j.cell)} {_median(j):.2f}×" for j in above[:4])
                   + (f" and {len(above) - 4} more" if len(above) > 4 else "")
                   + " (the checks are under *Problems*).")
    out += _io_sentences(judged)
    borderline = [j for j in judged if j.verdict.code == "borderline"]
    if borderline:
        out.append("On the line between two verdicts (the interval within "
                   f"{BORDERLINE_TEXT} of the boundary): "
                   + ", ".join(f"{describe_cell(j.cell)} {_median(j):.2f}× ({j.verdict.label})"
                               for j in borderline[:4])
                   + (f" and {len(borderline) - 4} more" if len(borderline) > 4 else "") + ".")
    undecided = [j for j in judged if j.verdict.code == "undecided" and not j.verdict.host_busy]
    busy = [j for j in judged if j.verdict.host_busy]
    if undecided:
        n_all = sum(1 for p in problems(doc) if p.status == "undecided"
                    and not p.why.startswith("host busy"))
        also = f" ({n_all} cells in all, other worker counts included)" if n_all > len(
            undecided) else ""
        out.append(f"**{len(undecided)} of the {len(judged)}** verdicts in the table are "
                   f"**undecided — on a boundary**{also}: their intervals still straddle a "
                   "boundary after the round budget (medians in the table, reasons under "
                   "*Problems*); the sentences above leave them out.")
    if busy:
        out.append(f"**{len(busy)} of the {len(judged)}** are **undecided — host busy**: other "
                   "processes disturbed too many of their rounds, so no verdict is guessed; "
                   "measure them again on a quieter host with `gilbench run --resume FILE`.")
    return out


#: verdict code -> the headline sentence it belongs to
_GROUP = {"parallel": "parallel", "partial": "partial", "concurrent": "none", "slower": "none"}
_SENTENCE = ("parallel", "partial", "none")


def _median(j: Judged) -> float:
    return float(j.cell["speedup"]["median"])


def _io_sentences(judged: list[Judged]) -> list[str]:
    """One sentence per I/O kernel: which decided cells overlapped their waits, which not."""
    out = []
    io_kernels = list(dict.fromkeys(j.kernel for j in judged if kind(j.cell) == "io"))
    for k in io_kernels:
        io = [j for j in judged if j.kernel == k and j.verdict.decided]
        vs = {j.variant for j in io}
        ov = [(j.variant, j.executor, [_median(j)]) for j in io if j.verdict.code == "parallel"]
        no = [(j.variant, j.executor, [_median(j)]) for j in io
              if j.verdict.code in ("concurrent", "slower")]
        parts = []
        if ov:
            parts.append(f"overlapped for {_pairs_text(ov, vs, bold=False)}")
        if no:
            parts.append(f"did not overlap for {_pairs_text(no, vs, bold=False)}")
        if parts:
            out.append(f"Waits ({k}) " + "; ".join(parts) + ".")
    return out


def _pairs_text(pairs: list[tuple[str, str, list[float]]], all_variants: set[str],
                bold: bool = True) -> str:
    """'python and cython-gil with threads and thread-pool (0.93–0.98×); …': variants that
    share the same executors are named together, so the sentence stays short."""
    by_variant: dict[str, list[str]] = {}
    speeds: dict[str, list[float]] = {}
    for v, e, sp in pairs:
        by_variant.setdefault(v, []).append(e)
        speeds.setdefault(v, []).extend(sp)
    groups: dict[tuple[str, ...], list[str]] = {}
    for v, es in by_variant.items():
        groups.setdefault(tuple(es), []).append(v)
    parts = []
    for es, vs in groups.items():
        if len(vs) > 1 and set(vs) == all_variants:
            who = "every variant"
        else:
            who = join_words([f"**{v}**" if bold else v for v in vs])
        sp = [x for v in vs for x in speeds[v]]
        parts.append(f"{who} with {join_words(list(es))}" + (f" ({fmt_speedup_range(sp)})" if sp else ""))
    return "; ".join(parts)


def _shorten(items: list[str], limit: int = 8) -> list[str]:
    return items if len(items) <= limit else items[:limit] + [f"{len(items) - limit} more"]
