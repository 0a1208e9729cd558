"""The comparison of builds: runs of the same matrix under several interpreters
(``gilbench run --python A --python B``, see ``run.builds``), each against the baseline (the
first default build with the GIL enabled): the free-threaded build's single-thread overhead and
its speedups against its own serial time and against the default build's.

The ratios across builds come from separate runs, not interleaved ones: drift of a shared
machine between the runs shows up in them (the bootstrap interval covers only the spread
within each run). The combined files say so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from gilbench import results, stats
from gilbench.units import fmt_column_ms

COMBINED_SCHEMA = "gilbench-builds"
COMBINED_SCHEMA_VERSION = 1

CROSS_RUN_NOTE = (
    "Each build ran in its own process, one after the other (not interleaved), at the same "
    "sizes; ratios across builds include any drift of the machine between the runs, and their "
    "95% intervals (bootstrap over each run's repeats) cover only the spread within each run."
)

# Printed as one JSON line by each --python interpreter: what it is, and whether gilbench is


def combined_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """Where the comparison of builds goes: ``results-builds.json`` and ``.md`` next to ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-builds.json"), out.with_name(f"{out.stem}-builds.md")


def _ok(cell: dict | None) -> bool:
    return bool(cell) and cell.get("error") is None and bool(cell.get("wall_s")) \
        and bool(cell.get("size"))


def _serial_cells(doc: dict) -> dict[tuple[str, str], dict]:
    return {(c["kernel"], c["variant"]): c for c in doc["cells"] if c["executor"] == "serial"}


def _per_unit_ratio(num: dict, den: dict, invert: bool = False) -> dict[str, float]:
    """Bootstrap ratio of time per unit of work, num/den (den/num if ``invert``)."""
    if invert:
        # speedup-like: T(den)/size(den) over T(num)/size(num)
        return stats.bootstrap_ratio(den["wall_s"], num["wall_s"], scale=num["size"] / den["size"])
    return stats.bootstrap_ratio(num["wall_s"], den["wall_s"], scale=den["size"] / num["size"])


def run_label(doc: dict) -> dict[str, Any]:
    """What identifies a run's interpreter: tag, version, build, GIL state, PYTHON_GIL, path."""
    h = doc.get("host", {})
    version = h.get("python_version", "?")
    disabled = bool(h.get("py_gil_disabled"))
    return {
        "tag": version + ("t" if disabled else ""),
        "python_version": version,
        "build": h.get("build", "free-threaded" if disabled else "default"),
        "py_gil_disabled": disabled,
        "gil_enabled": h.get("gil_enabled"),
        "python_gil_env": h.get("python_gil_env"),
        "python_executable": h.get("python_executable"),
    }


def compare_builds(baseline: dict, other: dict) -> list[dict[str, Any]]:
    """Per (kernel, variant) in both runs: ``other``'s serial time over ``baseline``'s (the
    single-thread overhead of ``other``'s build, with a bootstrap 95% interval), and for each
    of ``other``'s parallel cells its speedup against its own serial time and against
    ``baseline``'s serial time, next to ``baseline``'s own speedup for the same cell.

    Ratios are of time per unit of work, so they hold when the sizes differ (``sizes_match``
    says whether they do; with ``gilbench run --python`` they do). Returns a list of rows::

        {"kernel", "variant", "size", "sizes_match", "baseline_serial_median_s",
         "other_serial_median_s", "serial_ratio": {"median", "low", "high"} | None,
         "note": str | None,
         "cells": [{"executor", "workers", "median_s", "speedup_same_build",
                    "speedup_vs_baseline", "baseline_speedup", "error"}]}
    """
    base_serial = _serial_cells(baseline)
    base_cells = {(c["kernel"], c["variant"], c["executor"], c["workers"]): c
                  for c in baseline["cells"]}
    rows = []
    for key, serial in _serial_cells(other).items():
        bserial = base_serial.get(key)
        row: dict[str, Any] = {
            "kernel": key[0], "variant": key[1], "size": serial.get("size"),
            "sizes_match": bool(bserial) and bserial.get("size") == serial.get("size"),
            "baseline_serial_median_s": bserial.get("median_s") if bserial else None,
            "other_serial_median_s": serial.get("median_s"),
            "serial_ratio": None, "note": None, "cells": [],
        }
        comparable = _ok(bserial) and _ok(serial)
        if bserial is None:
            row["note"] = "not in the baseline run"
        elif not _ok(bserial):
            row["note"] = f"baseline serial cell failed: {bserial.get('error') or 'no data'}"
        elif not _ok(serial):
            row["note"] = f"serial cell failed: {serial.get('error') or 'no data'}"
        else:
            row["serial_ratio"] = _per_unit_ratio(serial, bserial)
        for c in other["cells"]:
            if (c["kernel"], c["variant"]) != key or c["executor"] == "serial":
                continue
            bc = base_cells.get((c["kernel"], c["variant"], c["executor"], c["workers"]))
            row["cells"].append({
                "executor": c["executor"],
                "workers": c["workers"],
                "median_s": c.get("median_s"),
                "speedup_same_build": c.get("speedup"),
                "speedup_vs_baseline": (_per_unit_ratio(c, bserial, invert=True)
                                        if comparable and _ok(c) else None),
                "baseline_speedup": bc.get("speedup") if bc else None,
                "error": c.get("error"),
            })
        rows.append(row)
    return rows


