"""Run every kernel variant under every chosen executor and worker count, and write the speedups
to a results file as cells finish (an interrupted run keeps every finished cell).

Each (kernel, variant) is calibrated so its serial run lasts --target-time, then every cell runs
once cold (pool start-up included) and --repeats times warm, interleaved. Speedup is against the
same variant's serial time, per paired round: the Hodges–Lehmann centre of the per-round log
ratios with Wilcoxon's signed-rank 95% interval; CPU utilisation is the sum of the
tasks' thread CPU time over wall time (effective cores used).

A worker that crashes, or a run longer than --timeout, fails that one cell (its error says why)
and the run goes on. Ctrl-C or SIGTERM stops the run cleanly: the workers are stopped, every
kernel variant finished so far stays in the results file, and `gilbench run --resume FILE`
measures the missing cells with the configuration recorded in FILE (options given along must
agree with it; --timeout and --report may differ).

--check-claims ID,... is a gate for CI: after the run, the named claims are decided from the
results (as the report decides them) and the run exits with status 1 if one is refuted."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque

from gilbench import host, noise, results
from gilbench.cell import Cell
from gilbench.commands._terminal import make_console, terminal_table, time_left_column
from gilbench.commands._args import check_output_dir, check_output_file, forwarded_arguments
from gilbench.errors import UnknownNameError, UsageError
from gilbench.executors.base import lingering_threads
from gilbench.report import claims_of, write_report
from gilbench.report.analysis import busy_words
from gilbench.report.claims import CLAIM_IDS
from gilbench.run import builds, estimate
from gilbench.run.config import RunConfig, resume_config
from gilbench.run.matrix import (Events, cell_key, finish_document, finished_keys, plan,
                                 resumed_document, run_matrix, start_document)
from gilbench.run.options import (RESUME_CHECKED, add_run_options, given_run_options, parse_names,
                                  run_config)
from gilbench.run.signals import Interrupted, stop_on_signals
from gilbench.units import fmt_time



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The run options (``run.options.add_run_options``) and those of this command only."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_run_options(parser.add_argument)
    parser.add_argument("--out", default="results.json", metavar="FILE",
                        help="results file, rewritten as cells finish (default results.json)")
    parser.add_argument("--report", metavar="DIR",
                        help="also write the report (report.md, report.html, plots) to DIR")
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
    parser.add_argument("--like", metavar="FILE",
                        help="measure again what FILE measured: its configuration and, for "
                             "every kernel variant, its size (so `gilbench compare FILE new` "
                             "compares like with like); --out, --report and --timeout may be "
                             "given")
    parser.add_argument("--check-claims", metavar="ID,...",
                        help="after the run, decide these claims from the results (as the "
                             "report does; e.g. nogil-c-code-parallel) and exit with status 1 "
                             "if one is refuted (an unknown id is an error that lists them all)")
    parser.add_argument("--sizes-from", metavar="FILE",
                        help="advanced: measure each kernel variant at the size of its serial "
                             "cell in FILE instead of calibrating it (what --python gives the "
                             "interpreters after the first)")


def prepare(args: argparse.Namespace):
    """Everything ``main`` needs before it measures, every option checked (UsageError):
    (config, results path, the document to resume or None, keys of the cells it already has);
    sets ``args.claim_ids`` (--check-claims). Runs nothing."""
    def get(name: str):
        return getattr(args, name)

    args.claim_ids = claim_ids(args.check_claims)
    if args.claim_ids and args.pythons:
        raise UsageError("--check-claims checks one results file; with --python, check each "
                         "interpreter's own: PATH -m gilbench run --like FILE --check-claims ..")
    if args.report is not None:
        check_output_dir(args.report, "--report")
    if args.like is not None:
        return _like(args, given_run_options(get))
    if args.resume is None:
        config = run_config(get)
        check_output_file(args.out, "--out")
        return config, args.out, None, set()
    for option, value in (("--python", args.pythons), ("--sizes-from", args.sizes_from)):
        if value:
            raise UsageError(f"--resume cannot be combined with {option}; resume each "
                             "interpreter's file with that interpreter: "
                             "PATH -m gilbench run --resume FILE")
    path = args.resume
    if not path.strip():
        raise UsageError("--resume needs the results file of the run to carry on with")
    try:
        doc = results.read(path)
    except results.ResultsError as exc:
        raise UsageError(f"cannot resume: {exc}") from None
    if args.out not in (None, "results.json") and (
            os.path.abspath(args.out) != os.path.abspath(path)):
        raise UsageError(f"--resume {path} adds the missing cells to {path} itself; "
                         f"drop --out {args.out}")
    given = {name: RESUME_CHECKED[name] for name in given_run_options(get)
             if name in RESUME_CHECKED}
    config = resume_config(doc, path, run_config(get) if given else None, given, args.timeout,
                           args.max_wait)
    check_output_file(path, "--resume")
    return config, path, doc, finished_keys(doc["cells"])


def _like(args: argparse.Namespace, given: list[str]):
    """``prepare`` for ``--like FILE``: FILE's configuration, checked to run on this host."""
    clash = [f"--{n.replace('_', '-')}" for n in given if n not in ("timeout", "max_wait")]
    clash += [o for o, v in (("--resume", args.resume), ("--python", args.pythons),
                             ("--sizes-from", args.sizes_from)) if v]
    if clash:
        raise UsageError(f"--like {args.like} measures what that file measured; drop "
                         f"{', '.join(clash)} (or leave out --like)")
    try:
        doc = results.read(args.like)
    except results.ResultsError as exc:
        raise UsageError(f"--like: {exc}") from None
    try:
        config = RunConfig.from_dict(doc["config"])
    except ValueError as exc:
        raise UsageError(f"--like {args.like}: {exc}") from None
    if args.timeout is not None:
        config.timeout_s = args.timeout
    if args.max_wait is not None:
        config.max_wait_s = args.max_wait
    check_output_file(args.out, "--out")
    if os.path.abspath(args.out) == os.path.abspath(args.like):
        raise UsageError(f"--out {args.out} is the file given to --like; write the new run "
                         "to another file, e.g. --out again.json")
    return config, args.out, None, set()


