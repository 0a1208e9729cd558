"""The break-even experiment in the report.

The task size where a pool starts to beat serial, for the stdlib pools and the engines people
grow into (joblib, Dask, InterpreterPoolExecutor) side by side: one row per executor with its
per-task overhead (an empty task's round trip) and its break-even task duration for each task
kind, the engines that did not run with the reason, and the engines' published rules of thumb
quoted beside this host's figures.

``section(data, outdir) -> (markdown, claims)``; ``figures(data)`` for the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..format import NA, fmt_time, fmt_x, is_number
from ._common import (Claim, add_legend, log_scale_if_positive, make_claim, markdown_table,
                      new_figure, save_figure)

#: the experiment's key in ``doc['experiments']``
NAME = "break-even"
#: the stdlib pools first, in this order; the engines after them, by name
STDLIB = ("thread-pool", "process-pool")
STYLES = ("o-", "s--", "^-.", "v:", "D-", "P--", "X-.", "*:")


def _us(us: Any) -> str:
    """A figure in microseconds, in the unit that reads best ("n/a" when missing)."""
    return fmt_time(us, NA, unit="us")


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def executors_in(data: dict) -> list[str]:
    """Every executor measured besides serial: the stdlib pools first, then the engines."""
    found = set(data.get("overhead_us") or {})
    for sweep in (data.get("sweeps") or {}).values():
        found |= set(sweep.get("break_even") or {})
    found.discard("serial")
    return [e for e in STDLIB if e in found] + sorted(found - set(STDLIB))


def _first_error(sweep: dict, executor: str) -> str | None:
    for p in sweep.get("points") or []:
        error = (p.get("errors") or {}).get(executor)
        if error:
            return error
    return None


def break_even_text(sweep: dict, executor: str, short: bool = False) -> str:
    """An executor's break-even task duration in one sweep, in words."""
    if sweep.get("error"):
        return sweep["error"]
    be = (sweep.get("break_even") or {}).get(executor)
    if be is None:
        return "not measured"
    if is_number(be.get("task_us")):
        lo, hi = be.get("between_us") or [None, None]
        if short or not (is_number(lo) and is_number(hi)):
            return f"~{_us(be['task_us'])}"
        return f"~{_us(be['task_us'])} (between {_us(lo)} and {_us(hi)})"
    error = _first_error(sweep, executor)
    if error and be.get("note") == "not measured":
        return f"failed: {error}"
    return be.get("note") or "n/a"


def _plot(data: dict, executors: list[str], outdir: Path) -> str:
    sweeps = {k: s for k, s in (data.get("sweeps") or {}).items() if s.get("points")}
    win = (data.get("params") or {}).get("win_ratio", 0.9)
    fig, axes = new_figure(5.0 * max(1, len(sweeps)), 4.4, ncols=max(1, len(sweeps)))
    for ax, (kind, sweep) in zip(axes, sweeps.items()):
        points = sweep["points"]
        ratios = []
        for executor, style in zip(executors, STYLES * 4):
            xs = [p["task_us"] for p in points]
            ys = [p[f"{executor}_s"] / p["serial_s"] if is_number(p.get(f"{executor}_s"))
                  and is_number(p.get("serial_s")) and p["serial_s"] > 0 else float("nan")
                  for p in points]
            ratios += ys
            if any(is_number(y) for y in ys):
                ax.plot(xs, ys, style, label=executor)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.axhline(win, color="grey", lw=0.8, ls=":")
        log_scale_if_positive(ax, "x", [p["task_us"] for p in points])
        log_scale_if_positive(ax, "y", ratios)
        ax.set_title(f"{kind} tasks", fontsize=10)
        ax.set_xlabel("task duration: serial time per task (us)")
        ax.set_ylabel("pool time / serial time (below 1: pool wins)")
        add_legend(ax)
    return save_figure(fig, outdir, "break-even")


def executor_table(data: dict, executors: list[str]) -> str:
    """One row per executor: per-task overhead and break-even per task kind; then the engines
    that did not run, with the reason."""
    sweeps = data.get("sweeps") or {}
    overhead = data.get("overhead_us") or {}
    rows = []
    for e in executors:
        rows.append([e, _us(overhead.get(e)),
                     *(_cell(break_even_text(s, e, short=True)) for s in sweeps.values())])
    for e, reason in sorted(((data.get("engines") or {}).get("unavailable") or {}).items()):
        rows.append([e, "not run", _cell(reason), *([""] * (len(sweeps) - 1))])
    return markdown_table(["executor", "per-task overhead",
                           *(f"break-even, {kind} tasks" for kind in sweeps)], rows)


