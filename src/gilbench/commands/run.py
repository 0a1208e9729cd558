"""Run every kernel variant under every chosen executor and worker count, and write the speedups
to a results file as cells finish (an interrupted run keeps every finished cell).

Each (kernel, variant) is calibrated so its serial run lasts --target-time, then every cell runs
once cold (pool start-up included) and --repeats times warm, interleaved. Speedup is against the
same variant's serial time, with a bootstrap 95% interval; CPU utilisation is the sum of the
tasks' thread CPU time over wall time (effective cores used)."""

from __future__ import annotations

import argparse
import math
import time
from collections import deque

HELP = "measure speedups (the main job); writes a results file, optionally a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from gilbench import executors, kernels
    from gilbench.runner import DEFAULT_REPEATS, DEFAULT_TARGET_S, QUICK_TARGET_S

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--kernels", metavar="K,..",
                        help=f"kernels to run (default: all): {', '.join(kernels.names())}")
    parser.add_argument("--variants", metavar="V,..",
                        help=f"variants to run (default: all each kernel has): "
                             f"{', '.join(kernels.VARIANT_ORDER)}")
    parser.add_argument("--executors", metavar="E,..",
                        help=f"executors (default: {','.join(executors.DEFAULT)}; 'all' for every "
                             f"one): {', '.join(executors.names())}")
    parser.add_argument("--workers", metavar="1,2,4",
                        help="worker counts (default: 1, 2, 4, ... up to twice the usable cores)")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help=f"measured repeats per cell after a cold run (default {DEFAULT_REPEATS})")
    parser.add_argument("--target-time", type=float, metavar="S",
                        help=f"seconds a serial run should last after calibration "
                             f"(default {DEFAULT_TARGET_S}, --quick {QUICK_TARGET_S})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and worker counts 1 and the usable cores: about a minute")
    parser.add_argument("--weak", action="store_true",
                        help="weak scaling: fixed work per worker (default: strong, fixed total)")
    parser.add_argument("--start-method", choices=["fork", "spawn", "forkserver"],
                        help="how process executors start workers (default: the platform's)")
    parser.add_argument("--out", default="results.json", metavar="FILE",
                        help="results file, rewritten as cells finish (default results.json)")
    parser.add_argument("--report", metavar="DIR",
                        help="also write the report (report.md, report.html, plots) to DIR")


