"""The headline of a report: the host line and a one-paragraph answer drawn from the verdicts."""

from __future__ import annotations

from .analysis import (Judged, contention, executor_sort_key, is_failed, is_unstable, judge,
                       kind, usable_cores, variant_sort_key)
from .format import fmt_speedup_range, join_words


def headline(doc: dict) -> dict[str, str]:
    """``{"host", "answer", "warning"}``: the host line, a one-paragraph answer drawn from the
    verdicts, and a warning when the host was busy ("" if not); Markdown inline text."""
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
    executor_key = executor_sort_key(doc)
    sentences: list[str] = []
    if c < 2:
        sentences.append(
            "This host has **1 usable core**, so nothing can run in parallel here: the verdicts "
            "below show only the cost of workers and the overlap of waits.")
    by_pair: dict[tuple[str, str], list[Judged]] = {}
    for j in judged:
        if kind(j.cell) != "io":
            by_pair.setdefault((j.variant, j.executor), []).append(j)

    reached: list[tuple[str, str, list[float]]] = []
    partly_groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    not_reached: list[tuple[str, str, list[float]]] = []
    gain: list[tuple[str, str, list[float]]] = []
    noisy: list[tuple[str, str, list[float]]] = []
    for (v, e), js in sorted(by_pair.items(), key=lambda kv: (variant_sort_key(kv[0][0]),
                                                               executor_key(kv[0][1]))):
        # unstable cells do not speak for a pair: their verdicts are tentative
        ok = [j for j in js if j.verdict.code != "failed" and not j.verdict.unstable]
        if not ok:
            if any(j.verdict.code != "failed" for j in js):
                noisy.append((v, e, []))
            continue
        par = [j for j in ok if j.verdict.code == "parallel"]
        speeds = [float(j.cell["speedup"]["median"]) for j in ok]
        if len(par) == len(ok):
            reached.append((v, e, speeds))
        elif not par and any(j.verdict.code == "partial" for j in ok):
            gain.append((v, e, speeds))
        elif par:
            partly_groups.setdefault(
                (v, tuple(f"{j.kernel}: {j.verdict.label}" for j in ok if j not in par)),
                []).append(e)
        else:
            not_reached.append((v, e, speeds))
    all_variants = {j.variant for j in judged if kind(j.cell) != "io"}
    partly = [f"{v} with {join_words(es)} (not on {', '.join(_shorten(list(miss), 3))})"
              for (v, miss), es in partly_groups.items()]

    if judged:
        w_counts = sorted({j.workers for j in judged if kind(j.cell) != "io"})
        at = f" at {join_words([str(w) for w in w_counts])} workers" if w_counts else ""
        if reached:
            sentences.append(f"Reached several cores here{at}: "
                             f"{_pairs_text(reached, all_variants)}.")
        elif by_pair and c >= 2:
            sentences.append(f"No variant/executor pair reached several cores on CPU work{at}.")
        if partly:
            sentences.append(f"Parallel on some kernels only: {join_words(_shorten(partly))}.")
        if gain:
            sentences.append(f"A real gain, short of parallel: {_pairs_text(gain, all_variants)}.")
        if not_reached:
            sentences.append("No clear gain over serial (concurrent only or slower; medians "
                             f"in brackets): {_pairs_text(not_reached, all_variants)}.")
        if noisy:
            sentences.append("Too noisy to judge (every cell unstable): "
                             f"{_pairs_text(noisy, all_variants, bold=False)}.")
        io_kernels = sorted({j.kernel for j in judged if kind(j.cell) == "io"},
                            key=lambda k: [x.kernel for x in judged].index(k))
        for k in io_kernels:
            io = [j for j in judged if j.kernel == k and j.verdict.code != "failed"
                  and not j.verdict.unstable]
            vs = {j.variant for j in io}
            ov = [(j.variant, j.executor, [float(j.cell["speedup"]["median"])])
                  for j in io if j.verdict.code == "parallel"]
            no = [(j.variant, j.executor, [float(j.cell["speedup"]["median"])])
                  for j in io if j.verdict.code in ("concurrent", "slower")]
            parts = []
            if ov:
                parts.append(f"overlapped for {_pairs_text(ov, vs, bold=False)}")
            if no:
                parts.append(f"did not overlap for {_pairs_text(no, vs, bold=False)}")
            if parts:
                sentences.append(f"Waits ({k}) " + "; ".join(parts) + ".")
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
    n_failed = sum(1 for x in doc["cells"] if is_failed(x))
    n_unstable = sum(1 for x in doc["cells"] if is_unstable(x) and not is_failed(x))
    if n_failed or n_unstable:
        failed_words = ("No cell failed" if not n_failed else
                        f"{n_failed} cell{'s' if n_failed != 1 else ''} failed")
        sentences.append(f"{failed_words}; {n_unstable} {'were' if n_unstable != 1 else 'was'} "
                         "unstable (listed under *Problems*).")
    if not doc.get("finished"):
        sentences.append("The run did not finish (interrupted or still running): "
                         "only the finished cells are shown.")
    return {"host": host_line, "answer": " ".join(sentences), "warning": contention(doc) or ""}


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
