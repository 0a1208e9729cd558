"""Run every kernel variant under every chosen executor and worker count, and write the speedups
to a results file as cells finish (an interrupted run keeps every finished cell).

Each (kernel, variant) is calibrated so its serial run lasts --target-time, then every cell runs
once cold (pool start-up included) and --repeats times warm, interleaved. Speedup is against the
same variant's serial time, with a bootstrap 95% interval; CPU utilisation is the sum of the
tasks' thread CPU time over wall time (effective cores used).

A worker that crashes, or a run longer than --timeout, fails that one cell (its error says why)
and the run goes on. Ctrl-C or SIGTERM stops the run cleanly: the workers are stopped, every
kernel variant finished so far stays in the results file, and `gilbench run --resume FILE`
measures the missing cells with the configuration recorded in FILE (options given along must
agree with it; --timeout and --report may differ)."""

from __future__ import annotations

import argparse
import math
import time
from collections import deque

HELP = "measure speedups (the main job); writes a results file, optionally a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from gilbench import executors, kernels
    from gilbench.cli import positive_int, positive_seconds
    from gilbench.runner import (DEFAULT_REPEATS, DEFAULT_TARGET_S, MIN_TIMEOUT_S, QUICK_TARGET_S,
                                 TIMEOUT_TARGETS)

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
    parser.add_argument("--repeats", type=positive_int, metavar="N",
                        help=f"measured repeats per cell after a cold run (default {DEFAULT_REPEATS})")
    parser.add_argument("--target-time", type=positive_seconds, metavar="S",
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
    parser.add_argument("--timeout", type=positive_seconds, metavar="S",
                        help=f"time limit of one run of one cell: a cell over it is stopped and "
                             f"recorded as timed out (default: {MIN_TIMEOUT_S:g} s or "
                             f"{TIMEOUT_TARGETS}x the target time, whichever is longer)")
    parser.add_argument("--size", action="append", metavar="K=N",
                        help="advanced: measure kernel K at size N instead of calibrating it "
                             "(repeatable, or K=N,K2=N2)")
    parser.add_argument("--resume", metavar="FILE",
                        help="carry on with an interrupted run: measure only the cells missing "
                             "from FILE, with the configuration recorded in it, and add them "
                             "to FILE (other options may be repeated if they agree with FILE; "
                             "--timeout and --report may be changed)")
    parser.add_argument("--python", dest="pythons", action="append", metavar="PATH",
                        help="run the same matrix under this interpreter (repeatable; gilbench "
                             "must be installed there), one after another, each to its own "
                             "file (--out with the interpreter's tag, e.g. results-3.13.5t.json),"
                             " then compare the builds (results-builds.json/.md)")


def config_from_args(args: argparse.Namespace):
    """A RunConfig from the command line; UsageError for anything invalid."""
    from gilbench import executors, host, kernels
    from gilbench.cli import UsageError, parse_names, parse_positive_ints, parse_sizes
    from gilbench.runner import (DEFAULT_REPEATS, DEFAULT_TARGET_S, MAX_WORKERS, QUICK_TARGET_S,
                                 RunConfig, default_workers, resolve_start_method)

    if getattr(args, "resume", None) is not None and getattr(args, "pythons", None):
        raise UsageError("--resume cannot be combined with --python; resume each interpreter's "
                         "file with that interpreter: PATH -m gilbench run --resume FILE")
    kernel_names = parse_names(args.kernels, kernels.names(), "kernel") or kernels.names()
    variants = parse_names(args.variants, kernels.VARIANT_ORDER, "variant")
    if args.executors == "all":
        executor_names = executors.names()
    else:
        executor_names = parse_names(args.executors, executors.names(), "executor") or list(
            executors.DEFAULT)
    usable = host.usable_cores()
    workers = (parse_positive_ints(args.workers, "--workers", MAX_WORKERS)
               if args.workers is not None else default_workers(usable, args.quick))
    repeats = DEFAULT_REPEATS if args.repeats is None else args.repeats
    if repeats < 1:
        raise UsageError(f"--repeats must be a positive integer, got {repeats}")
    target = args.target_time if args.target_time is not None else (
        QUICK_TARGET_S if args.quick else DEFAULT_TARGET_S)
    if not (target > 0 and math.isfinite(target)):
        raise UsageError(f"--target-time must be a positive number of seconds, got {target}")
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")
    try:
        start_method = resolve_start_method(args.start_method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if variants is not None:
        offered = {v.name for k in kernel_names for v in kernels.get(k).variants}
        if not offered & set(variants):
            raise UsageError(f"none of the kernels {', '.join(kernel_names)} has a variant "
                             f"{' or '.join(variants)}; they have: {', '.join(sorted(offered))}")
    sizes = parse_sizes(getattr(args, "size", None), kernels.names(),
                        lambda name: kernels.get(name).min_size)
    idle = sorted(set(sizes) - set(kernel_names))
    if idle:
        raise UsageError(f"--size {idle[0]}=...: {idle[0]} is not among the kernels being run "
                         f"({', '.join(kernel_names)})")
    return RunConfig(kernel_names, variants, executor_names, sorted(set(workers)), repeats,
                     target, args.quick, "weak" if args.weak else "strong", start_method,
                     sizes=sizes, timeout_s=timeout)


def _check_writable(path: str) -> None:
    from gilbench.cli import check_output_file

    check_output_file(path, "--out")


#: options that decide what a run measures: with --resume they may only repeat the file's values
_RESUME_CHECKED = ("kernels", "variants", "executors", "workers", "repeats", "target_time",
                   "quick", "weak", "start_method", "size")


def resume_config(args: argparse.Namespace, doc: dict):
    """The RunConfig to resume ``doc`` with: the one it records, or UsageError if options given
    on the command line ask for something else (or the host is not the one it was measured on).
    """
    import os

    from gilbench import host
    from gilbench.errors import UsageError
    from gilbench.runner import RunConfig, resume_problems

    path = args.resume
    try:
        recorded = RunConfig.from_dict(doc["config"])
    except ValueError as exc:
        raise UsageError(f"cannot resume {path}: {exc}") from None
    if args.out not in (None, "results.json") and (
            os.path.abspath(args.out) != os.path.abspath(path)):
        raise UsageError(f"--resume {path} adds the missing cells to {path} itself; "
                         f"drop --out {args.out}")
    given = [name for name in _RESUME_CHECKED if getattr(args, name, None) not in (None, False)]
    conflicts = []
    if given:
        asked = config_from_args(args)
        for name in given:
            field = {"target_time": "target_time_s", "weak": "scaling", "size": "sizes"}.get(
                name, name)
            mine, theirs = getattr(asked, field), getattr(recorded, field)
            if field in ("kernels", "executors", "variants") and mine is not None \
                    and theirs is not None:
                same = set(mine) == set(theirs)
            elif field == "target_time_s":
                same = math.isclose(mine, theirs, rel_tol=1e-9)
            else:
                same = mine == theirs
            if not same:
                shown = theirs if not isinstance(theirs, list) else ",".join(map(str, theirs))
                conflicts.append(f"--{name.replace('_', '-')} ({path} has {shown})")
    if conflicts:
        raise UsageError(f"--resume takes the configuration from {path}, and these options ask "
                         f"for something else: {'; '.join(conflicts)}. Drop them, or start a new "
                         "run with another --out")
    problems = resume_problems(doc, host.host_info())
    if problems:
        raise UsageError(f"{path} was measured on another host or interpreter "
                         f"({'; '.join(problems)}); its cells and new ones would not be "
                         "comparable: start a new run instead")
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        recorded.timeout_s = timeout  # a safety limit, not part of what is measured
    return recorded


def _read_resume(path: str) -> dict:
    from gilbench import results
    from gilbench.errors import UsageError

    try:
        return results.read(path)
    except results.ResultsError as exc:
        raise UsageError(f"cannot resume: {exc}") from None


def prepare(args: argparse.Namespace):
    """Everything ``main`` needs before it measures, every option checked (UsageError):
    (config, results path, the document to resume or None, keys of the cells it already has).
    Runs nothing."""
    from gilbench.cli import UsageError, check_output_dir, check_output_file
    from gilbench.runner import cell_key

    if args.report is not None:
        check_output_dir(args.report, "--report")
    if getattr(args, "resume", None) is not None:
        if not args.resume.strip():
            raise UsageError("--resume needs the results file of the run to carry on with")
        doc = _read_resume(args.resume)
        config = resume_config(args, doc)
        check_output_file(args.resume, "--resume")
        return config, args.resume, doc, {cell_key(c) for c in doc["cells"]}
    config = config_from_args(args)
    _check_writable(args.out)
    return config, args.out, None, set()


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
    from gilbench.executors.base import lingering_threads
    from gilbench.runner import (Events, Interrupted, cell_key, finish_document, plan,
                                 resumed_document, run_matrix, runs_to_do, start_document,
                                 stop_on_signals)

    if getattr(args, "pythons", None):
        from gilbench.multi import main_multi

        return main_multi(args)
    config, out, resumed, done = prepare(args)
    console = Console(stderr=True)
    if not console.is_terminal:  # logs and CI: do not squeeze the tables into 80 columns
        console.width = max(console.width, 140)
    groups = plan(config)
    total_runs = runs_to_do(config, done)
    n_cells = sum(len(specs) for _, _, specs in groups)
    missing = sum(1 for _, _, specs in groups for spec in specs if spec.key not in done)
    usable = host.usable_cores()
    if resumed is not None:
        if not missing:
            console.print(f"nothing to resume: {out} already has all {n_cells} cells")
            return 0
        console.print(f"[bold]resuming[/] {out}: {n_cells - missing} of {n_cells} cells are "
                      f"there; measuring the {missing} missing ones with its configuration")
    console.print(
        f"[bold]gilbench run[/]: {len(config.kernels)} kernels, {len(groups)} kernel variants, "
        f"{n_cells} cells ({', '.join(config.executors)} at workers "
        f"{','.join(map(str, config.workers))}), {config.repeats} repeats, serial target "
        f"{config.target_time_s:g} s; {usable} usable cores; start method {config.start_method}; "
        f"time limit {config.run_timeout_s:g} s per run"
    )
    doc = (resumed_document(resumed) if resumed is not None
           else start_document(config, results_argv(args)))
    writer = results.ResultsWriter(out, doc)
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
    events.on_calibrated = lambda k, v, size, s: progress.update(
        task, description=f"{k}/{v} size {size:,}" + ("" if s != s else f" ({s:.2f} s serial)"))

    runs_seen: dict[tuple, int] = {}
    current: list[str] = []  # the group being measured, for the interrupt message

    def on_group_start(kernel, variant, runs):
        current[:] = [f"{kernel}/{variant}"]
        progress.update(task, description=f"{kernel}/{variant}: calibrating")

    def on_group_done(kernel, variant):
        current.clear()

    def on_run(spec, raw):
        runs_seen[spec.key] = runs_seen.get(spec.key, 0) + 1
        progress.advance(task)

    def on_cell(cell):
        recent.append(cell)
        key = (cell["kernel"], cell["variant"], cell["executor"], cell["workers"])
        unseen = (1 + config.repeats) - runs_seen.get(key, 0)
        if unseen > 0:
            progress.advance(task, unseen)  # cells that could not be measured at all
        live.update(Group(progress, table()))

    events.on_group_start = on_group_start
    events.on_group_done = on_group_done
    events.on_run = on_run
    events.on_cell = on_cell
    interrupted: KeyboardInterrupt | None = None
    with stop_on_signals():
        try:
            with live:
                run_matrix(config, writer, events, skip=done)
        except KeyboardInterrupt as exc:  # Interrupted (a signal), or one from elsewhere
            interrupted = exc
            # the workers are stopped by now; make sure the file holds every finished cell
            results.write(writer.doc, writer.path)
    if not console.is_terminal:
        console.line()  # Live's last frame ends without a newline when not on a terminal
    if interrupted is not None:
        how = interrupted.description if isinstance(interrupted, Interrupted) else "Ctrl-C"
        kept = {cell_key(c) for c in writer.doc["cells"]}
        left = sum(1 for _, _, specs in groups for spec in specs if spec.key not in kept)
        console.print(
            f"[yellow]interrupted[/] by {how}: the workers were stopped. "
            f"{len(writer.doc['cells'])} finished cells are in {out}"
            + (f" (the cells of {current[0]} being measured are not)" if current else "") + ".")
        console.print(f"to measure the {left} missing cells: gilbench run --resume {out}")
        status = interrupted.exit_status if isinstance(interrupted, Interrupted) else 130
        return _exit(status, console, lingering_threads)
    finish_document(writer, started)
    console.print(f"{len(writer.doc['cells'])} cells in {time.perf_counter() - started:.0f} s; "
                  f"results: {out}")
    print_summary(writer.doc, console)
    print_failures(writer.doc, console)
    if args.report:
        from gilbench.report import write_report

        paths = write_report(writer.doc, args.report)
        console.print(f"report: {paths.get('html', args.report)}")
    return _exit(0, console, lingering_threads)


def _exit(status: int, console, lingering_threads) -> int:
    """``status``, or, if worker threads could not be stopped, end the process right here:
    Python would wait for them at exit (pool threads) or could not finalize (C code holding
    the GIL). Every result is on disk by now."""
    import os
    import sys

    stuck = lingering_threads(wait_s=1.0)
    if not stuck:
        return status
    console.print(f"[yellow]{len(stuck)} worker thread{'s' if len(stuck) > 1 else ''} could not "
                  "be stopped (blocked outside Python code); gilbench exits without waiting "
                  "for them[/]")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def print_failures(doc: dict, console, limit: int = 20) -> None:
    """The cells that failed or timed out, with their errors (print_summary shows one worker
    count only)."""
    from rich.table import Table

    failed = [c for c in doc["cells"] if c.get("error")]
    if not failed:
        return
    timed_out = sum(1 for c in failed if c.get("timed_out"))
    t = Table(title=f"{len(failed)} cells failed" + (f", {timed_out} of them timed out"
                                                       if timed_out else ""))
    for col in ("kernel", "variant", "executor", "W", "error"):
        t.add_column(col, overflow="fold")
    for c in failed[:limit]:
        t.add_row(c["kernel"], c["variant"], c["executor"], str(c["workers"]), c["error"])
    console.print(t)
    if len(failed) > limit:
        console.print(f"... and {len(failed) - limit} more (see the results file)")


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
