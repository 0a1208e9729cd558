"""The comparison of builds: runs of the same matrix under several interpreters
(``gilbench run --python A --python B``, see ``run.builds``; ``gilbench try --python``), each
against the baseline (the first default build with the GIL enabled): the other build's
single-thread overhead and its speedups against its own serial time and against the
baseline's.

Each pair of runs goes through ``gilbench compare``'s own ``report.compare.compare`` (the test
of ``compare_rule``), so nothing here computes a test of its own:

- the overhead is the serial cell's row: time per unit of work other/baseline, its bootstrap
  interval widened for the drift between the runs (estimated from the serial cells, at least
  ``compare_rule.MIN_SERIAL_FOR_DRIFT`` of them), judged faster / slower / not significant;
- each parallel cell's ``change`` is its row: speedup other/baseline from each run's paired
  rounds, or, without paired rounds, its drift-widened time ratio (``basis`` says which);
- the false discovery rate is held across all those tests, per family, as in ``compare``;
- the words are ``compare.change_words``.

The speedup of a cell against the baseline's serial time (``speedup_vs_baseline``) is
``compare_rule.time_ratio`` widened for the same drift; it is shown, not tested. The files are
written through the report's blocks (``results-builds.md``) and the results writer
(``results-builds.json``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from gilbench import results
from gilbench.cell import Cell, CellKey

from . import format as F
from .blocks import Block, Heading, Para, Table, to_markdown
from .compare import Comparison, Row, change_words, compare
from .compare_rule import DEFAULT_MIN_CHANGE, Drift, time_ratio

COMBINED_SCHEMA = "gilbench-builds"
#: 2: the rows are judged by `gilbench compare`'s rule (drift between runs, false discovery
#: rate): ``serial_status``, each cell's ``change``, each comparison's ``drift``, ``selected``,
#: ``summary`` and ``test``; intervals across builds widened for the drift
COMBINED_SCHEMA_VERSION = 2

CROSS_RUN_NOTE = (
    "Each build ran in its own process, one after the other (not interleaved), at the same "
    "sizes; ratios across builds include any drift of the machine between the runs. As in "
    "`gilbench compare`, the intervals of time ratios (bootstrap over each run's repeats) are "
    "widened by the spread of the serial cells' ratios when at least 4 serial cells are "
    "compared, and a cell is called changed only when the false discovery rate selects it."
)

#: where the test is written in full (``short_test`` names it)
MARKDOWN = "the comparison of builds (Markdown)"


def combined_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """Where the comparison of builds goes: ``results-builds.json`` and ``.md`` next to ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-builds.json"), out.with_name(f"{out.stem}-builds.md")


def _ok(cell: Cell | None) -> bool:
    return cell is not None and cell.error is None and bool(cell.wall_s) and bool(cell.size)


def _serial_cells(doc: dict) -> dict[tuple[str, str], Cell]:
    return {(c.kernel, c.variant): c for c in map(Cell.read, doc["cells"])
            if c.executor == "serial"}


def _stored(cell: Cell, name: str) -> Any:
    """A field as the file stores it (absent: None)."""
    return cell.as_dict().get(name)


def _interval(ratio: float | None, low: float | None = None, high: float | None = None
              ) -> dict[str, float] | None:
    return None if ratio is None else {"median": ratio, "low": low, "high": high}


def _across(comp: Comparison, cell: Cell, serial: Cell) -> dict[str, float]:
    """``cell``'s speedup against ``serial`` of the other run: ``compare_rule.time_ratio``
    (serial time / cell time per unit of work, bootstrap interval) widened for the drift
    between the runs as ``compare`` widens a time ratio. Shown, not tested: it is not among
    the tests the false discovery rate is held across."""
    return _interval(*comp.drift.widen(*time_ratio(cell, serial)))


def _change(r: Row | None) -> dict[str, Any] | None:
    """A compared row as JSON: status, what was judged (speedup or time) and its interval."""
    if r is None or not r.compared:
        return None
    return {"status": r.status, "basis": r.basis, "ratio": r.ratio, "low": r.low,
            "high": r.high, "selected": r.selected}