def _verdict_text(cell: Cell | dict) -> str:
    """The cell's verdict words (its error when it failed)."""
    c = Cell.read(cell)
    if c.error:
        return c.error
    verdict = c.verdict or {}
    return verdict.get("words") or ""


def _fmt_speedup(cell: Cell | dict) -> str:
    c = Cell.read(cell)
    sp = c.speedup
    if c.error:
        return "[red]failed[/]"
    if not sp:
        return "-"
    # one break opportunity only (before the interval): a narrow column wraps the interval
    # onto its own line instead of cutting it
    return f"{sp.median:.2f}x [{sp.low:.2f}\u2013{sp.high:.2f}]"


def kept_message(out: str, groups: list) -> str:
    """What a failed write left in ``out``, and how to carry on from it."""
    try:
        doc = results.read(out)
    except results.ResultsError:
        return (f"nothing was kept in {out}; free the space or fix the path, then run again "
                "(or write elsewhere with --out FILE)")
    kept = {cell_key(c) for c in doc["cells"]}
    left = sum(1 for _, _, specs in groups for spec in specs if spec.key not in kept)
    return (f"{out} keeps the {len(doc['cells'])} cells written before ({left} missing); "
            f"once there is room, measure the rest with: gilbench run --resume {out}")


def main(args: argparse.Namespace) -> int:
    """argv -> RunConfig -> the matrix measured into the results file, with progress.
    Exit status: 0 every cell measured, 1 some cells failed or timed out, 2 a usage error or
    a results file that could not be written, 128+N a signal N stopped the run."""
    config, out, resumed, done = prepare(args)  # checks --python's options too
    # one writer per results file: refuse now, before measuring anything (ResultsError, exit 2)
    lock = results.ResultsLock(out).acquire() if not args.pythons else None
    try:
        return _main(args, config, out, resumed, done, lock)
    finally:
        if lock is not None:
            lock.release()