def combined_document(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                      tags: Sequence[str] | None = None) -> dict:
    """The comparison of builds: every run's label and file, and each run against the baseline
    (the first default build with the GIL enabled, else the first run). ``tags`` name the runs
    (default: version + "t" for free-threaded, from each document's host)."""
    labels = [run_label(d) for d in docs]
    for label, tag in zip(labels, tags or []):
        label["tag"] = tag
    base = next((i for i, lab in enumerate(labels)
                 if not lab["py_gil_disabled"] and lab["gil_enabled"] is not False), 0)
    return {
        "schema": COMBINED_SCHEMA,
        "schema_version": COMBINED_SCHEMA_VERSION,
        "created": results.now_iso(),
        "note": CROSS_RUN_NOTE,
        "runs": [{**lab, "file": str(f), "usable_cores": d.get("host", {}).get("usable_cores")}
                 for lab, d, f in zip(labels, docs, files)],
        "baseline": labels[base]["tag"] if docs else None,
        "comparisons": [
            {"baseline": labels[base]["tag"], "other": labels[i]["tag"],
             "rows": compare_builds(docs[base], docs[i])}
            for i in range(len(docs)) if i != base
        ],
    }


def _x(ratio: dict | None) -> str:
    if not ratio or ratio.get("median") is None:
        return "-"
    return f"{ratio['median']:.2f}x [{ratio['low']:.2f}, {ratio['high']:.2f}]"


def _label_text(run: dict) -> str:
    gil = {True: "GIL on", False: "GIL off", None: "GIL ?"}[run.get("gil_enabled")]
    env = f", PYTHON_GIL={run['python_gil_env']}" if run.get("python_gil_env") is not None else ""
    return f"{run['tag']} ({run['build']} build, {gil}{env})"


def summary_rows(comparison: dict) -> list[list[str]]:
    """Table rows for a comparison, one per parallel cell (kernel and variant on the first):
    kernel, variant, baseline serial, other serial, overhead, executor xW, speedup against the
    other's own serial, against the baseline's serial, and the baseline's own speedup."""
    rows = []
    for r in comparison["rows"]:
        head = [r["kernel"], r["variant"], fmt_column_ms(r["baseline_serial_median_s"]),
                fmt_column_ms(r["other_serial_median_s"]),
                _x(r["serial_ratio"]) if r["serial_ratio"] else (r["note"] or "-")]
        if not r["cells"]:
            rows.append(head + ["", "", "", ""])
        for k, c in enumerate(r["cells"]):
            lead = head if k == 0 else ["", "", "", "", ""]
            if c.get("error"):
                rows.append(lead + [f"{c['executor']} x{c['workers']}",
                                    f"failed: {c['error'][:60]}", "", ""])
            else:
                rows.append(lead + [f"{c['executor']} x{c['workers']}",
                                    _short(c["speedup_same_build"]),
                                    _short(c["speedup_vs_baseline"]),
                                    _short(c["baseline_speedup"])])
    return rows


