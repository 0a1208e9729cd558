"""Run the experiments that test the article's claims (convoy effect, switch interval, GIL
contention, Queue vs Pipe, process start-up, pickling, break-even task size), write their
results (rewritten after each experiment), and print the key figures and verdicts."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gilbench import experiments, host
from gilbench.run.options import parse_names
from gilbench.errors import UnknownNameError, UsageError
from gilbench.report import write_report
from gilbench.report.experiments import busy_host, decide, figures
from gilbench.results import ResultsWriter, new_document, now_iso


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiments",
                        help="comma-separated experiment names (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="short windows and fewer cases: a few seconds per experiment")
    parser.add_argument("--out", default="claims.json",
                        help="results file, rewritten after each experiment (default: claims.json)")
    parser.add_argument("--report", metavar="DIR",
                        help="also write a report (Markdown and plots) to DIR")


def _command_line(args: argparse.Namespace) -> list[str]:
    command = ["gilbench", "claims"]
    if args.experiments:
        command += ["--experiments", args.experiments]
    if args.quick:
        command.append("--quick")
    command += ["--out", str(args.out)]
    if args.report:
        command += ["--report", str(args.report)]
    return command


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    try:
        names = parse_names(args.experiments, experiments.names(), "experiment")
    except UnknownNameError as exc:
        raise UsageError(str(exc)) from None
    names = names or experiments.names()
    out = Path(args.out)

    info = host.host_info()
    info["load_average_start"] = info.get("load_average")
    config = {"experiments": names, "quick": bool(args.quick), "kernels": [], "variants": [],
              "executors": [], "workers": []}
    writer = ResultsWriter(out, new_document(config, info, _command_line(args)))
    results: dict[str, dict] = {}
    writer.set("experiments", results)

    console = Console()
    failed = 0
    # auto_refresh=False: no refresh thread, so this process stays single-threaded between
    # experiments (the start-up experiment measures fork only then); refreshed by hand instead
    with Progress(TextColumn("[bold]{task.fields[name]:<16}"), BarColumn(bar_width=20),
                  TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, auto_refresh=False) as progress:
        task = progress.add_task("", total=len(names), name="")
        for name in names:
            def step(text: str, name: str = name) -> None:
                progress.update(task, description=text, name=name, refresh=True)

            step("starting")
            started, t0 = now_iso(), time.perf_counter()
            try:
                results[name] = experiments.run_experiment(name, args.quick, progress=step)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one failing experiment must not lose the others
                failed += 1
                results[name] = experiments.failed_experiment(
                    name, args.quick, exc, started, time.perf_counter() - t0)
            writer.set("experiments", results)
            progress.update(task, advance=1, description="done", refresh=True)
    writer.finish(load_average_end=host.load_average())

    table = Table(title="gilbench claims: key figures")
    for col in ("experiment", "figure", "value"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for name, figure, value in figures(writer.doc):
        table.add_row(name, figure, value)
    console.print(table)

    for name, data in results.items():
        caution = busy_host(data)
        if caution:
            console.print(f"[yellow]{name}: {caution}[/]")

    claims = decide(writer.doc)
    if claims:
        verdicts = Table(title="what the article says, and what this host shows")
        verdicts.add_column("claim")
        verdicts.add_column("verdict")
        verdicts.add_column("evidence")
        colour = {"confirmed": "green", "refuted": "red", "mixed": "yellow"}
        for c in claims:
            v = c["verdict"]
            verdicts.add_row(c["claim"], f"[{colour.get(v, 'white')}]{v}[/]", c["evidence"])
        console.print(verdicts)

    console.print(f"results: {out}")
    if args.report:
        paths = write_report(writer.doc, args.report)
        console.print(f"report: {paths.get('markdown', args.report)}")
    if failed:
        console.print(f"[red]{failed} experiment(s) failed; see 'error' in {out}[/]")
        return 1
    return 0
