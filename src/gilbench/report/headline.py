"""The headline of a report: the host line and a one-paragraph answer drawn from the verdicts."""

from __future__ import annotations

from gilbench.cell import Cell
from gilbench.verdicts import BORDERLINE_TEXT

from .analysis import (Judged, busy_banner, contention, describe_cell, family, judge, kind,
                       noise_line, problems, usable_cores, variant_sort_key)
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
        sentences.append(f"Under *Problems* also: {join_words(named)}.")
    if not doc.get("finished"):
        sentences.append("The run did not finish (interrupted or still running): "
                         "only the finished cells are shown.")
    warning = " ".join(w for w in (busy_banner(doc), contention(doc)) if w)
    return {"host": host_line, "answer": " ".join(sentences), "warning": warning,
            "noise": noise_line(doc)}


def _findings(doc: dict, judged: list[Judged], cores: int) -> list[str]:
    """Sentences drawn from the same verdicts as the table, threads first, then processes, then
    the other families, waits, anomalies and what was undecided: each names only cells whose
    verdict says so and quotes only those cells' medians."""
    cpu = [j for j in judged if kind(j.cell) != "io"]
    # a verdict with a note is an anomaly (named below), never a plain finding
    found = [j for j in cpu if j.verdict.decided and j.verdict.code in _GROUP
             and not j.verdict.note]
    gil_on = doc.get("host", {}).get("gil_enabled")
    families = sorted({family(j.cell) for j in found},
                      key=lambda f: (_FAMILY_ORDER.index(f) if f in _FAMILY_ORDER else 9, f))
    out = [_family_sentence(f, [j for j in found if family(j.cell) == f], cores, gil_on)
           for f in families]
    if cores >= 2 and found and not any(j.verdict.code == "parallel" for j in cpu):
        out.append(f"No cell ran in parallel on CPU work (on the {cores} cores).")
    out += _io_sentences(judged)
    above = [j for j in judged if j.verdict.code == "above-cores"
             or (j.verdict.decided and j.verdict.note)]
    if above:
        io = {kind(j.cell) == "io" for j in above}
        where = " or ".join(([f"above the {cores} usable cores"] if False in io else [])
                            + (["above the waits the workers can overlap"] if True in io else []))
        out.append(f"Not a finding but an anomaly ({where}; checks under *Problems*): "
                   + _cells_text(above) + ".")
    borderline = [j for j in judged if j.verdict.code == "borderline"]
    if borderline:
        out.append(f"On a line between two verdicts (within {BORDERLINE_TEXT}): "
                   + _cells_text(borderline, labels=True) + ".")
    undecided = [j for j in judged if j.verdict.code == "undecided" and not j.verdict.host_busy]
    busy = [j for j in judged if j.verdict.host_busy]
    parts = []
    if undecided:
        n_all = sum(1 for p in problems(doc) if p.status == "undecided"
                    and not p.why.startswith("host busy"))
        also = f" ({n_all} cells at all worker counts)" if n_all > len(undecided) else ""
        parts.append(f"**{len(undecided)} of {len(judged)}** verdicts **undecided — on a "
                     f"boundary**{also}")
    if busy:
        parts.append(f"**{len(busy)}** are **undecided — host busy** (measure them again: "
                     "`gilbench run --resume FILE`)")
    if parts:
        out.append("; ".join(parts) + "; see *Problems*.")
    return out


#: verdict code -> the part of a family's sentence it belongs to
_GROUP = {"parallel": "parallel", "partial": "partial", "concurrent": "none", "slower": "none"}
_FAMILY_ORDER = ("threads", "processes", "asyncio", "interpreters")
_FAMILY_NAME = {"threads": "Threads", "processes": "Process pools", "asyncio": "asyncio",
                "interpreters": "Subinterpreters"}


def _family_sentence(fam: str, found: list[Judged], cores: int, gil_on: bool | None) -> str:
    """'Threads reached the 2 cores when the code released the GIL: **cython-nogil** (1.88×);
    no gain: **python** (0.99×).' One family's decided CPU verdicts, per variant; a variant
    whose verdicts differ between kernels or executors is named apart ("depends on the
    kernel")."""
    by_variant: dict[str, list[Judged]] = {}
    for j in sorted(found, key=lambda j: variant_sort_key(j.variant)):
        by_variant.setdefault(j.variant, []).append(j)
    parts: dict[str, list[tuple[str, list[float]]]] = {g: [] for g in _PART_WORDS}
    for v, js in by_variant.items():
        groups = {_GROUP[j.verdict.code] for j in js}
        part = groups.pop() if len(groups) == 1 else "depends"
        parts[part].append((v, [_median(j) for j in js]))
    if fam == "threads":
        head = ("Threads reached the {n} cores when the code released the GIL" if gil_on
                is not False else "Threads (GIL off) reached the {n} cores")
    else:
        head = _FAMILY_NAME.get(fam, fam) + " reached the {n} cores"
    words = []
    for part, items in parts.items():
        if not items:
            continue
        names = ("every variant" if len(items) == len(by_variant) > 1
                 else join_words([f"**{v}**" for v, _ in items]))
        if part == "depends":
            words.append(f"{_PART_WORDS[part]} {join_words([v for v, _ in items])}")
            continue
        speeds = fmt_speedup_range([x for _, sp in items for x in sp])
        words.append(f"{_PART_WORDS[part]} {names} ({speeds})")
    if parts["parallel"]:
        words[0] = head.format(n=cores) + ": " + words[0].removeprefix(
            _PART_WORDS["parallel"] + " ")
        return "; ".join(words) + "."
    return f"{_FAMILY_NAME.get(fam, fam)}: " + "; ".join(words) + "."


#: how a family's sentence introduces each group of variants
_PART_WORDS = {"parallel": "parallel:", "partial": "short of it:",
               "none": "no gain:", "depends": "depends on the kernel:"}


def _cells_text(js: list[Judged], labels: bool = False, limit: int = 3) -> str:
    """'checksum/stdlib/threads@2 2.60×, …' (with the verdict label), the first ``limit``."""
    text = ", ".join(f"{describe_cell(j.cell)} {_median(j):.2f}×"
                     + (f" ({j.verdict.label.removeprefix('borderline ').strip('()')})"
                        if labels else "") for j in js[:limit])
    return text + (f" and {len(js) - limit} more" if len(js) > limit else "")


def _median(j: Judged) -> float:
    return float(Cell.read(j.cell).speedup.median)


def _io_sentences(judged: list[Judged]) -> list[str]:
    """One sentence per I/O kernel: how many decided cells overlapped their waits, and which
    did not."""
    out = []
    io_kernels = list(dict.fromkeys(j.kernel for j in judged if kind(j.cell) == "io"))
    for k in io_kernels:
        io = [j for j in judged if j.kernel == k and j.verdict.decided]
        vs = {j.variant for j in io}
        ov = [_median(j) for j in io if j.verdict.code == "parallel"]
        no = [(j.variant, j.executor, []) for j in io
              if j.verdict.code in ("concurrent", "slower")]
        if not (ov or no):
            continue
        text = f"Waits ({k}) overlapped in {len(ov)} of {len(io)} cells"
        text += f" ({fmt_speedup_range(ov)})" if ov else ""
        if no:
            text += f"; not {_pairs_text(no, vs, bold=False)}"
        out.append(text + ".")
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