def _main(args: argparse.Namespace, config: RunConfig, out: str, resumed: dict | None,
          done: set, lock) -> int:
    sizes_from = args.like or args.sizes_from
    pinned = builds.read_pinned_sizes(sizes_from) if sizes_from else None
    console = make_console()
    # engines that need a cluster are checked before anything is measured (UsageError)
    cluster = config.prepare_engines()
    if cluster:
        console.print(f"Dask scheduler {config.dask_scheduler}: {len(cluster)} workers on "
                      f"{', '.join(sorted({str(w['host']) for w in cluster}))}")
    if args.pythons:
        return builds.run_builds(args.pythons, forwarded_arguments(args), args.out, args.report,
                                 console, make_console(stderr=False))
    groups = plan(config)
    n_cells = sum(len(specs) for _, _, specs in groups)
    missing = sum(1 for _, _, specs in groups for spec in specs if spec.key not in done)
    usable = host.usable_cores()
    ceiling = config.ceiling  # the placement's CPUs (--pin, --core-type), else the host's
    estimate_s = estimate.estimate_s(config.kernels, config.variants, config.executors,
                                     config.workers, ceiling, config.target_time_s,
                                     config.repeats, config.budget.time_s)
    estimate_s *= missing / max(n_cells, 1)  # a resumed run measures the missing cells only
    if resumed is not None:
        if not missing:
            console.print(f"nothing to resume: {out} already has all {n_cells} cells")
            return check_claims(resumed, args.claim_ids, console) if args.claim_ids else 0
        console.print(f"[bold]resuming[/] {out}: {n_cells - missing} of {n_cells} cells are "
                      f"there; measuring the {missing} missing ones with its configuration")
    console.print(
        f"[bold]gilbench run[/]: {len(config.kernels)} kernels, {len(groups)} kernel variants, "
        f"{n_cells} cells ({', '.join(config.executors)} at workers "
        f"{','.join(map(str, config.workers))}), {config.repeats} repeats, serial target "
        f"{config.target_time_s:g} s; {usable} usable cores; start method {config.start_method}; "
        f"time limit {config.run_timeout_s:g} s per run"
    )
    console.print(f"host: {host.topology().line()}; workers {config.placement.text()}; ceiling "
                  f"{ceiling.text()}; estimated ≤ {estimate_s:.0f} s (a model, "
                  "gilbench.run.estimate)", highlight=False)
    if not noise.measured():
        console.print("[yellow]noise is not measured here[/]: this system's CPU counters cannot "
                      "be read, so a round disturbed by other processes cannot be told from a "
                      "quiet one; close what else runs, and read every verdict as if the host "
                      "was quiet only if it was", highlight=False)
    doc = (resumed_document(resumed) if resumed is not None
           else start_document(config, results_argv()))
    if pinned is not None:
        builds.pin(doc, sizes_from, pinned)
    try:
        return _measure(args, config, out, doc, done, groups, missing, pinned, console)
    except results.OutputError as exc:
        console.print(f"[red]gilbench run: error:[/] {exc}; {kept_message(out, groups)}",
                      soft_wrap=True, highlight=False)
        return _exit(2, console)


