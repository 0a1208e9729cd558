"""Compare two results files side by side (another host, another interpreter build such as GIL
vs free-threaded, before/after a change). Cells are matched by kernel, variant, executor and
worker count; per cell: the ratio b/a of the median time per unit of work and, where both files
have paired rounds, of the speedup, with 95% intervals, and faster / slower / scales better /
scales worse / not significant (significant when the interval excludes 1 and the ratio moved by
at least --min-change; the test is printed in two lines, in full in compare.md). Warns when
the two runs did different sizes; nothing comparable is an error. Writes compare.md and
compare.html and prints the table.

Exit status: 0, or with --fail-on STATUS,... 1 when a significant cell has one of those
statuses (they are listed), a gate for CI against a stored baseline; 2 for a usage error."""

from __future__ import annotations

import argparse
from pathlib import Path

from gilbench.commands._terminal import make_console, terminal_table
from gilbench.errors import ResultsError, UsageError
from gilbench.report import load_any
from gilbench.report.analysis import contention
from gilbench.report.compare import (DEFAULT_MIN_CHANGE, _run_label, compare, row_cells,
                                     row_line, write_compare)
from gilbench.report.compare_rule import parse_statuses


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.json", help="the baseline results file")
    parser.add_argument("b", metavar="B.json", help="the results file compared with it")
    parser.add_argument("-o", "--out", metavar="DIR", default="gilbench-compare",
                        help="directory for compare.md and compare.html "
                             "(default: gilbench-compare)")
    parser.add_argument("--min-change", type=_fraction, default=None, metavar="F",
                        help="smallest change of a ratio (time or speedup) called a change, as a "
                             "fraction (default 0.05: 5%%; like asv's --factor)")
    parser.add_argument("--fail-on", type=_statuses, default=(), metavar="STATUS,...",
                        help="exit with status 1 when a significant cell has one of these "
                             "statuses, and list them: faster, slower, scales-better, "
                             "scales-worse (e.g. --fail-on slower,scales-worse in CI)")
    parser.add_argument("--all", action="store_true",
                        help="print every cell on the terminal (default: only significant "
                             "differences and problems)")


def _fraction(text: str) -> float:
    """A fraction in [0, 1) for --min-change."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (give e.g. 0.05 for 5%)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction in [0, 1) (e.g. 0.05 for 5%)")
    return value


def _statuses(text: str) -> tuple[str, ...]:
    """The statuses of --fail-on (``compare_rule.parse_statuses``)."""

    try:
        return parse_statuses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(a: str, b: str) -> tuple[str, str]:
    """Short, distinct names for the two files (their stems, else their paths)."""
    na, nb = Path(a).stem, Path(b).stem
    if na == nb:
        na, nb = str(a), str(b)
    return na, nb


def main(args: argparse.Namespace) -> int:
    from rich.table import Table

    try:
        doc_a, doc_b = load_any(args.a), load_any(args.b)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
    names = _names(args.a, args.b)
    min_change = DEFAULT_MIN_CHANGE if args.min_change is None else args.min_change
    comp = compare(doc_a, doc_b, names, min_change)
    comp.files = (str(args.a), str(args.b))
    if not comp.comparable:
        raise UsageError(comp.nothing_comparable())
    try:
        comp, paths = write_compare(doc_a, doc_b, args.out, names, comp=comp)
    except OSError as exc:
        raise UsageError(f"cannot write the comparison to {args.out}: {exc}") from None

    console = make_console(stderr=False)
    la, lb = _run_label(doc_a), _run_label(doc_b)
    head = Table(show_header=True, title="gilbench compare")
    head.add_column("")
    head.add_column(f"a = {names[0]}")
    head.add_column(f"b = {names[1]}")
    for key in ("host", "usable cores", "Python", "build", "created"):
        head.add_row(key, la[key], lb[key])
    console.print(head)

    for name, doc in zip(names, (doc_a, doc_b)):
        busy = contention(doc)
        if busy:
            console.print(f"[yellow]run {name}: {busy.replace('**', '')}[/]", highlight=False)

    if comp.sizes_differ:
        console.print("[yellow]" + comp.sizes_warning().replace("**", "").replace("*", "")
                      .replace("`", "") + "[/]", highlight=False)
    colours = {"faster": "green", "slower": "red", "not-significant": "bright_black",
               "failed": "bold red", "missing": "yellow"}
    table = terminal_table(console, "every cell" if args.all else
                           "cells that differ or failed (--all: every cell)",
                           ("kernel", "variant", "executor", "W", "time b/a [95%]",
                            "speedup b/a [95%]", "b vs a", "speedup a → b"))
    shown = 0
    for r in comp.rows:
        if not args.all and (r.status == "not significant" or r.status.startswith("only in")):
            continue
        kernel, variant, executor, w, _ma, _mb, time, speedup, badge, sa, sb = row_cells(r)
        verdict = f"[{colours.get(badge.code, 'white')}]{badge.text}[/]"
        speed = f"{sa.split(' [')[0]} → {sb.split(' [')[0]}"
        table.add_row(kernel, variant, executor, w, time, speedup, verdict, speed)
        shown += 1
    if shown:
        console.print(table)
    only = [r for r in comp.rows if r.status.startswith("only in")]
    if only and not args.all:
        console.print(f"{len(only)} cells are in one file only (listed in {paths['markdown']}).",
                      highlight=False)
    console.print(comp.short_test_text(paths["markdown"]), highlight=False)
    console.print(f"[bold]{comp.summary()}[/]", highlight=False)
    console.print(f"wrote {paths['html']} and {paths['markdown']}", highlight=False)
    return _gate(comp, args.fail_on, console)


def _gate(comp, statuses: tuple[str, ...], console) -> int:
    """--fail-on: 1 and the cells listed when a significant cell has one of ``statuses``."""

    if not statuses:
        return 0
    named = ",".join(s.replace(" ", "-") for s in statuses)
    failing = comp.with_status(statuses)
    if not failing:
        console.print(f"--fail-on {named}: no significant cell is {' or '.join(statuses)}",
                      highlight=False)
        return 0
    console.print(f"[red]--fail-on {named}: {len(failing)} significant "
                  f"cell{'s' if len(failing) != 1 else ''} of {comp.comparable} compared:[/]",
                  highlight=False)
    for r in failing:
        console.print(f"  {row_line(r)}", highlight=False, soft_wrap=True, markup=False)
    return 1