def judge_builds(baseline: dict, other: dict, names: tuple[str, str] = ("baseline", "other"),
                 min_change: float = DEFAULT_MIN_CHANGE, details: str = MARKDOWN
                 ) -> dict[str, Any]:
    """``other`` against ``baseline`` by ``gilbench compare``'s rule, per (kernel, variant) in
    ``other``: the serial time ratio (the single-thread overhead of ``other``'s build, judged
    faster / slower / not significant) and, for each parallel cell, its speedup against its own
    serial time and against ``baseline``'s serial time, ``baseline``'s own speedup, and the
    change of the speedup (scales better / worse / not significant). ``short_test`` is the
    test in two lines, naming ``details`` for the full text. Returns::

        {"rows": [{"kernel", "variant", "size", "sizes_match", "baseline_serial_median_s",
                   "other_serial_median_s", "serial_ratio": {"median", "low", "high"} | None,
                   "serial_status": str | None, "note": str | None,
                   "cells": [{"executor", "workers", "median_s", "speedup_same_build",
                              "speedup_vs_baseline", "baseline_speedup", "error",
                              "change": {"status", "basis", "ratio", "low", "high",
                                         "selected"} | None}]}],
         "drift": {"n_serial", "scale"}, "selected": {family: [found, tests]},
         "summary": str, "test": str, "short_test": str}
    """
    comp = compare(baseline, other, names, min_change)
    judged: dict[tuple, Row] = {}
    for r in comp.rows:
        judged.setdefault(r.key[:4], r)
    base_serial = _serial_cells(baseline)
    base_cells: dict[CellKey, Cell] = {c.key: c for c in map(Cell.read, baseline["cells"])}
    rows = []
    for key, serial in _serial_cells(other).items():
        bserial = base_serial.get(key)
        verdict = judged.get(serial.key)
        row: dict[str, Any] = {
            "kernel": key[0], "variant": key[1], "size": _stored(serial, "size"),
            "sizes_match": bserial is not None
            and _stored(bserial, "size") == _stored(serial, "size"),
            "baseline_serial_median_s": bserial.median_s if bserial else None,
            "other_serial_median_s": serial.median_s,
            "serial_ratio": None, "serial_status": None, "note": None, "cells": [],
        }
        if bserial is None:
            row["note"] = "not in the baseline run"
        elif not _ok(bserial):
            row["note"] = f"baseline serial cell failed: {bserial.error or 'no data'}"
        elif not _ok(serial):
            row["note"] = f"serial cell failed: {serial.error or 'no data'}"
        elif verdict is None or not verdict.compared:
            row["note"] = verdict.status if verdict else "not compared"
        else:
            row["serial_ratio"] = _interval(verdict.ratio, verdict.low, verdict.high)
            row["serial_status"] = verdict.status
        comparable = _ok(bserial) and _ok(serial)
        for c in map(Cell.read, other["cells"]):
            if (c.kernel, c.variant) != key or c.executor == "serial":
                continue
            bc = base_cells.get(c.key)
            row["cells"].append({
                "executor": c.executor,
                "workers": c.workers,
                "median_s": c.median_s,
                "speedup_same_build": _stored(c, "speedup"),
                "speedup_vs_baseline": (_across(comp, c, bserial)
                                        if comparable and _ok(c) else None),
                "baseline_speedup": _stored(bc, "speedup") if bc else None,
                "error": c.error,
                "change": _change(judged.get(c.key)),
            })
        rows.append(row)
    return {"rows": rows,
            "drift": {"n_serial": comp.drift.n_serial, "scale": comp.drift.scale},
            "selected": {k: list(v) for k, v in comp.selected.items()},
            "summary": comp.summary(), "test": comp.test_text(),
            "short_test": comp.short_test_text(details)}


def compare_builds(baseline: dict, other: dict) -> list[dict[str, Any]]:
    """The rows of ``judge_builds(baseline, other)``."""
    return judge_builds(baseline, other)["rows"]


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


def combined_document(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                      tags: Sequence[str] | None = None,
                      min_change: float = DEFAULT_MIN_CHANGE, details: str = MARKDOWN) -> dict:
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
        "min_change": min_change,
        "runs": [{**lab, "file": str(f), "usable_cores": d.get("host", {}).get("usable_cores")}
                 for lab, d, f in zip(labels, docs, files)],
        "baseline": labels[base]["tag"] if docs else None,
        "comparisons": [
            {"baseline": labels[base]["tag"], "other": labels[i]["tag"],
             **judge_builds(docs[base], docs[i], (labels[base]["tag"], labels[i]["tag"]),
                            min_change, details)}
            for i in range(len(docs)) if i != base
        ],
    }


# --------------------------------------------------------------------------------------------
# rendering: one table per comparison, the same rows in the Markdown file and on the terminal


def _ratio(r: dict | None) -> str:
    if not r or r.get("median") is None:
        return "—"
    return F.fmt_ratio_interval(r["median"], r["low"], r["high"])


def _overhead(row: dict) -> str:
    if not row["serial_ratio"]:
        return row["note"] or "—"
    return (f"{_ratio(row['serial_ratio'])} "
            f"{change_words(row['serial_status'], row['serial_ratio']['median'])}")