def _measure(args: argparse.Namespace, config: RunConfig, out: str, doc: dict, done: set,
             groups: list, missing: int, pinned, console) -> int:
    """The run proper, ``out`` locked: cells measured into the file as they finish, progress,
    then the summary; returns the exit status (0 all measured, 1 some cells failed)."""
    from rich.console import Group
    from rich.live import Live
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)
    from rich.table import Table

    writer = results.ResultsWriter(out, doc)
    started = time.perf_counter()

    # counts cells (a cell takes as many paired rounds as its verdict needs, so runs are not
    # known in advance); the estimate of the time left comes from the cells done so far
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("cells"), TimeElapsedColumn(), time_left_column(),
                        console=console)
    task = progress.add_task("starting", total=missing)
    recent: deque = deque(maxlen=12)

    def table() -> Table:
        t = terminal_table(console, "latest cells",
                           ("kernel", "variant", "executor", "W", "median", "speedup [95% CI]",
                            "CPU util", "rounds", "verdict"))
        for cell in map(Cell.read, recent):
            med, util = cell.median_s, cell.cpu_utilization
            t.add_row(cell.kernel, cell.variant, cell.executor, str(cell.workers),
                      fmt_time(med, "-", column=True), _fmt_speedup(cell),
                      "-" if util is None else f"{util:.2f}", str(len(cell.wall_s or [])),
                      _verdict_text(cell)[:60])
        return t

    live = Live(Group(progress, table()), console=console, refresh_per_second=4, transient=False)
    events = Events()
    events.on_calibrated = lambda k, v, size, s: progress.update(
        task, description=f"{k}/{v} size {size:,}" + ("" if s != s else f" ({s:.2f} s serial)"))

    runs_seen: dict[tuple, int] = {}
    current: list[str] = []  # the group being measured, for the interrupt message

    def on_group_start(kernel, variant, runs):
        current[:] = [f"{kernel}/{variant}"]
        runs_seen.clear()
        progress.update(task, description=f"{kernel}/{variant}: calibrating")

    def on_group_done(kernel, variant):
        current.clear()

    def on_run(spec, raw):
        runs_seen[spec.key] = runs_seen.get(spec.key, 0) + 1
        rounds = max(runs_seen.values()) - 1
        progress.update(task, description=f"{current[0] if current else ''}: round {rounds}")

    def on_cell(cell):
        recent.append(cell)
        progress.advance(task)
        live.update(Group(progress, table()))

    def on_wait(seen, waited_s, left_s):
        progress.update(task, description=f"waiting: {seen.what()} ({waited_s:.0f} s, "
                                          f"{left_s:.0f} s of --max-wait left)")

    def on_busy_start(seen, budget_s):
        console.print(f"[yellow]host busy[/]: {seen.what()} before the first measurement; "
                      f"waiting up to {budget_s:.0f} s (--max-wait) for a quiet moment. "
                      "Rounds the host disturbs are kept but never counted; cells that cannot "
                      "get enough quiet rounds will say 'host busy'", highlight=False)

    events.on_wait = on_wait
    events.on_busy_start = on_busy_start
    events.on_group_start = on_group_start
    events.on_group_done = on_group_done
    events.on_run = on_run
    events.on_cell = on_cell
    interrupted: KeyboardInterrupt | None = None
    with stop_on_signals():
        try:
            with live:
                run_matrix(config, writer, events, skip=done, sizes=pinned)
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
        return _exit(status, console)
    finish_document(writer, started)
    # the results go to stdout (`gilbench run ... > summary.txt`); progress and warnings
    # stay on stderr
    stdout = make_console(stderr=False)
    stdout.print(f"{len(writer.doc['cells'])} cells in {time.perf_counter() - started:.0f} s; "
                 f"results: {out}")
    print_summary(writer.doc, stdout)
    print_busy(writer.doc, out, console)
    failed = print_failures(writer.doc, stdout)
    status = 1 if failed else 0  # like pytest: some cells failed, the rest are in the file
    if args.report:
        try:
            paths = write_report(writer.doc, args.report)
        except OSError as exc:
            console.print(f"[red]gilbench run: error:[/] cannot write the report to "
                          f"{args.report}: {exc.strerror or exc}; the results are complete in "
                          f"{out}: gilbench report {out} -o DIR", soft_wrap=True, highlight=False)
            return _exit(2, console)
        stdout.print(f"report: {paths.get('html', args.report)}")
    if args.claim_ids:
        status = max(status, check_claims(writer.doc, args.claim_ids, stdout))
    return _exit(status, console)


def claim_ids(text: str | None) -> list[str]:
    """The claim ids of --check-claims (UsageError listing the valid ones)."""
    if text is None:
        return []
    try:
        ids = parse_names(text, CLAIM_IDS, "claim")
    except UnknownNameError as exc:
        raise UsageError(f"--check-claims: {exc}") from None
    except UsageError:  # nothing named
        raise UsageError(f"--check-claims needs at least one claim id; valid claims: "
                         f"{', '.join(CLAIM_IDS)}") from None
    return ids or []


