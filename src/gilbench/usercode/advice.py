"""Which executor for the user's function, in words, from the results document alone.

``recommend(doc)`` reads the cells of a workload run and its ``workload`` section (the GIL check,
each executor's cost per task) and returns the advice with the rule that produced it. It never
guesses: when the intervals cannot decide, the advice says *undecided* and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gilbench.cell import Cell
from gilbench.stress import THREAD_FAMILIES, stress_words
from gilbench.units import fmt_bytes, fmt_time
from gilbench.verdicts import NO_GAIN_HIGH, cpu_interval

#: a cell *gains* when the low end of its 95% interval reaches the verdicts' no-gain line; *no
#: gain* when the high end stays below it (the band between is too close to call). One line for
#: the report's verdicts and this advice.
GAIN = NO_GAIN_HIGH
#: families that run the function in this interpreter's threads (they share one GIL)
_IN_PROCESS = frozenset({"threads", "asyncio"})

RULE = (f"Rule: only cells at 2 or more workers and no more than the usable cores count. "
        f"A cell gains when the low end of its speedup's 95% interval is >= {GAIN:g} (the "
        f"verdicts' no-gain line), and does not when the high end is below {GAIN:g}. A thread "
        f"or asyncio cell cannot gain when the GIL check says the function holds the GIL and "
        f"the cell's CPU utilisation (95% interval) stays below {GAIN:g} cores: its speedup is "
        f"not parallelism. Use the family (threads, processes, subinterpreters) whose best "
        f"gaining cell's interval lies wholly above every other family's best; when the best "
        f"cells of two gaining families overlap, the one with the lower cost per task wins. "
        f"Stay serial if no cell gains and none could; otherwise undecided. Cells left "
        f"undecided because the host stayed busy (too few undisturbed rounds) do not count, "
        f"and while any is left the advice is never to stay serial. "
        f"Never threads "
        f"(threads, a thread pool, asyncio.to_thread) for a function that failed the stress "
        f"test (--stress): its thread cells do not count. "
        f"Break-even task duration = cost per task x W/(W-1) at W workers (cost per task: an "
        f"empty task's round trip, plus pickling the arguments and results for processes and "
        f"subinterpreters).")

_LABEL = {
    "threads": "threads", "thread-pool": "a thread pool", "asyncio-to-thread": "asyncio.to_thread",
    "asyncio": "asyncio", "processes": "processes", "process-pipe": "processes over pipes",
    "process-pool": "a process pool", "asyncio-process": "asyncio with a process pool",
    "interpreters": "subinterpreters",
}
#: what to do when other processes kept the host busy
_BUSY_TODO = ("close what else runs and try again, or give it --max-wait SECONDS to wait for "
              "quiet moments")
_BUSY_ADVICE = f"so there is no verdict to advise from: {_BUSY_TODO}"
_FAMILY_WORDS = {"threads": "threads", "processes": "processes", "interpreters":
                 "subinterpreters", "asyncio": "asyncio"}


@dataclass(frozen=True)
class Recommendation:
    """``text``: the advice in words; ``rule``: how it was decided; ``code``: ``threads``,
    ``processes``, ``interpreters`` (or ``asyncio``), ``serial``, ``undecided`` or ``failed``."""

    text: str
    rule: str
    code: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _ok(cell: Cell) -> bool:
    return not cell.error and cell.speedup is not None and cell.speedup.low is not None \
        and cell.speedup.high is not None


def _sp(cell: Cell) -> str:
    s, w = cell.speedup, cell.workers
    return f"{s.median:.2f}x [{s.low:.2f}, {s.high:.2f}] at {w} worker{'s' * (w != 1)}"


def _family(cell: Cell) -> str:
    return cell.family or cell.executor


def _gil_clause(fn: str, gil: dict | None) -> str:
    if not gil or gil.get("fraction") is None:
        return ""
    pct = f"{gil['fraction'] * 100:.0f}%"
    if gil.get("verdict") == "holds":
        return f"`{fn}` holds the GIL (other threads run {pct} of the time)"
    return f"`{fn}` lets other threads run {pct} of the time ({gil.get('verdict')})"


def _cost_clause(executor: str, costs: dict) -> str:
    c = costs.get(executor) or {}
    if "pickle_s" in c and "args_bytes" in c:
        return (f" but pay {fmt_time(c['pickle_s'])} per task to pickle "
                f"{fmt_bytes(c['args_bytes'] + c.get('results_bytes', 0))}")
    if "per_task_s" in c:
        return f" at {fmt_time(c['per_task_s'])} per task"
    return ""


def _label(cell: Cell) -> str:
    return _LABEL.get(cell.executor, cell.executor)


def _gil_bound(cell: Cell, gil: dict | None) -> bool:
    """True for a thread (or asyncio) cell that cannot be parallel: the GIL check says the
    function holds the GIL and the cell's CPU utilisation stays below the gain line."""
    if (gil or {}).get("verdict") != "holds" or _family(cell) not in _IN_PROCESS:
        return False
    cpu = cpu_interval(cell)
    return cpu is not None and cpu[1] < GAIN


