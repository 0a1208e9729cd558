"""Measure your own function: which executor for *this* code, and does it release the GIL?

FUNCTION is MODULE:FUNCTION and --tasks MODULE:FACTORY, where FACTORY() returns the tasks as a
list of argument tuples (modules are found on sys.path and in the current directory, as
`python -m` finds them). Every task list runs serially, under threads, a thread pool,
asyncio.to_thread and a process pool (and subinterpreters where Python has them); every
executor's results must equal the serial run's. gilbench also measures how much of a call lets
other threads run (the GIL check), each executor's cost per task and the task duration below
which it cannot pay, and prints a recommendation with the rule behind it. On a free-threaded
build, if importing your module turns the GIL back on, it stops there and names the extension
module that did it, with the fix. A race shows only sometimes: --stress N runs the tasks N
times under threads at each worker count (at least 2) and compares every result with the
serial run's; a function that fails it is never advised to use threads. With --python PATH
(repeatable) the same function and tasks run under each interpreter too, side by side.

Example: gilbench try examples.sha256_buffers:digest --tasks examples.sha256_buffers:tasks"""

from __future__ import annotations

import argparse

from gilbench import executors, host
from gilbench.cell import Cell
from gilbench.commands._args import check_output_dir, check_output_file, options_as_argv
from gilbench.commands._terminal import make_console
from gilbench.report import write_report
from gilbench.run.config import (DEFAULT_MAX_REPEATS, DEFAULT_REPEATS, MIN_TIMEOUT_S,
                                 TIMEOUT_TARGETS, check_options)
from gilbench.run.options import (add_run_options, all_executors, given_engine_options,
                                  parse_executors, parse_workers, positive_int)
from gilbench.units import fmt_bytes, fmt_time
from gilbench.usercode.builds import run_try_builds
from gilbench.usercode.measure import default_executors, measure
from gilbench.usercode.workload import Workload
from gilbench.verdicts import HOST_BUSY_LABEL

#: the run options (``run.options.add_run_options``) that ``try`` takes, with ``run``'s meaning
TRY_OPTIONS = ("executors", "workers", "repeats", "max_repeats", "quick", "start_method",
               "timeout", "max_wait", "dask_scheduler")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("function", metavar="MODULE:FUNCTION", help="the function to measure")
    parser.add_argument("--tasks", required=True, metavar="MODULE:FACTORY",
                        help="FACTORY() returns the tasks: a list of argument tuples")
    add_run_options(parser.add_argument, only=TRY_OPTIONS, helps={
        "executors": "executors (default: serial, threads, thread-pool, asyncio-to-thread, "
                     f"process-pool, interpreters where available; {all_executors()}): "
                     f"{', '.join(executors.names())}",
        "workers": "worker counts (default: 1, 2, 4, ... up to the physical cores, the hardware "
                   "threads and one oversubscribed point)",
        "repeats": f"paired rounds every cell gets, at least {DEFAULT_REPEATS} (default "
                   f"{DEFAULT_REPEATS}); cells whose verdict is undecided get more, as in "
                   "`gilbench run`",
        "max_repeats": "cap on the rounds of a cell whose verdict is still undecided (default "
                       f"{DEFAULT_MAX_REPEATS}, also with --quick)",
        "quick": "worker counts 1 and the usable cores, a smaller rounds budget",
        "timeout": f"time limit of one run of one cell (default: {MIN_TIMEOUT_S:g} s or "
                   f"{TIMEOUT_TARGETS}x the serial run, whichever is longer)"})
    parser.add_argument("--compare", metavar="MODULE:FUNC",
                        help="FUNC(a, b) -> bool decides whether two results of a task agree "
                             "(default ==)")
    parser.add_argument("--stress", type=positive_int, metavar="N",
                        help="race hunting: run the tasks N times under threads at every "
                             "worker count of 2 or more (on a GIL build with the switch "
                             "interval at 1 µs, restored after), compare each result with the "
                             "serial run's, report the first mismatch (run, task, expected, "
                             "got) and how many runs differed; threads are never advised for "
                             "a function that fails")
    parser.add_argument("--out", metavar="FILE",
                        help="results file (default try-MODULE.FUNCTION.json, so it never "
                             "replaces `gilbench run`'s results.json); `gilbench report` "
                             "renders it")
    parser.add_argument("--report", metavar="DIR",
                        help="also write the report (report.md, report.html, plots) to DIR")
    parser.add_argument("--python", dest="pythons", action="append", metavar="PATH",
                        help="also measure the function under this interpreter (repeatable; "
                             "gilbench and the function's modules must be installed there): "
                             "each interpreter, this one included, runs its own `gilbench try` "
                             "one after another (--out with its tag, e.g. "
                             "try-F-3.13.5t.json), then --out gets one document and the report "
                             "one section with the interpreters side by side and the advice "
                             "across them")


