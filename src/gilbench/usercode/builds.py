"""The user's function on several interpreters (``gilbench try F --python A --python B``): the
same function and tasks measured by each interpreter's own ``gilbench try``, then one results
document and one recommendation across them.

How it goes (the machinery of ``gilbench run --python``, ``run.builds``):

1. The interpreters: this one (unless a ``--python`` has its version and build: then that one
   stands for it) and each ``--python``, in that order. Each is probed (gilbench importable
   there, the same child protocol) and tagged ``3.11.7``, ``3.13.5t``, ...
2. Each imports the function and calls the tasks factory, before anything is measured: a
   module that does not import there (a dependency not installed for it, say) stops the run
   with the interpreter, the error and the pip line.
3. Each runs ``PATH -m gilbench try F --tasks T [options] --out OUT-TAG.json``, one after
   another (never at once: they would share the cores); each file is kept.
4. The document written to ``--out`` is the baseline's (the first GIL build's) results
   document, so ``gilbench report`` and ``gilbench compare`` read it as any other, with an
   ``interpreters`` section: every interpreter's host, cells and workload section, each
   against the baseline (``report.compare_builds``: the single-thread cost, the speedup against
   its own serial time and against the baseline's), and the recommendation across them.

No calibration here: the tasks are the work, the same on every interpreter. The ratios across
interpreters come from separate runs, not interleaved ones (``CROSS_RUN_NOTE``).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from gilbench import results
from gilbench.run.builds import (Interpreter, MultiRunError, assign_tags, probe, run_child,
                                 tagged_path)
from gilbench.report import write_report
from gilbench.report.compare_builds import combined_document
from gilbench.report.workload_builds import cost_table, interpreter_rows, speedup_table
from gilbench.units import fmt_time
from gilbench.usercode.advice import GAIN, _LABEL

# Run by each interpreter with (function, tasks, compare): does the user's code load there?
# One JSON line: the number of tasks, or the error (and the missing module, if one is).
_CHECK = r"""
import json, re, sys
function, tasks, compare = sys.argv[1:4]
info = {}
try:
    from gilbench.usercode.workload import Workload
    info["tasks"] = len(Workload(function, tasks, compare or None).tasks)
except BaseException as exc:
    info["error"] = str(exc).strip() or type(exc).__name__
    found = re.search(r"No module named '([^']+)'", info["error"])
    if found:
        info["missing"] = found.group(1).split(".")[0]