def _bound_clause(fn: str, cells: list[Cell], gil: dict | None) -> str:
    """Why the GIL-bound thread cells do not count, with the best of them."""
    if not cells:
        return ""
    c = max(cells, key=lambda c: c.speedup.median)
    util = c.cpu_utilization
    cores = f" on {util:.2f} cores" if isinstance(util, (int, float)) else ""
    return (f"{_label(c)} {_sp(c)}{cores} is not parallelism: {_gil_clause(fn, gil)}, so "
            "threads cannot gain")


def _per_task(cell: Cell, costs: dict) -> float | None:
    value = (costs.get(cell.executor) or {}).get("per_task_s")
    return float(value) if isinstance(value, (int, float)) else None


def recommend(doc: dict) -> Recommendation:
    """The advice for the workload measured in ``doc`` (a results document); reads nothing else.
    A function that failed the stress test never gets threads, and the advice says why."""
    section = doc.get("workload") or {}
    fn = (section.get("function") or "the function").partition(":")[2] or "the function"
    stressed = section.get("stress") or {}
    if stressed.get("verdict") != "failed":
        return _recommend(doc, fn)
    said = stressed.get("text") or stress_words(stressed, fn)
    why = f"never threads, because {said.rstrip('.')}"
    cells = [Cell.read(c) for c in doc.get("cells") or []]
    safe = [c for c in cells if _family(c) not in THREAD_FAMILIES]
    if not any(c.executor != "serial" for c in safe) and \
            any(c.executor == "serial" and not c.error for c in safe):
        return Recommendation(f"Stay serial: {why}; no executor other than threads was "
                              "measured (add --executors process-pool to compare one).",
                              RULE, "serial")
    rec = _recommend({**doc, "cells": safe}, fn)
    return Recommendation(f"{rec.text.rstrip('.')}; {why}.", rec.rule, rec.code)