def default_out(function: str) -> str:
    """The results file of ``gilbench try MODULE:FUNCTION`` when --out is not given:
    try-MODULE.FUNCTION.json (one per function; `run`'s results.json stays untouched)."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "." for ch in function.strip())
    return f"try-{safe.strip('.') or 'function'}.json"


def main(args: argparse.Namespace) -> int:
    from rich.markup import escape

    out_file = args.out if args.out is not None else default_out(args.function)
    # every option is checked before anything runs or is written
    check_output_file(out_file, "--out")
    if args.report is not None:
        check_output_dir(args.report, "--report")
    engine = given_engine_options(lambda name: getattr(args, name))
    names = parse_executors(args.executors, engine)
    workers = parse_workers(args.workers)
    check_options(executors=names or default_executors(), workers=workers,
                  repeats=args.repeats, max_repeats=args.max_repeats,
                  start_method=args.start_method, timeout_s=args.timeout,
                  max_wait_s=args.max_wait, **engine)
    if args.pythons:  # each interpreter loads the function itself (usercode.builds)
        return _across_interpreters(args, out_file)
    work = Workload(args.function, args.tasks, args.compare)
    # the user's names and messages are printed literally: no markup, no :emoji: codes
    console = make_console(stderr=True)
    console.print(f"[bold]gilbench try[/] {escape(work.name)}: {len(work.tasks)} tasks; "
                  f"{host.usable_cores()} usable cores")
    doc = measure(work, executors_=names, workers=workers, repeats=args.repeats,
                  max_repeats=args.max_repeats,
                  quick=args.quick, start_method=args.start_method, timeout_s=args.timeout,
                  dask_scheduler=engine["dask_scheduler"], max_wait_s=args.max_wait,
                  out=out_file, argv=["gilbench", "try", *_argv_tail()], stress=args.stress,
                  say=lambda text: console.print(f"  {escape(text)}"))
    out = make_console(stderr=False)
    print_table(doc, out)
    rec = doc["workload"]["recommendation"]
    out.print(f"\n[bold]{escape(rec['text'])}[/]")
    out.print(f"[dim]{escape(rec['rule'])}[/]")
    out.print(f"results: {escape(out_file)}")
    if args.report:
        paths = write_report(doc, args.report)
        out.print(f"report: {escape(str(paths.get('html', args.report)))}")
    if rec.get("code") == "failed":  # the function itself fails: say where, exit 1
        section = doc["workload"]
        console.print(f"[bold red]{escape(work.name)} failed in the serial check run on "
                      f"{escape(section.get('check_error') or 'its tasks')}[/]; fix the function "
                      "(or its tasks) and run gilbench try again.")
        if section.get("check_traceback"):
            console.print(escape(section["check_traceback"].rstrip()), highlight=False)
        return 1
    return 0


def _across_interpreters(args: argparse.Namespace, out_file: str) -> int:
    """``try --python``: the function under each interpreter, side by side."""

    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    forwarded = options_as_argv(args, parser, leave_out=("pythons", "out", "report"))
    return run_try_builds(args.pythons, args.function, args.tasks, args.compare, forwarded,
                          out_file, args.report, ["gilbench", "try", *_argv_tail()],
                          make_console(stderr=True), make_console(stderr=False))


def _argv_tail() -> list[str]:
    import sys

    return sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "try" else []


def gil_line(gil: dict) -> str:
    """The measured GIL check on one line, verdict first (under 80 columns), e.g.
    "GIL check, first task: releases, other threads ran 97% [95-99%] of the time"."""
    return (f"GIL check, first task: {gil['verdict']}, other threads ran "
            f"{gil['fraction'] * 100:.0f}% [{gil['low'] * 100:.0f}-{gil['high'] * 100:.0f}%] "
            "of the time")


def print_table(doc: dict, console) -> None:
    """Every cell (speedup, CPU utilisation, error), then each executor's cost per task."""
    from rich.markup import escape
    from rich.table import Table

    section = doc["workload"]
    gil = section.get("gil") or {}
    if gil.get("fraction") is not None:
        # the verdict first and the line short: an 80-column terminal used to break it off
        console.print(escape(gil_line(gil)), highlight=False)
    else:
        console.print(f"GIL check: {gil.get('verdict', 'undecided')} "
                      f"({escape(str(gil.get('reason')))})")
    t = Table(title=escape(f"{section['function']}: {section['tasks']} tasks"))
    for col in ("executor", "W", "median", "speedup [95% CI]", "CPU util", "note"):
        t.add_column(col, overflow="fold")
    for c in map(Cell.read, doc["cells"]):
        sp, util, med = c.speedup, c.cpu_utilization, c.median_s
        t.add_row(c.executor, str(c.workers), fmt_time(med, "-"),
                  "-" if not sp else f"{sp.median:.2f}x [{sp.low:.2f}, {sp.high:.2f}]",
                  "-" if util is None else f"{util:.2f}",
                  escape(c.error or (HOST_BUSY_LABEL if c.host_busy else "")))
    console.print(t)
    costs = Table(title="cost per task (one task per submission) and break-even task duration")
    for col in ("executor", "W", "per task", "pickled per task", "break-even"):
        costs.add_column(col, overflow="fold")
    for name, c in (section.get("executors") or {}).items():
        pickled = (f"{fmt_bytes(c['args_bytes'] + c['results_bytes'])} in "
                   f"{fmt_time(c['pickle_s'])}" if "pickle_s" in c else "-")
        costs.add_row(name, str(c.get("workers", "-")),
                      fmt_time(c["per_task_s"]) if "per_task_s" in c
                      else escape(c.get("error", "-")),
                      pickled, fmt_time(c["break_even_task_s"])
                      if "break_even_task_s" in c else "-")
    task = section.get("task_s") or {}
    console.print(costs)
    if task:
        console.print(f"serial check run: median task {fmt_time(task['median'])}")
    stressed = section.get("stress")
    if stressed:
        style = {"failed": "bold red", "passed": "green"}.get(stressed.get("verdict"), "yellow")
        console.print(f"[{style}]stress test[/]: {escape(stressed.get('text') or '')}")