def _short(ratio: dict | None) -> str:
    return "-" if not ratio or ratio.get("median") is None else f"{ratio['median']:.2f}x"


def markdown(combined: dict) -> str:
    """The comparison of builds as Markdown (runs, then one table per comparison)."""
    out = ["# gilbench: the same matrix under several interpreters", ""]
    out.append("| tag | build | GIL | PYTHON_GIL | interpreter | results |")
    out.append("|---|---|---|---|---|---|")
    for run in combined["runs"]:
        gil = {True: "on", False: "off", None: "?"}[run.get("gil_enabled")]
        out.append(f"| {run['tag']} | {run['build']} | {gil} | {run.get('python_gil_env') or '-'} "
                   f"| `{run.get('python_executable')}` | `{Path(run['file']).name}` |")
    out.append("")
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        out.append(f"## {o} against {b}")
        out.append("")
        out.append(f"*Overhead* = {o} serial time / {b} serial time per unit of work (> 1: {o} "
                   f"is slower on one thread). Speedups of each {o} cell: against {o}'s own "
                   f"serial time, against {b}'s serial time, and {b}'s own speedup for the same "
                   f"cell. Brackets: bootstrap 95% interval.")
        out.append("")
        out.append(f"| kernel | variant | serial {b} | serial {o} | overhead {o}/{b} | "
                   f"executor | W | speedup {o} (own serial) | speedup {o} vs {b} serial | "
                   f"speedup {b} (own) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in comp["rows"]:
            head = (f"| {r['kernel']} | {r['variant']} | "
                    f"{fmt_column_ms(r['baseline_serial_median_s'])} | "
                    f"{fmt_column_ms(r['other_serial_median_s'])} | "
                    f"{_x(r['serial_ratio']) if r['serial_ratio'] else (r['note'] or '-')}")
            if not r["cells"]:
                out.append(head + " | | | | | |")
            for k, c in enumerate(r["cells"]):
                lead = head if k == 0 else "| | | | |"
                if c.get("error"):
                    tail = f" {c['executor']} | {c['workers']} | failed: {c['error']} | | |"
                else:
                    tail = (f" {c['executor']} | {c['workers']} | {_x(c['speedup_same_build'])} | "
                            f"{_x(c['speedup_vs_baseline'])} | {_x(c['baseline_speedup'])} |")
                out.append(lead + " |" + tail)
        out.append("")
    out.append(f"_{combined['note']}_")
    out.append("")
    return "\n".join(out)


def write_combined(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                   out: str | os.PathLike, tags: Sequence[str] | None = None
                   ) -> tuple[Path, Path, dict]:
    """Write ``OUT-builds.json`` and ``OUT-builds.md``; returns (json path, md path, document)."""
    combined = combined_document(docs, files, tags)
    json_path, md_path = combined_paths(out)
    results.write(combined, json_path)
    md_path.write_text(markdown(combined), encoding="utf-8")
    return json_path, md_path, combined


def print_comparisons(combined: dict, console) -> None:
    """Print each comparison of builds as a table (overhead, then speedups per parallel cell)."""
    from rich.table import Table

    runs = {r["tag"]: r for r in combined["runs"]}
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        t = Table(title=f"{_label_text(runs[o])} against {_label_text(runs[b])}",
                  caption=f"overhead: {o} serial time / {b} serial time [95% CI]; speedup of "
                          f"each {o} cell against {o}'s serial, against {b}'s serial, and "
                          f"{b}'s own speedup for that cell", expand=False)
        for col in ("kernel", "variant", f"serial {b}", f"serial {o}", "overhead", "cell",
                    f"vs {o}", f"vs {b}", f"{b} own"):
            t.add_column(col)
        for row in summary_rows(comp):
            t.add_row(*row)
        console.print(t)
    console.print(f"[dim]{combined['note']}[/]")
