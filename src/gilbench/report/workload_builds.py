"""The report's section for the user's function on several interpreters (``gilbench try F
--python A --python B``): the advice across them, then the interpreters side by side (build
and GIL state, serial time and the single-thread cost against the baseline, the GIL check, each
one's own advice), the speedup of every executor on each (against its own serial time and
against the baseline's), and each executor's cost per task on each.

``interpreters_section(doc) -> blocks``; called by ``document.build`` only when the document has
an ``interpreters`` section (written by ``gilbench.usercode.builds``). Reads only the document.
"""

from __future__ import annotations

from typing import Any

from . import format as F
from .blocks import Badge, Block, Heading, Para, Table

_BADGE = {"threads": "parallel", "processes": "parallel", "interpreters": "parallel",
          "asyncio": "parallel", "serial": "baseline", "undecided": "not-measured",
          "failed": "failed"}


def _serial(run: dict) -> dict | None:
    return next((c for c in run.get("cells") or [] if c.get("executor") == "serial"), None)


def _comparison(section: dict, tag: str) -> dict | None:
    """The baseline-against-``tag`` row (a try document has one kernel: the function)."""
    comp = next((c for c in section.get("comparisons") or [] if c.get("other") == tag), None)
    return comp["rows"][0] if comp and comp.get("rows") else None


def _gil(run: dict) -> str:
    gil = (run.get("workload") or {}).get("gil") or {}
    verdict = gil.get("verdict") or "not run"
    if F.is_number(gil.get("fraction")):
        return f"{verdict}, {100 * gil['fraction']:.0f}% to other threads"
    return f"{verdict} ({gil['reason']})" if gil.get("reason") else verdict


def _state(run: dict) -> str:
    gil = {True: "GIL on", False: "GIL off"}.get(run.get("gil_enabled"), "GIL ?")
    env = f", PYTHON_GIL={run['python_gil_env']}" if run.get("python_gil_env") else ""
    return f"{run.get('build', '?')} build, {gil}{env}"


def interpreter_rows(section: dict, full_advice: bool = True) -> tuple[list[str], list[list]]:
    """Header and one row per interpreter: its tag, build and GIL state, serial time, the
    single-thread cost against the baseline (serial time per task over the baseline's, 95%
    interval), the GIL check, and its own advice (the text, or its code only)."""
    base = section.get("baseline")
    header = ["interpreter", "build", "serial run", f"one thread vs {base}", "GIL check",
              "its advice"]
    rows = []
    for run in section.get("runs") or []:
        serial = _serial(run) or {}
        if run.get("tag") == base:
            cost = "baseline"
        else:
            row = _comparison(section, run.get("tag")) or {}
            ratio = row.get("serial_ratio")
            cost = (f"{ratio['median']:.2f}× [{ratio['low']:.2f}–{ratio['high']:.2f}] the time"
                    if ratio else row.get("note") or "—")
        rec = (run.get("workload") or {}).get("recommendation") or {}
        advice = rec.get("text", "—") if full_advice else rec.get("code", "—")
        rows.append([run.get("tag", "?"), _state(run),
                     serial.get("error") or F.fmt_time(serial.get("median_s")), cost,
                     _gil(run), advice])
    return header, rows


def speedup_table(section: dict) -> tuple[list[str], list[list]]:
    """Header and one row per (executor, workers) measured anywhere: each interpreter's speedup
    against its own serial time, then each non-baseline interpreter's against the baseline's
    serial time ("—" where an interpreter did not measure the cell)."""
    base = section.get("baseline")
    runs = section.get("runs") or []
    others = [r for r in runs if r.get("tag") != base]
    header = ["executor", "W", *[f"{r['tag']} (own serial)" for r in runs],
              *[f"{r['tag']} vs {base} serial" for r in others]]
    keys: list[tuple[str, int]] = []
    for run in runs:
        for c in run.get("cells") or []:
            key = (c["executor"], c["workers"])
            if c["executor"] != "serial" and key not in keys:
                keys.append(key)
    rows = []
    for executor, workers in keys:
        row: list[Any] = [executor, str(workers)]
        for run in runs:
            c = next((c for c in run.get("cells") or []
                      if (c["executor"], c["workers"]) == (executor, workers)), None)
            if c is None:
                row.append("—")
            else:
                row.append(f"failed: {c['error']}" if c.get("error")
                           else F.fmt_interval(c.get("speedup")))
        for run in others:
            comp = _comparison(section, run["tag"]) or {}
            c = next((c for c in comp.get("cells") or []
                      if (c["executor"], c["workers"]) == (executor, workers)), None)
            row.append(F.fmt_interval((c or {}).get("speedup_vs_baseline")))
        rows.append(row)
    return header, rows