def check_claims(doc: dict, ids: list[str], console) -> int:
    """The named claims as the results decide them, printed; 1 if one is refuted, else 0."""
    from rich.markup import escape

    decided = [c for c in claims_of(doc) if c["id"] in ids]
    refuted = [c for c in decided if c["verdict"] == "refuted"]
    colour = {"confirmed": "green", "refuted": "red"}
    for c in decided:
        console.print(f"claim {c['id']}: [{colour.get(c['verdict'], 'yellow')}]"
                      f"{c['verdict']}[/] — {escape(c['evidence'])}", highlight=False)
    if refuted:
        console.print(f"[red]--check-claims: {len(refuted)} of {len(decided)} claims refuted: "
                      f"{', '.join(c['id'] for c in refuted)}[/]", highlight=False)
        return 1
    return 0


def _exit(status: int, console) -> int:
    """``status``, or, if worker threads could not be stopped, end the process right here:
    Python would wait for them at exit (pool threads) or could not finalize (C code holding
    the GIL). Every result is on disk by now."""
    stuck = lingering_threads(wait_s=1.0)
    if not stuck:
        return status
    console.print(f"[yellow]{len(stuck)} worker thread{'s' if len(stuck) > 1 else ''} could not "
                  "be stopped (blocked outside Python code); gilbench exits without waiting "
                  "for them[/]")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


#: errors of cells that were not attempted (like a skipped test): they do not fail the run
UNAVAILABLE = ("variant unavailable:", "executor unavailable:")


def unavailable(cell: Cell | dict) -> bool:
    """True for a cell that could not run here at all (its variant or executor is missing)."""
    error = Cell.read(cell).error
    return bool(error) and error.startswith(UNAVAILABLE)


def print_failures(doc: dict, console, limit: int = 20) -> int:
    """The cells that failed or timed out, with their errors (print_summary shows one worker
    count only); returns how many failed (cells unavailable here are not counted)."""

    errors = [c for c in map(Cell.read, doc["cells"]) if c.error]
    if not errors:
        return 0
    failed = [c for c in errors if not unavailable(c)]
    timed_out = sum(1 for c in failed if c.timed_out)
    parts = [f"{len(failed)} cells failed" + (f", {timed_out} of them timed out"
                                                if timed_out else "")] if failed else []
    if len(errors) > len(failed):
        parts.append(f"{len(errors) - len(failed)} cells unavailable here (not run)")
    title = "; ".join(parts)
    t = terminal_table(console, title, ("kernel", "variant", "executor", "W", "error"))
    for c in (failed + [c for c in errors if unavailable(c)])[:limit]:
        t.add_row(c.kernel, c.variant, c.executor, str(c.workers), c.error)
    console.print(t)
    if len(errors) > limit:
        console.print(f"... and {len(errors) - limit} more (see the results file)")
    return len(failed)


def results_argv() -> list[str]:
    """The command recorded in the results file."""
    # `gilbench ...` or `python -m gilbench ...`; anything else (tests) ran in-process
    if sys.argv and sys.argv[0].endswith(("gilbench", "__main__.py")):
        return ["gilbench", *sys.argv[1:]]
    return ["gilbench", "run"]


def print_busy(doc: dict, out: str, console) -> None:
    """The busy banner: how long the run waited for a busy host, how many rounds it set aside
    and which cells it left *undecided: host busy*, with what to do (nothing on a quiet run)."""
    from rich.markup import escape

    words = busy_words(doc, out)
    if words is not None:
        console.print(f"[yellow]host busy[/]: {escape(words)}", highlight=False)


def print_summary(doc: dict, console) -> None:
    """A table of every cell at the largest worker count not above the usable cores."""
    usable = doc["host"].get("usable_cores", 1)
    cells = [Cell.read(c) for c in doc["cells"]]
    counts = sorted({c.workers for c in cells if c.executor != "serial"})
    at = max([w for w in counts if w <= usable] or counts or [1])
    t = terminal_table(console, f"speedup at {at} workers ({usable} usable cores)",
                       ("kernel", "variant", "executor", "speedup [95% CI]", "CPU util",
                        "efficiency", "verdict"))
    for c in cells:
        if c.executor == "serial" or c.workers != at:
            if not (c.executor == "serial" and c.error):
                continue
        util, eff = c.cpu_utilization, c.efficiency
        t.add_row(c.kernel, c.variant, c.executor, _fmt_speedup(c),
                  "-" if util is None else f"{util:.2f}", "-" if eff is None else f"{eff:.2f}",
                  _verdict_text(c)[:70])
    console.print(t)
