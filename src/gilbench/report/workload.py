"""The report's section for a run of the user's own function (``gilbench try``,
``gilbench.workload``): the recommendation in words with its rule, the GIL check (fraction,
interval, verdict), the stress test's outcome (``--stress``: threaded runs whose results
differ from the serial run's), and each executor's cost per task (empty-task round trip,
pickled sizes and times) with the break-even task duration.

``workload_section(doc) -> blocks``; called by ``document.build`` only when the document has a
``workload`` section. Reads only the document.
"""

from __future__ import annotations

from typing import Any

from . import format as F
from .blocks import Badge, Block, Heading, Para, Table

#: how the recommendation's code shows as a badge (the verdict colours of the report)
_BADGE = {"threads": "parallel", "processes": "parallel", "interpreters": "parallel",
          "asyncio": "parallel", "serial": "baseline", "undecided": "not-measured",
          "failed": "failed"}


def _pct(x: Any) -> str:
    return f"{100 * x:.0f}%" if F.is_number(x) else "—"


def gil_text(gil: dict | None) -> str:
    """The GIL check in one sentence: fraction, interval, verdict (or why undecided)."""
    if not gil:
        return "The GIL check was not run."
    verdict = gil.get("verdict") or "undecided"
    if not F.is_number(gil.get("fraction")):
        return f"**{verdict}**: {gil.get('reason') or 'no measurement'}."
    interval = (f" (95% interval {_pct(gil.get('low'))}–{_pct(gil.get('high'))})"
                if F.is_number(gil.get("low")) and F.is_number(gil.get("high")) else "")
    text = (f"While the function runs on the first task in one thread, another thread keeps "
            f"**{_pct(gil['fraction'])}** of its pace{interval}: **{verdict}**")
    return text + (f" ({gil['reason']})." if gil.get("reason") else ".")


def cost_rows(section: dict) -> list[list]:
    """One row per executor: W, round trip, pickled per task, cost per task, break-even."""
    rows: list[list] = []
    for name, c in (section.get("executors") or {}).items():
        if "per_task_s" not in c:
            rows.append([name, str(c.get("workers", "—")), "—", "—", "—",
                         c.get("error") or "not measured"])
            continue
        pickle_s = c.get("pickle_s")
        round_trip = c["per_task_s"] - (pickle_s or 0.0)
        pickled = "—" if pickle_s is None else (
            f"{F.fmt_bytes(c.get('args_bytes'))} in + {F.fmt_bytes(c.get('results_bytes'))} "
            f"out, {F.fmt_time(pickle_s)}")
        even = c.get("break_even_task_s")
        rows.append([name, str(c.get("workers", "—")), F.fmt_time(round_trip), pickled,
                     F.fmt_time(c["per_task_s"]),
                     F.fmt_time(even) if F.is_number(even) else "never (1 worker)"])
    for name, why in (section.get("blocked") or {}).items():
        if name not in (section.get("executors") or {}):
            rows.append([name, "—", "—", "—", "—", f"not run: {why}"])
    return rows


def stress_blocks(stress: dict | None) -> list[Block]:
    """The stress test (``--stress N``): its sentence, and runs per worker count (none
    without a stress test in the run)."""
    if not isinstance(stress, dict):
        return []
    blocks: list[Block] = [Heading(3, "Is it thread-safe? The stress test", "workload-stress")]
    verdict = stress.get("verdict") or "not run"
    badge = {"failed": "failed", "passed": "parallel"}.get(verdict, "not-measured")
    blocks.append(Table(["stress test", "outcome"], [[Badge(badge, verdict),
                                                      stress.get("text") or "—"]], ["c", "l"]))
    per = stress.get("per_workers") or {}
    if per:
        blocks.append(Para(
            f"The {stress.get('tasks', '?')} tasks ran {stress.get('runs', '?')} times under "
            "threads at each worker count, the threads started together at a barrier; a run "
            "counts as differing when any of its results differs from the serial run's (or "
            "raised). On a build with the GIL the switch interval was lowered while stressing, "
            "so that threads switch, and races show, more often. Passing is evidence, not "
            "proof: a race can hide from every run.", "note"))
        blocks.append(Table(["threads", "runs", "runs that differ"],
                            [[w, str(p.get("runs", "—")), str(p.get("mismatched", "—"))]
                             for w, p in per.items()], ["r", "r", "r"]))
    return blocks


def workload_section(doc: dict) -> list[Block]:
    """Blocks for the ``workload`` section of ``doc`` (empty list without one)."""
    section = doc.get("workload")
    if not isinstance(section, dict):
        return []
    fn = section.get("function") or "the function"
    task = section.get("task_s") or {}
    blocks: list[Block] = [Heading(2, f"Your function: {fn}", "workload")]
    about = f"`{fn}` on {section.get('tasks', '?')} tasks"
    if F.is_number(task.get("median")):
        about += (f"; in the serial check run a task took {F.fmt_time(task['median'])} "
                  f"(median; {F.fmt_time(task.get('min'))} to {F.fmt_time(task.get('max'))})")
    if section.get("compare"):
        about += f"; results compared with `{section['compare']}`"
    blocks.append(Para(about + "."))
    if section.get("check_error"):
        blocks.append(Para(f"The serial check run failed on {section['check_error']}: the "
                           "cells below fail with it.", "warning"))
    rec = section.get("recommendation") or {}
    if rec.get("text"):
        code = rec.get("code", "undecided")
        blocks.append(Table(["advice", "recommendation"],
                            [[Badge(_BADGE.get(code, "not-measured"), code), rec["text"]]],
                            ["c", "l"]))
        if rec.get("rule"):
            blocks.append(Para(rec["rule"], "note"))
    blocks.append(Heading(3, "Does it release the GIL?", "workload-gil"))
    blocks.append(Para(gil_text(section.get("gil"))))
    blocks += stress_blocks(section.get("stress"))
    rows = cost_rows(section)
    blocks.append(Heading(3, "Cost per task and break-even task duration", "workload-costs"))
    if rows:
        blocks.append(Para(
            "Per executor, warm, one task per submission: the round trip of an empty task, the "
            "arguments and results pickled per task (executors that cross a process or "
            "interpreter), their sum, and the task duration below which the executor cannot "
            "beat serial at W workers (cost per task × W/(W−1)).", "note"))
        blocks.append(Table(["executor", "W", "round trip", "pickled per task", "cost per task",
                             "break-even task"], rows, ["l", "r", "r", "l", "r", "r"]))
    else:
        blocks.append(Para("Not measured in this run.", "note"))
    return blocks