def _recommend(doc: dict, fn: str) -> Recommendation:
    """The advice from ``doc``'s cells (``recommend`` leaves out the ones it rules out)."""
    section = doc.get("workload") or {}
    usable = int((doc.get("host") or {}).get("usable_cores") or 1)
    cells = [Cell.read(c) for c in doc.get("cells") or []]
    serial = next((c for c in cells if c.executor == "serial"), None)
    if serial is None or serial.error:
        why = serial.error if serial else "no serial cell"
        return Recommendation(f"Cannot advise: the serial run failed ({why}).", RULE, "failed")
    if serial.host_busy and serial.median_s is None:
        return Recommendation(f"Undecided: the host stayed busy, {_BUSY_ADVICE}; not one round "
                              "of the serial baseline was undisturbed.", RULE, "undecided")
    parallel = [c for c in cells if c.executor != "serial"]
    within = [c for c in parallel if c.workers <= max(usable, 1)] or parallel
    # one worker cannot run anything in parallel: it shows overhead, not the choice to make
    within = [c for c in within if c.workers >= 2] or within
    busy = [c for c in within if c.host_busy and not c.error]
    judged = [c for c in within if _ok(c) and not c.host_busy]
    if busy and not judged:
        return Recommendation(f"Undecided: the host stayed busy, {_BUSY_ADVICE}; {len(busy)} of "
                              f"{len(within)} cells got too few undisturbed rounds.", RULE,
                              "undecided")
    costs = section.get("executors") or {}
    gil = section.get("gil")
    task = section.get("task_s") or {}
    task_s = (serial.median_s / max(section.get("tasks") or 1, 1)
              if serial.median_s else task.get("median"))
    bound = [c for c in judged if _gil_bound(c, gil)]
    eligible = [c for c in judged if not _gil_bound(c, gil)]
    best: dict[str, Cell] = {}  # family -> its best cell by median
    for c in eligible:
        fam = _family(c)
        if fam not in best or c.speedup.median > best[fam].speedup.median:
            best[fam] = c
    gaining = {f: c for f, c in best.items() if c.speedup.low >= GAIN}
    not_parallel = _bound_clause(fn, bound, gil)
    if not judged:
        return Recommendation("Undecided: no cell at 2 or more workers was measured (see their "
                              "errors in the table).", RULE, "undecided")
    if not gaining:
        if busy:  # a busy cell could have gained: no "stay serial" without it
            return Recommendation(
                f"Undecided: no cell measured on a quiet moment gains, but the host stayed "
                f"busy for {len(busy)} of {len(within)}; {_BUSY_TODO}.", RULE, "undecided")
        if all(c.speedup.high < GAIN for c in eligible):
            return Recommendation(_serial_text(fn, best, costs, gil, task_s, not_parallel),
                                  RULE, "serial")
        c = _top(best)
        return Recommendation(
            f"Undecided: no executor is shown to gain, but {_label(c)} ({_sp(c)}) reaches "
            f"above {GAIN:g}x" + (f"; {not_parallel}" if not_parallel else "")
            + "; measure with more --repeats (or --max-repeats) on a quieter machine.",
            RULE, "undecided")
    top_family, top = max(gaining.items(), key=lambda kv: kv[1].speedup.median)
    rivals = [c for f, c in best.items() if f != top_family]
    tied = [c for f, c in gaining.items()
            if f != top_family and c.speedup.high >= top.speedup.low]
    why = ""
    if tied:
        contenders = [top, *tied]
        prices = {id(c): _per_task(c, costs) for c in contenders}
        if any(v is None for v in prices.values()):
            other = max(tied, key=lambda c: c.speedup.median)
            return Recommendation(
                f"Undecided between {_label(top)} ({_sp(top)}) and {_label(other)} "
                f"({_sp(other)}): the intervals overlap, both gain over serial, and the cost "
                "per task that would break the tie was not measured.", RULE, "undecided")
        top = min(contenders, key=lambda c: prices[id(c)])
        top_family = _family(top)
        rivals = [c for c in [*best.values()] if c is not top]
        others = [c for c in contenders if c is not top]
        why = "; " + "; ".join(
            f"{_label(o)} ({_sp(o)}) gains as much within the intervals but costs "
            f"{fmt_time(prices[id(o)])} per task against {fmt_time(prices[id(top)])}"
            + (" (pickling included)" if "pickle_s" in (costs.get(o.executor) or {}) else "")
            for o in others)
    clause = _gil_clause(fn, gil) if top_family == "threads" else ""
    text = f"Use {_label(top)}" + (f": {clause}; " if clause else ": ") + _sp(top) + why
    if not tied:
        runner_up = max(rivals, key=lambda c: c.speedup.median, default=None)
        if runner_up is not None and runner_up.family in ("threads", "processes",
                                                          "interpreters"):
            fam = _FAMILY_WORDS.get(runner_up.family, runner_up.family)
            text += (f"; {fam} reach {runner_up.speedup.median:.2f}x"
                     + _cost_clause(runner_up.executor, costs))
    if not_parallel and top_family != "threads":
        text += f"; {not_parallel}"
    if busy:
        text += (f"; {len(busy)} cell{'s' * (len(busy) != 1)} left undecided by a busy host "
                 "not counted")
    return Recommendation(text + ".", RULE, top_family)


def _top(best: dict[str, Cell]) -> Cell | None:
    return max(best.values(), key=lambda c: c.speedup.median, default=None)


def _serial_text(fn: str, best: dict[str, Cell], costs: dict, gil: dict | None,
                 task_s: float | None, not_parallel: str = "") -> str:
    """Why no executor gains, from the numbers: tasks below break-even, or the GIL held."""
    evens = [c["break_even_task_s"] for c in costs.values()
             if isinstance(c.get("break_even_task_s"), (int, float))]
    if task_s is not None and evens and task_s < min(evens):
        return (f"Stay serial: tasks of {fmt_time(task_s)} are below every executor's "
                f"break-even (the lowest is {fmt_time(min(evens))})"
                + (f"; {not_parallel}." if not_parallel else "."))
    top = _top(best)
    text = "Stay serial: no executor gains"
    if top is not None:
        text += f" (best: {_label(top)} {_sp(top)})"
    if not_parallel:
        return text + f"; {not_parallel}."
    reason = _gil_clause(fn, gil)
    return text + (f"; {reason}." if reason else ".")