def config_from_args(args: argparse.Namespace):
    """A RunConfig from the command line; UsageError for anything invalid."""
    from gilbench import executors, host, kernels
    from gilbench.cli import UsageError, parse_names, parse_positive_ints
    from gilbench.runner import (DEFAULT_REPEATS, DEFAULT_TARGET_S, QUICK_TARGET_S, RunConfig,
                                 default_workers, resolve_start_method)

    kernel_names = parse_names(args.kernels, kernels.names(), "kernel") or kernels.names()
    variants = parse_names(args.variants, kernels.VARIANT_ORDER, "variant")
    if args.executors == "all":
        executor_names = executors.names()
    else:
        executor_names = parse_names(args.executors, executors.names(), "executor") or list(
            executors.DEFAULT)
    usable = host.usable_cores()
    workers = (parse_positive_ints(args.workers, "--workers") if args.workers
               else default_workers(usable, args.quick))
    repeats = DEFAULT_REPEATS if args.repeats is None else args.repeats
    if repeats < 1:
        raise UsageError(f"--repeats must be a positive integer, got {repeats}")
    target = args.target_time if args.target_time is not None else (
        QUICK_TARGET_S if args.quick else DEFAULT_TARGET_S)
    if not (target > 0 and math.isfinite(target)):
        raise UsageError(f"--target-time must be a positive number of seconds, got {target}")
    try:
        start_method = resolve_start_method(args.start_method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if variants is not None:
        offered = {v.name for k in kernel_names for v in kernels.get(k).variants}
        if not offered & set(variants):
            raise UsageError(f"none of the kernels {', '.join(kernel_names)} has a variant "
                             f"{' or '.join(variants)}; they have: {', '.join(sorted(offered))}")
    return RunConfig(kernel_names, variants, executor_names, sorted(set(workers)), repeats,
                     target, args.quick, "weak" if args.weak else "strong", start_method)


def _check_writable(path: str) -> None:
    import os

    from gilbench.cli import UsageError

    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise UsageError(f"--out {path!r} is a directory; give a file name such as results.json")
    if not os.path.isdir(directory):
        raise UsageError(f"--out {path!r}: directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"--out {path!r}: directory {directory!r} is not writable")


def _fmt_speedup(cell: dict) -> str:
    sp = cell.get("speedup")
    if cell.get("error"):
        return "[red]failed[/]"
    if not sp:
        return "-"
    return f"{sp['median']:.2f}x [{sp['low']:.2f}, {sp['high']:.2f}]"


def main(args: argparse.Namespace) -> int:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)
    from rich.table import Table

    from gilbench import host, results
    from gilbench.runner import Events, finish_document, plan, run_matrix, start_document

    config = config_from_args(args)
    _check_writable(args.out)
    console = Console(stderr=True)
    if not console.is_terminal:  # logs and CI: do not squeeze the tables into 80 columns
        console.width = max(console.width, 140)
    groups = plan(config)
    total_runs = sum(len(specs) * (1 + config.repeats) for _, _, specs in groups)
    n_cells = sum(len(specs) for _, _, specs in groups)
    usable = host.usable_cores()
    console.print(
        f"[bold]gilbench run[/]: {len(config.kernels)} kernels, {len(groups)} kernel variants, "
        f"{n_cells} cells ({', '.join(config.executors)} at workers "
        f"{','.join(map(str, config.workers))}), {config.repeats} repeats, serial target "
        f"{config.target_time_s:g} s; {usable} usable cores; start method {config.start_method}"
    )
    writer = results.ResultsWriter(args.out, start_document(config, results_argv(args)))
    started = time.perf_counter()

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    task = progress.add_task("starting", total=total_runs)
    recent: deque = deque(maxlen=12)

    def table() -> Table:
        t = Table(title="latest cells", expand=False)
        for col in ("kernel", "variant", "executor", "W", "median", "speedup [95% CI]", "CPU util",
                    "note"):
            t.add_column(col)
        for cell in recent:
            med = cell.get("median_s")
            note = cell.get("error") or ("" if cell.get("stable") else
                                         (cell.get("unstable_reason") or ""))
            util = cell.get("cpu_utilization")
            t.add_row(cell["kernel"], cell["variant"], cell["executor"], str(cell["workers"]),
                      "-" if med is None else f"{med * 1e3:.1f} ms", _fmt_speedup(cell),
                      "-" if util is None else f"{util:.2f}", (note or "")[:60])
        return t

    live = Live(Group(progress, table()), console=console, refresh_per_second=4, transient=False)
    events = Events()
    events.on_group_start = lambda k, v, runs: progress.update(task, description=f"{k}/{v}: calibrating")
    events.on_calibrated = lambda k, v, size, s: progress.update(
        task, description=f"{k}/{v} size {size:,}" + ("" if s != s else f" ({s:.2f} s serial)"))

    def on_run(spec, raw):
        progress.advance(task)

    def on_cell(cell):
        recent.append(cell)
        skipped = (1 + config.repeats) - (len(cell["wall_s"]) + (cell["cold_wall_s"] is not None))
        if skipped > 0 and cell.get("error"):
            progress.advance(task, skipped)  # failed cells stop early
        live.update(Group(progress, table()))

    events.on_run = on_run
    events.on_cell = on_cell
    interrupted = False
    try:
        with live:
            run_matrix(config, writer, events)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        console.print(f"[yellow]interrupted[/]: {len(writer.doc['cells'])} finished cells kept in "
                      f"{args.out}")
        return 130
    finish_document(writer, started)
    console.print(f"{len(writer.doc['cells'])} cells in {time.perf_counter() - started:.0f} s; "
                  f"results: {args.out}")
    print_summary(writer.doc, console)
    if args.report:
        from gilbench.report import write_report

        paths = write_report(writer.doc, args.report)
        console.print(f"report: {paths.get('html', args.report)}")
    return 0


def results_argv(args: argparse.Namespace) -> list[str]:
    import sys

    return ["gilbench", *sys.argv[1:]] if sys.argv and sys.argv[0].endswith("gilbench") else [
        "gilbench", "run"]


def print_summary(doc: dict, console) -> None:
    """A table of every cell at the largest worker count not above the usable cores."""
    from rich.table import Table

    usable = doc["host"].get("usable_cores", 1)
    cells = doc["cells"]
    counts = sorted({c["workers"] for c in cells if c["executor"] != "serial"})
    at = max([w for w in counts if w <= usable] or counts or [1])
    t = Table(title=f"speedup at {at} workers ({usable} usable cores)")
    for col in ("kernel", "variant", "executor", "speedup [95% CI]", "CPU util", "efficiency",
                "note"):
        t.add_column(col)
    for c in cells:
        if c["executor"] == "serial" or c["workers"] != at:
            if not (c["executor"] == "serial" and c.get("error")):
                continue
        util = c.get("cpu_utilization")
        eff = c.get("efficiency")
        note = c.get("error") or ("" if c.get("stable") else (c.get("unstable_reason") or ""))
        t.add_row(c["kernel"], c["variant"], c["executor"], _fmt_speedup(c),
                  "-" if util is None else f"{util:.2f}", "-" if eff is None else f"{eff:.2f}",
                  (note or "")[:70])
    console.print(t)