def cost_table(section: dict) -> tuple[list[str], list[list]]:
    """Header and one row per executor: its cost per task on each interpreter (the empty
    task's round trip, plus pickling for executors that cross a process or interpreter)."""
    runs = section.get("runs") or []
    names: list[str] = []
    for run in runs:
        for name in ((run.get("workload") or {}).get("executors") or {}):
            if name not in names:
                names.append(name)
    rows = []
    for name in names:
        row: list[Any] = [name]
        for run in runs:
            cost = ((run.get("workload") or {}).get("executors") or {}).get(name)
            if cost is None:
                row.append("—")
            elif F.is_number(cost.get("per_task_s")):
                row.append(F.fmt_time(cost["per_task_s"])
                           + (" (pickling included)" if "pickle_s" in cost else ""))
            else:
                row.append(cost.get("error") or "not measured")
        rows.append(row)
    return ["executor", *[r["tag"] for r in runs]], rows


def interpreters_section(doc: dict) -> list[Block]:
    """Blocks for the ``interpreters`` section of ``doc`` (empty list without one)."""
    section = doc.get("interpreters")
    if not isinstance(section, dict) or not section.get("runs"):
        return []
    base = section.get("baseline")
    fn = (doc.get("workload") or {}).get("function") or "the function"
    runs = section["runs"]
    blocks: list[Block] = [Heading(2, "Interpreters side by side", "interpreters")]
    blocks.append(Para(
        f"`{fn}` on the same tasks under " + F.join_words(
            [f"{r['tag']} ({_state(r)}; `{r.get('python_executable') or '?'}`)" for r in runs])
        + f". The baseline is {base}: every other interpreter's times are also compared with "
        "its serial time. The sections below this one are the baseline's run."))
    rec = section.get("recommendation") or {}
    if rec.get("text"):
        code = rec.get("code", "undecided")
        blocks.append(Table(["advice", "across interpreters"],
                            [[Badge(_BADGE.get(code, "not-measured"), code), rec["text"]]],
                            ["c", "l"]))
        if rec.get("rule"):
            blocks.append(Para(rec["rule"], "note"))
    header, rows = interpreter_rows(section)
    blocks.append(Table(header, rows, ["l", "l", "r", "r", "l", "l"]))
    header, rows = speedup_table(section)
    blocks.append(Heading(3, "Speedup per executor, interpreter by interpreter",
                          "interpreters-speedup"))
    blocks.append(Para(
        "Each cell's speedup against its own interpreter's serial time, then against the "
        f"baseline's ({base}) serial time: the second is the one that says which build runs "
        "the tasks sooner. Brackets: 95% interval.", "note"))
    blocks.append(Table(header, rows, ["l", "r", *["r"] * (len(header) - 2)]))
    header, rows = cost_table(section)
    if rows:
        blocks.append(Heading(3, "Cost per task, interpreter by interpreter",
                              "interpreters-costs"))
        blocks.append(Table(header, rows, ["l", *["r"] * (len(header) - 1)]))
    for f in section.get("failed") or []:
        blocks.append(Para(f"{f.get('tag')} (`{f.get('path')}`) did not write its results: "
                           f"{f.get('error')}.", "warning"))
    if section.get("note"):
        blocks.append(Para(section["note"], "note"))
    return blocks