def _here(data: dict, rule: dict) -> str:
    """This host's figures for the executors of the rule's engine."""
    engine = rule.get("engine", "")
    overhead = data.get("overhead_us") or {}
    sweeps = data.get("sweeps") or {}
    mine = [e for e in executors_in(data) if e == engine or e.startswith(f"{engine}-")]
    parts = []
    for e in mine:
        be = "; ".join(f"break-even {kind} {break_even_text(s, e, short=True)}"
                       for kind, s in sweeps.items())
        parts.append(f"{e}: {_us(overhead.get(e))} per task" + (f", {be}" if be else ""))
    if is_number(rule.get("thread_pool_overhead_us")) and is_number(overhead.get("thread-pool")):
        parts.append(f"thread-pool: {_us(overhead['thread-pool'])} per task")
    if not parts:
        missing = ((data.get("engines") or {}).get("unavailable") or {})
        reasons = [f"{e}: {r}" for e, r in missing.items()
                   if e == engine or e.startswith(f"{engine}-")]
        return ("not run here (" + "; ".join(reasons) + ")" if reasons
                else "not measured here (gilbench has no executor for it)")
    return "; ".join(parts)


def rules_table(data: dict) -> str:
    """The published rules of thumb, each beside this host's figures."""
    rows = [[rule.get("engine", "?"), _cell(rule.get("claim", "")), _cell(rule.get("source", "")),
             _cell(_here(data, rule))] for rule in data.get("rules_of_thumb") or []]
    return markdown_table(["engine", "rule of thumb", "source", "on this host"], rows)


def detail_table(data: dict, executors: list[str]) -> str:
    rows = []
    for kind, sweep in (data.get("sweeps") or {}).items():
        for p in sweep.get("points") or []:
            rows.append([kind, _us(p["task_us"]), p["tasks"], fmt_time(p["serial_s"], NA),
                         *(fmt_time(p.get(f"{e}_s"), NA) for e in executors),
                         "yes" if p.get("results_agree") else "NO"])
    return markdown_table(["tasks", "task duration", "n", "serial", *executors, "results agree"],
                          rows)


def section(data: dict, outdir: Path) -> tuple[str, list[Claim]]:
    sweeps = data.get("sweeps") or {}
    win = (data.get("params") or {}).get("win_ratio", 0.9)
    executors = executors_in(data)
    plot = _plot(data, executors, outdir)
    sentences = [f"{e} with {kind} tasks: {break_even_text(s, e)}"
                 for kind, s in sweeps.items() if not s.get("error") for e in executors]

    claims: list[Claim] = []
    py = (sweeps.get("python") or {}).get("break_even", {}).get("process-pool")
    smallest = ((sweeps.get("python") or {}).get("points") or [None])[0]
    rule = ("confirmed when a warm process pool is slower than serial for the smallest "
            "pure-Python tasks swept (a cost per task exists that small tasks cannot repay); "
            "refuted when it is faster already there")
    if py is not None and smallest is not None and is_number(smallest.get("process-pool_s")):
        r = smallest["process-pool_s"] / smallest["serial_s"]
        verdict = "confirmed" if r >= 1 else "refuted"
        where = f"~{_us(py['task_us'])}" if is_number(py.get("task_us")) else (py.get("note")
                                                                                or "?")
        evidence = (f"process pool / serial {fmt_x(r)} at {_us(smallest['task_us'])} "
                    f"pure-Python tasks; break-even task duration {where}")
        claims.append(make_claim("process-startup-cost", verdict, evidence, rule,
                                 "experiment break-even"))
    parts = [
        f"### {data.get('title', 'Break-even task size')}", data.get("measures", ""),
        f"![break-even]({plot})",
        "**Per executor.** The per-task overhead is the round trip of an empty task (best of "
        "the repeats, per task of a batch); the break-even is the task duration from which the "
        f"executor takes under {win:g}x the serial time (10% faster) at every larger size.",
        executor_table(data, executors),
    ]
    if data.get("rules_of_thumb"):
        parts += ["**What the engines' documents say, beside this host.** Rules of thumb are "
                  "other people's hosts and workloads; the column on the right is this one.",
                  rules_table(data)]
    parts += [
        detail_table(data, executors),
        f"Pools are warm (start-up excluded; see the start-up section) and get one task per "
        f"submission. Times are the best of the repeats. A pool wins at a size when it takes "
        f"under {win:g}x the serial time; the break-even is interpolated on log axes between "
        "the last size it lost and the first it won for good.",
        "**Conclusion.** " + ("; ".join(sentences) + "." if sentences else "Not measured."),
    ]
    return "\n\n".join(p for p in parts if p), claims


def figures(data: dict) -> list[tuple[str, str]]:
    """Key figures for a terminal summary: (figure, value)."""
    out = [(f"{e}, per-task overhead", _us(us))
           for e, us in (data.get("overhead_us") or {}).items() if e != "serial"]
    for kind, sweep in (data.get("sweeps") or {}).items():
        for executor in (sweep.get("break_even") or {}):
            out.append((f"{executor}, {kind} tasks",
                        break_even_text(sweep, executor, short=True)))
    return out