print(json.dumps(info))
"""

RULE = ("Across interpreters: each interpreter's own recommendation picks its executor family "
        "and that family's best cell (2 or more workers, no more than the usable cores); those "
        "cells are compared by their speedup against the baseline's serial time (the same "
        "tasks, so this is the wall time that matters). The fastest wins when the low end of "
        "its 95% interval lies above the others' high ends; when they overlap, the lower cost "
        "per task wins (serial costs nothing). Interpreters whose own advice is undecided or "
        "failed take no part.")


def interpreters(pythons: Sequence[str]) -> list[Interpreter]:
    """This interpreter and each of ``pythons``, probed and tagged; this one is left out when
    a ``--python`` has its version and build (that one stands for it). MultiRunError if one
    cannot take part."""
    given = [probe(p) for p in pythons]
    current = probe(sys.executable)
    same = any(it.python_version == current.python_version
               and it.py_gil_disabled == current.py_gil_disabled for it in given)
    found = given if same else [current, *given]
    assign_tags(found)
    return found


def check_workload(it: Interpreter, function: str, tasks: str, compare: str | None,
                   timeout_s: float = 300.0) -> int:
    """The number of tasks ``it`` gets from ``tasks``; MultiRunError saying why the function
    or its tasks cannot be loaded there (with the pip line for a missing module)."""
    where = f"--python {it.path} ({it.tag})"
    try:
        proc = subprocess.run([it.path, "-c", _CHECK, function, tasks, compare or ""],
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise MultiRunError(f"{where}: loading {function} and its tasks did not finish within "
                            f"{timeout_s:g} s") from None
    except OSError as exc:
        raise MultiRunError(f"{where}: cannot run it: {exc}") from None
    try:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise MultiRunError(f"{where}: loading {function} failed there ({err})") from None
    if "error" in info:
        fix = (f"; install it for that interpreter: {it.path} -m pip install {info['missing']}"
               if info.get("missing") else "")
        raise MultiRunError(f"{where}: {function} cannot be loaded there: {info['error']}{fix}")
    return int(info["tasks"])


def child_command(it: Interpreter, function: str, forwarded: list[str], out: Path) -> list[str]:
    """``PATH -m gilbench try FUNCTION [options] --out OUT-TAG.json``."""
    return [it.path, "-m", "gilbench", "try", function, *forwarded, "--out", str(out)]


def run_try_builds(pythons: Sequence[str], function: str, tasks: str, compare: str | None,
                   forwarded: list[str], out: str, report: str | None, command: list[str],
                   console, results_console) -> int:
    """``gilbench try F --python A ...``: ``F`` under each interpreter (each child given the
    options ``forwarded``, which include ``--tasks``), then the document across them written to
    ``out`` (and the report to ``report``); the exit status. UsageError (MultiRunError) before
    anything runs if an interpreter cannot take part. Progress goes to ``console``, the side by
    side and the files written to ``results_console``."""
    found = interpreters(pythons)
    counts = {it.tag: check_workload(it, function, tasks, compare) for it in found}
    if len(set(counts.values())) > 1:
        raise MultiRunError(f"{tasks} gives different tasks under different interpreters ("
                            + ", ".join(f"{t}: {n}" for t, n in counts.items())
                            + "): the comparison needs the same tasks everywhere")
    outs = [tagged_path(os.path.abspath(out), it.tag) for it in found]
    console.print("[bold]gilbench try[/] under " + ", ".join(
        f"{it.tag} ({it.build} build, {it.path})" for it in found) + "; one interpreter at a "
        "time, each with the same tasks")
    docs, files, tags, failed = [], [], [], []
    status = 0
    for it, path in zip(found, outs):
        cmd = child_command(it, function, forwarded, path)
        console.rule(f"{it.tag}: {' '.join(cmd[1:])}")
        code = run_child(cmd)
        if code in (130, 143) or code < 0:
            console.print(f"[yellow]interrupted[/] during {it.tag}")
            return 130 if code < 0 else code
        status = max(status, 1 if code else 0)
        try:
            doc = results.read(path)
        except results.ResultsError as exc:
            failed.append({"tag": it.tag, "path": it.path, "error": f"exit status {code}: {exc}"})
            continue
        docs.append(doc)
        files.append(path)
        tags.append(it.tag)
    shown = results_console
    shown.rule("interpreters side by side")
    for f in files:
        shown.print(f"results: {f}")
    if not docs:
        console.print("[red]no interpreter wrote its results[/]: "
                      + "; ".join(f"{f['tag']} ({f['error']})" for f in failed))
        return 1
    doc = across_document(docs, files, tags, failed, command)
    results.write(doc, out)
    print_side_by_side(doc, shown)
    shown.print(f"results: {out}")
    if report:
        paths = write_report(doc, report)
        shown.print(f"report: {paths.get('html', report)}")
    if failed:
        console.print("[red]failed[/]: " + ", ".join(f"{f['tag']} ({f['error']})"
                                                    for f in failed))
        return 1
    return status


# ---------------------------------------------------------------------------- the document


def across_document(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                    tags: Sequence[str], failed: Sequence[dict] = (),
                    command: Sequence[str] | None = None) -> dict:
    """One results document for the runs ``docs`` of the same function: the baseline's
    document (the first default build with the GIL on), with an ``interpreters`` section::

        {"note", "baseline": TAG, "rule",
         "runs": [{"tag", "python_version", "build", "py_gil_disabled", "gil_enabled",
                   "python_gil_env", "python_executable", "file", "usable_cores",
                   "host", "cells", "workload"}],
         "comparisons": [{"baseline", "other", "rows", ...}],  # report.compare_builds
         "failed": [{"tag", "path", "error"}],
         "recommendation": {"text", "code", "tag", "executor", "workers", "per_interpreter"}}
    """
    # no builds Markdown here: the full test is the `test` beside each comparison
    combined = combined_document(docs, files, tags,
                                 details="each comparison's `test` (interpreters section)")
    base = next(i for i, run in enumerate(combined["runs"]) if run["tag"] == combined["baseline"])
    doc = copy.deepcopy(docs[base])
    if command is not None:
        doc["command"] = list(command)
    runs = []
    for run, d in zip(combined["runs"], docs):
        runs.append({**run, "host": d.get("host", {}), "cells": d.get("cells", []),
                     "workload": d.get("workload") or {}})
    section = {"note": combined["note"], "baseline": combined["baseline"], "rule": RULE,
               "runs": runs, "comparisons": combined["comparisons"], "failed": list(failed)}
    section["recommendation"] = recommend_across(section)
    doc["interpreters"] = section
    return doc


def _family(cell: dict) -> str:
    return cell.get("family") or cell["executor"]


def chosen_cell(run: dict) -> dict | None:
    """The cell behind a run's own recommendation: the best (by median speedup) measured cell
    of the recommended family at 2 or more workers and at most the usable cores; None when the
    advice is serial, undecided or failed."""
    code = ((run.get("workload") or {}).get("recommendation") or {}).get("code")
    usable = max(int(run.get("usable_cores") or 1), 1)
    cells = [c for c in run.get("cells") or [] if c.get("executor") != "serial"
             and not c.get("error") and (c.get("speedup") or {}).get("low") is not None
             and _family(c) == code and c.get("workers", 1) >= 2]
    within = [c for c in cells if c["workers"] <= usable] or cells
    return max(within, key=lambda c: c["speedup"]["median"], default=None)


def _against_baseline(section: dict, run: dict, cell: dict | None) -> dict | None:
    """Speedup of ``cell`` (None: the run's serial cell) against the baseline's serial time."""
    if run["tag"] == section["baseline"]:
        if cell is None:
            return {"median": 1.0, "low": 1.0, "high": 1.0}
        return cell.get("speedup")
    comp = next((c for c in section["comparisons"] if c["other"] == run["tag"]), None)
    if not comp or not comp.get("rows"):
        return None
    row = comp["rows"][0]  # a try document has one (kernel, variant): the function
    if cell is None:  # serial: the inverse of the single-thread cost
        r = row.get("serial_ratio")
        return None if not r else {"median": 1 / r["median"], "low": 1 / r["high"],
                                   "high": 1 / r["low"]}
    match = next((c for c in row["cells"] if c["executor"] == cell["executor"]
                  and c["workers"] == cell["workers"]), None)
    return (match or {}).get("speedup_vs_baseline")


def _per_task_s(run: dict, cell: dict | None) -> float | None:
    if cell is None:
        return 0.0
    cost = ((run.get("workload") or {}).get("executors") or {}).get(cell["executor"]) or {}
    value = cost.get("per_task_s")
    return float(value) if isinstance(value, (int, float)) else None


def _phrase(run: dict, cell: dict | None) -> str:
    """'on 3.13.5t, threads reach 1.93x at 2 workers at 12 µs per task'."""
    rec = (run.get("workload") or {}).get("recommendation") or {}
    code = rec.get("code")
    if code == "serial":
        return f"on {run['tag']}, stay serial"
    if cell is None:
        return f"on {run['tag']}, {code or 'no advice'}"
    sp = cell["speedup"]
    text = (f"on {run['tag']}, {_LABEL.get(cell['executor'], cell['executor'])} "
            f"{sp['median']:.2f}x at {cell['workers']} workers")
    cost = ((run.get("workload") or {}).get("executors") or {}).get(cell["executor"]) or {}
    if isinstance(cost.get("per_task_s"), (int, float)):
        text += f" at {fmt_time(cost['per_task_s'])} per task"
        if "pickle_s" in cost:
            text += " (pickling included)"
    return text


def _label(choice: dict) -> str:
    cell = choice["cell"]
    what = ("serial" if cell is None else
            f"{_LABEL.get(cell['executor'], cell['executor'])} at {cell['workers']} workers")
    return f"{what} on {choice['tag']}"


def _tie_clause(other: dict, winner: dict) -> str:
    """Why ``other``, as fast as ``winner`` within the intervals, lost: it costs more per task
    (or, both serial, it is no faster)."""
    text = f"{_label(other)} is as fast within the intervals ({_x(other['against'])})"
    if other["cell"] is None:
        return text
    cost = (f"{fmt_time(winner['cost'])} on {winner['tag']}" if winner["cell"] is not None
            else "none serially")
    return text + f" but costs {fmt_time(other['cost'])} per task against {cost}"


def _x(ratio: dict) -> str:
    return f"{ratio['median']:.2f}x [{ratio['low']:.2f}, {ratio['high']:.2f}]"


def recommend_across(section: dict) -> dict[str, Any]:
    """The advice across interpreters from an ``interpreters`` section (see ``RULE``): text,
    code (the family, ``serial`` or ``undecided``) and the chosen tag, executor and workers."""
    base = section["baseline"]
    phrases, choices = [], []
    for run in section["runs"]:
        cell = chosen_cell(run)
        phrases.append(_phrase(run, cell))
        code = ((run.get("workload") or {}).get("recommendation") or {}).get("code")
        if code == "serial" or cell is not None:
            against = _against_baseline(section, run, cell)
            if against and against.get("low") is not None:
                choices.append({"tag": run["tag"], "cell": cell, "against": against,
                                "cost": _per_task_s(run, cell),
                                "code": "serial" if cell is None else _family(cell)})
    head = "; ".join(phrases)
    head = head[:1].upper() + head[1:]
    out: dict[str, Any] = {"rule": RULE, "tag": None, "executor": None, "workers": None,
                           "per_interpreter": phrases}
    if not choices:
        return {**out, "code": "undecided",
                "text": head + ". Across interpreters: undecided, no interpreter's own advice "
                               "is decided."}
    top = max(choices, key=lambda c: c["against"]["median"])
    tied = [c for c in choices if c is not top and c["against"]["high"] >= top["against"]["low"]]
    why = ""
    if tied:
        contenders = [top, *tied]
        if any(c["cost"] is None for c in contenders):
            return {**out, "code": "undecided", "text": (
                f"{head}. Across interpreters: undecided between "
                + " and ".join(_label(c) for c in contenders) + f": their speedups against "
                f"serial on {base} overlap and the cost per task that would break the tie was "
                "not measured.")}
        top = min(contenders, key=lambda c: (c["cost"], -c["against"]["median"]))
        why = "; " + "; ".join(_tie_clause(o, top) for o in contenders if o is not top)
    cell = top["cell"]
    if cell is None:
        text = f"{head}. Across interpreters, stay serial on {top['tag']}"
        if top["tag"] != base:
            text += f" ({_x(top['against'])} against serial on {base})"
    else:
        text = (f"{head}. Across interpreters, the fastest is {_label(top)}: "
                f"{_x(top['against'])} against serial on {base}")
        if top["against"]["low"] < GAIN:
            text += f" (its low end is below the {GAIN:g}x gain line)"
    return {**out, "code": top["code"], "tag": top["tag"],
            "executor": None if cell is None else cell["executor"],
            "workers": None if cell is None else cell["workers"], "text": text + why + "."}


# ---------------------------------------------------------------------------- the terminal


def print_side_by_side(doc: dict, console) -> None:
    """The interpreters side by side (``report.workload_builds.speedup_table``), each
    interpreter's advice and the advice across them, on a rich console."""
    from rich.markup import escape
    from rich.table import Table


    section = doc["interpreters"]
    for title, (header, rows) in (
            ("per interpreter", interpreter_rows(section, full_advice=False)),
            (f"speedup per executor [95% CI] (baseline {section['baseline']})",
             speedup_table(section)),
            ("cost per task", cost_table(section))):
        table = Table(title=title)
        for col in header:
            table.add_column(escape(col), overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(v)) for v in row))
        console.print(table)
    rec = section["recommendation"]
    console.print(f"\n[bold]{escape(rec['text'])}[/]")
    console.print(f"[dim]{escape(rec['rule'])}[/]")
    console.print(f"[dim]{escape(section['note'])}[/]")
    for f in section.get("failed") or []:
        console.print(f"[red]{escape(f['tag'])} failed[/]: {escape(f['error'])}")
