"""Write a report from a results file: report.md, a self-contained report.html (plots embedded,
opens offline) and the plots as PNG files. The report says, per kernel, variant and executor,
whether the work ran in parallel here (the rule is printed under the verdict table), checks the
classic claims about the GIL against the numbers, and lists every failed or unstable cell.

--format json|csv prints a machine-readable summary instead (to stdout, or to the file -o
names): json, one small document with the host, the verdicts with their speedup intervals and
the claims; csv, one row per cell. README.md documents the fields."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gilbench.cell import Cell
from gilbench.commands._terminal import make_console, terminal_table
from gilbench.errors import ResultsError, UsageError
from gilbench.report import analysis as A
from gilbench.report import load_any, write_report
from gilbench.report.headline import headline
from gilbench.report.summary import to_csv, to_json


FORMATS = ("html", "json", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="RESULTS.json",
                        help="a results file written by `gilbench run`")
    parser.add_argument("-o", "--out", metavar="DIR",
                        help="directory for report.md, report.html and the plots "
                             "(default: gilbench-report); with --format json|csv, the file "
                             "to write (default: print to stdout)")
    parser.add_argument("--format", choices=FORMATS, default="html",
                        help="html: the report (report.html, report.md, plots; the default); "
                             "json: a summary document (host, verdicts, speedup intervals, "
                             "claims); csv: one row per cell")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the paths written, not the verdicts")


def print_summary(doc: dict, console) -> None:
    """The headline and the verdict matrix on the terminal (rich)."""

    colours = {"parallel": "green", "partial": "yellow", "concurrent": "bright_black",
               "slower": "red", "failed": "bold red", "undecided": "bright_black",
               "borderline": "yellow",
               "above-cores": "magenta"}
    head = headline(doc)
    console.print(_plain(head["host"]))
    if head["warning"]:
        console.print("[yellow]" + _plain(head["warning"]) + "[/]", highlight=False)
    console.print(_plain(head["answer"]), highlight=False)
    if head.get("noise"):
        console.print(_plain(head["noise"]), highlight=False)
    judged = A.judge(doc)
    if not judged:
        return
    executors = sorted({j.executor for j in judged}, key=A.executor_sort_key(doc))
    table = terminal_table(console, f"verdicts (ceiling {A.ceiling(doc).text()})",
                           ("kernel", "variant", *executors))
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for j in judged:
        # no figure for a failed cell, nor for one no quiet round measured (host busy throughout)
        speedup = Cell.read(j.cell).speedup
        sp = "" if speedup is None else f" {speedup.median:.2f}×"
        warn = " ⚠" if j.verdict.unstable or j.verdict.note else ""
        if A.disturbed(j.cell):
            warn += f" {A.DISTURBED_MARK}{A.disturbed(j.cell)}"
        at = f" @{j.workers}" if len({x.workers for x in judged}) > 1 else ""
        rows.setdefault((j.kernel, j.variant), {})[j.executor] = (
            f"[{colours.get(j.verdict.code, 'white')}]{j.verdict.label}[/]{sp}{warn}{at}")
    for (k, v), cells in rows.items():
        table.add_row(k, v, *(cells.get(e, "—") for e in executors))
    console.print(table)
    console.print(_plain(A.ceiling_rule(doc).strip()), highlight=False)


def _plain(markdown: str) -> str:
    """Markdown emphasis to rich markup (bold), escaping rich's own brackets."""
    import re

    from rich.markup import escape

    text = escape(markdown)
    text = re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/bold]", text)
    return re.sub(r"(?<!\w)\*(\S.*?)\*(?!\w)", r"\1", text)


def main(args: argparse.Namespace) -> int:
    try:
        doc = load_any(args.results)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
    if args.format != "html":
        return _summary(doc, args.format, args.out)
    out = args.out or "gilbench-report"
    console = make_console(stderr=False)
    try:
        paths = write_report(doc, out)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {out}: {exc}") from None
    if not args.quiet:
        print_summary(doc, console)
    n_plots = sum(1 for k in paths if k.startswith("plot:"))
    console.print(f"wrote {paths['html']} (self-contained), {paths['markdown']} and "
                  f"{n_plots} plot{'s' if n_plots != 1 else ''}", highlight=False)
    return 0


def _summary(doc: dict, fmt: str, out: str | None) -> int:
    """The json or csv summary, to stdout or to the file ``out``."""

    text = to_json(doc) if fmt == "json" else to_csv(doc)
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the {fmt} summary to {out}: "
                         f"{exc.strerror or exc}") from None
    print(f"wrote {out}", file=sys.stderr)
    return 0