def _judged(change: dict | None) -> tuple[str, str]:
    """(the ratio judged [95%], its words) of a cell's ``change``."""
    if not change:
        return "—", "not compared"
    ratio = F.fmt_ratio_interval(change["ratio"], change["low"], change["high"])
    if change["basis"] == "time":
        ratio += " (time)"
    return ratio, change_words(change["status"], change["ratio"])


def table(comparison: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows for a comparison, one row per parallel cell (kernel, variant, serial
    times and the overhead on the first of its group): the overhead (serial time other/baseline
    per unit of work), each cell's speedup against its own serial time, the baseline's own
    speedup, the change between them (speedup other/baseline, judged), and the cell's speedup
    against the baseline's serial time."""
    b, o = comparison["baseline"], comparison["other"]
    header = ["kernel", "variant", f"serial {b}", f"serial {o}", f"overhead {o}/{b} [95%]",
              "executor", "W", f"speedup {o} (own serial)", f"speedup {b} (own)",
              f"speedup {o}/{b} [95%]", f"{o} vs {b}", f"speedup {o} vs {b} serial"]
    rows = []
    for r in comparison["rows"]:
        head = [r["kernel"], r["variant"], F.fmt_time(r["baseline_serial_median_s"]),
                F.fmt_time(r["other_serial_median_s"]), _overhead(r)]
        if not r["cells"]:
            rows.append(head + [""] * 7)
        for k, c in enumerate(r["cells"]):
            lead = head if k == 0 else [""] * 5
            if c.get("error"):
                rows.append(lead + [c["executor"], str(c["workers"]), f"failed: {c['error']}",
                                    F.fmt_interval(c["baseline_speedup"]), "", "", ""])
                continue
            ratio, words = _judged(c.get("change"))
            rows.append(lead + [c["executor"], str(c["workers"]),
                                F.fmt_interval(c["speedup_same_build"]),
                                F.fmt_interval(c["baseline_speedup"]), ratio, words,
                                F.fmt_interval(c["speedup_vs_baseline"])])
    return header, rows


def drift_text(comparison: dict) -> str:
    """The drift between the two runs and what it did to the intervals, in words
    (``compare_rule.Drift.text``, without its Markdown)."""
    d = comparison["drift"]
    return Drift(d["n_serial"], d["scale"]).text().replace("**", "")


def label_text(run: dict) -> str:
    """'3.13.5t (free-threaded build, GIL off)'."""
    gil = {True: "GIL on", False: "GIL off", None: "GIL ?"}[run.get("gil_enabled")]
    env = f", PYTHON_GIL={run['python_gil_env']}" if run.get("python_gil_env") is not None else ""
    return f"{run['tag']} ({run['build']} build, {gil}{env})"


def build(combined: dict) -> list[Block]:
    """The comparison of builds as report blocks: the runs, then per comparison its summary,
    what the columns are, the test (``gilbench compare``'s) and the table."""
    runs = []
    for run in combined["runs"]:
        gil = {True: "on", False: "off", None: "?"}[run.get("gil_enabled")]
        runs.append([run["tag"], run["build"], gil, run.get("python_gil_env") or "-",
                     f"`{run.get('python_executable')}`", f"`{Path(run['file']).name}`"])
    blocks: list[Block] = [
        Heading(1, "gilbench: the same matrix under several interpreters", "top"),
        Table(["tag", "build", "GIL", "PYTHON_GIL", "interpreter", "results"], runs)]
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        blocks.append(Heading(2, f"{o} against {b}"))
        blocks.append(Para(f"**{comp['summary']}**", "lead"))
        blocks.append(Para(
            f"*Overhead* = {o} serial time / {b} serial time per unit of work (> 1: {o} is "
            f"slower on one thread). Speedups of each {o} cell: against {o}'s own serial time, "
            f"{b}'s own speedup for the same cell, the change between the two ({o}/{b}, judged "
            f"as `gilbench compare` judges it), and against {b}'s serial time. Brackets: 95% "
            "interval.", "note"))
        blocks.append(Para(comp["test"], "note"))
        header, rows = table(comp)
        blocks.append(Table(header, rows, ["l", "l", "r", "r", "r", "l", "r", "r", "r", "r",
                                           "l", "r"]))
    blocks.append(Para(f"*{combined['note']}*", "note"))
    return blocks


def write_combined(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                   out: str | os.PathLike, tags: Sequence[str] | None = None
                   ) -> tuple[Path, Path, dict]:
    """Write ``OUT-builds.json`` and ``OUT-builds.md``; returns (json path, md path, document)."""
    json_path, md_path = combined_paths(out)
    combined = combined_document(docs, files, tags, details=str(md_path))
    results.write(combined, json_path)
    md_path.write_text(to_markdown(build(combined)), encoding="utf-8")
    return json_path, md_path, combined
