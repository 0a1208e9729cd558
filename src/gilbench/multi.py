"""The same matrix under several interpreters (``gilbench run --python A --python B``), and the
comparison of builds: the free-threaded build's single-thread overhead and its speedups against
its own serial time and against the default build's.

How a multi-interpreter run goes:

1. Each ``--python`` is probed (``PATH -c "import gilbench ..."``): it must have gilbench
   installed; its tag is its version plus ``t`` for a free-threaded build (``3.13.0``,
   ``3.13.5t``).
2. The *reference* interpreter (the first default build, else the first given) runs
   ``PATH -m gilbench run ... --out results-TAG.json`` and calibrates the sizes.
3. Every other interpreter runs ``PATH -m gilbench.multi --sizes-from results-REF.json ...``:
   the same matrix at the reference's sizes, per (kernel, variant). The same sizes matter:
   calibration would pick a smaller size on a slower build, and the cost of some kernels
   (prime counting) is not linear in the size, so times at different sizes do not compare.
4. Runs are one after another, never at once (they would share the cores). Each results file
   is kept; ``compare_builds`` then compares every run with the baseline (the first default
   build with the GIL enabled), and ``write_combined`` writes ``results-builds.json`` and
   ``results-builds.md`` next to them.

The ratios across builds come from separate runs, not interleaved ones: drift of a shared
machine between the runs shows up in them (the bootstrap interval covers only the spread
within each run). The combined files say so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

#: bumped when the command line between the parent and the child (`-m gilbench.multi`) changes
CHILD_PROTOCOL = 1
COMBINED_SCHEMA = "gilbench-builds"
COMBINED_SCHEMA_VERSION = 1

CROSS_RUN_NOTE = (
    "Each build ran in its own process, one after the other (not interleaved), at the same "
    "sizes; ratios across builds include any drift of the machine between the runs, and their "
    "95% intervals (bootstrap over each run's repeats) cover only the spread within each run."
)

# Printed as one JSON line by each --python interpreter: what it is, and whether gilbench is
# importable there (the error if not).
_PROBE = r"""
import json, platform, sys, sysconfig
info = {"python_version": platform.python_version(), "executable": sys.executable,
        "py_gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}
try:
    import gilbench, gilbench.multi
    info["gilbench_version"] = gilbench.__version__
    info["protocol"] = gilbench.multi.CHILD_PROTOCOL
except Exception as exc:
    info["error"] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0]
print(json.dumps(info))
"""


class MultiRunError(Exception):
    """An interpreter cannot take part in a multi-interpreter run; the message says how to fix it."""


@dataclasses.dataclass
class Interpreter:
    """One ``--python``: its path, what the probe found, and its tag."""

    path: str
    python_version: str
    py_gil_disabled: bool
    tag: str = ""

    @property
    def build(self) -> str:
        return "free-threaded" if self.py_gil_disabled else "default"


# -- probing -----------------------------------------------------------------------------------

def install_hint(path: str) -> str:
    """How to install gilbench for the interpreter at ``path``."""
    return (f"install it for that interpreter, from a gilbench checkout: `{path} -m pip install .` "
            f"(or make a virtualenv with scripts/make-venv.sh {path} DIR, for a free-threaded "
            f"build scripts/ft-venv.sh DIR, and pass DIR/bin/python)")


def probe(path: str, timeout_s: float = 120.0) -> Interpreter:
    """What the interpreter at ``path`` is; MultiRunError if it cannot run gilbench."""
    try:
        proc = subprocess.run([path, "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout_s)
    except FileNotFoundError:
        raise MultiRunError(f"--python {path}: no such interpreter") from None
    except PermissionError:
        raise MultiRunError(f"--python {path}: not executable") from None
    except OSError as exc:
        raise MultiRunError(f"--python {path}: cannot run it: {exc}") from None
    except subprocess.TimeoutExpired:
        raise MultiRunError(f"--python {path}: did not answer within {timeout_s:g} s") from None
    lines = proc.stdout.strip().splitlines()
    try:
        info = json.loads(lines[-1])
    except (IndexError, ValueError):
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise MultiRunError(f"--python {path}: is this a Python 3 interpreter? ({err})") from None
    if "error" in info:
        raise MultiRunError(f"--python {path}: gilbench is not importable there "
                            f"({info['error']}); {install_hint(path)}")
    if info.get("protocol") != CHILD_PROTOCOL:
        raise MultiRunError(f"--python {path}: its gilbench speaks multi-run protocol "
                            f"{info.get('protocol')}, this one {CHILD_PROTOCOL}; reinstall it: "
                            f"{install_hint(path)}")
    return Interpreter(path, info["python_version"], bool(info["py_gil_disabled"]))


def assign_tags(interpreters: Sequence[Interpreter]) -> None:
    """Tag each as VERSION[t] (``3.13.5t`` for free-threaded), made unique with -2, -3, ..."""
    seen: dict[str, int] = {}
    for it in interpreters:
        base = it.python_version + ("t" if it.py_gil_disabled else "")
        seen[base] = seen.get(base, 0) + 1
        it.tag = base if seen[base] == 1 else f"{base}-{seen[base]}"


def tagged_path(out: str | os.PathLike, tag: str) -> Path:
    """``results.json`` + ``3.13.5t`` -> ``results-3.13.5t.json`` (same directory)."""
    out = Path(out)
    return out.with_name(f"{out.stem}-{tag}{out.suffix or '.json'}")


def combined_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """Where the comparison of builds goes: ``results-builds.json`` and ``.md`` next to ``out``."""
    out = Path(out)
    return out.with_name(f"{out.stem}-builds.json"), out.with_name(f"{out.stem}-builds.md")


def reference_index(interpreters: Sequence[Interpreter]) -> int:
    """The interpreter that calibrates sizes: the first default (GIL) build, else the first."""
    for i, it in enumerate(interpreters):
        if not it.py_gil_disabled:
            return i
    return 0


# -- comparing builds --------------------------------------------------------------------------

def _ok(cell: dict | None) -> bool:
    return bool(cell) and cell.get("error") is None and bool(cell.get("wall_s")) \
        and bool(cell.get("size"))


def _serial_cells(doc: dict) -> dict[tuple[str, str], dict]:
    return {(c["kernel"], c["variant"]): c for c in doc["cells"] if c["executor"] == "serial"}


def _per_unit_ratio(num: dict, den: dict, invert: bool = False) -> dict[str, float]:
    """Bootstrap ratio of time per unit of work, num/den (den/num if ``invert``)."""
    from gilbench import stats

    if invert:
        # speedup-like: T(den)/size(den) over T(num)/size(num)
        return stats.bootstrap_ratio(den["wall_s"], num["wall_s"], scale=num["size"] / den["size"])
    return stats.bootstrap_ratio(num["wall_s"], den["wall_s"], scale=den["size"] / num["size"])


def run_label(doc: dict) -> dict[str, Any]:
    """What identifies a run's interpreter: tag, version, build, GIL state, PYTHON_GIL, path."""
    h = doc.get("host", {})
    version = h.get("python_version", "?")
    disabled = bool(h.get("py_gil_disabled"))
    return {
        "tag": version + ("t" if disabled else ""),
        "python_version": version,
        "build": h.get("build", "free-threaded" if disabled else "default"),
        "py_gil_disabled": disabled,
        "gil_enabled": h.get("gil_enabled"),
        "python_gil_env": h.get("python_gil_env"),
        "python_executable": h.get("python_executable"),
    }


def compare_builds(baseline: dict, other: dict) -> list[dict[str, Any]]:
    """Per (kernel, variant) in both runs: ``other``'s serial time over ``baseline``'s (the
    single-thread overhead of ``other``'s build, with a bootstrap 95% interval), and for each
    of ``other``'s parallel cells its speedup against its own serial time and against
    ``baseline``'s serial time, next to ``baseline``'s own speedup for the same cell.

    Ratios are of time per unit of work, so they hold when the sizes differ (``sizes_match``
    says whether they do; with ``gilbench run --python`` they do). Returns a list of rows::

        {"kernel", "variant", "size", "sizes_match", "baseline_serial_median_s",
         "other_serial_median_s", "serial_ratio": {"median", "low", "high"} | None,
         "note": str | None,
         "cells": [{"executor", "workers", "median_s", "speedup_same_build",
                    "speedup_vs_baseline", "baseline_speedup", "error"}]}
    """
    base_serial = _serial_cells(baseline)
    base_cells = {(c["kernel"], c["variant"], c["executor"], c["workers"]): c
                  for c in baseline["cells"]}
    rows = []
    for key, serial in _serial_cells(other).items():
        bserial = base_serial.get(key)
        row: dict[str, Any] = {
            "kernel": key[0], "variant": key[1], "size": serial.get("size"),
            "sizes_match": bool(bserial) and bserial.get("size") == serial.get("size"),
            "baseline_serial_median_s": bserial.get("median_s") if bserial else None,
            "other_serial_median_s": serial.get("median_s"),
            "serial_ratio": None, "note": None, "cells": [],
        }
        comparable = _ok(bserial) and _ok(serial)
        if bserial is None:
            row["note"] = "not in the baseline run"
        elif not _ok(bserial):
            row["note"] = f"baseline serial cell failed: {bserial.get('error') or 'no data'}"
        elif not _ok(serial):
            row["note"] = f"serial cell failed: {serial.get('error') or 'no data'}"
        else:
            row["serial_ratio"] = _per_unit_ratio(serial, bserial)
        for c in other["cells"]:
            if (c["kernel"], c["variant"]) != key or c["executor"] == "serial":
                continue
            bc = base_cells.get((c["kernel"], c["variant"], c["executor"], c["workers"]))
            row["cells"].append({
                "executor": c["executor"],
                "workers": c["workers"],
                "median_s": c.get("median_s"),
                "speedup_same_build": c.get("speedup"),
                "speedup_vs_baseline": (_per_unit_ratio(c, bserial, invert=True)
                                        if comparable and _ok(c) else None),
                "baseline_speedup": bc.get("speedup") if bc else None,
                "error": c.get("error"),
            })
        rows.append(row)
    return rows


def combined_document(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                      tags: Sequence[str] | None = None) -> dict:
    """The comparison of builds: every run's label and file, and each run against the baseline
    (the first default build with the GIL enabled, else the first run). ``tags`` name the runs
    (default: version + "t" for free-threaded, from each document's host)."""
    from gilbench import results

    labels = [run_label(d) for d in docs]
    for label, tag in zip(labels, tags or []):
        label["tag"] = tag
    base = next((i for i, lab in enumerate(labels)
                 if not lab["py_gil_disabled"] and lab["gil_enabled"] is not False), 0)
    return {
        "schema": COMBINED_SCHEMA,
        "schema_version": COMBINED_SCHEMA_VERSION,
        "created": results.now_iso(),
        "note": CROSS_RUN_NOTE,
        "runs": [{**lab, "file": str(f), "usable_cores": d.get("host", {}).get("usable_cores")}
                 for lab, d, f in zip(labels, docs, files)],
        "baseline": labels[base]["tag"] if docs else None,
        "comparisons": [
            {"baseline": labels[base]["tag"], "other": labels[i]["tag"],
             "rows": compare_builds(docs[base], docs[i])}
            for i in range(len(docs)) if i != base
        ],
    }


def _x(ratio: dict | None) -> str:
    if not ratio or ratio.get("median") is None:
        return "-"
    return f"{ratio['median']:.2f}x [{ratio['low']:.2f}, {ratio['high']:.2f}]"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.1f} ms"


def _label_text(run: dict) -> str:
    gil = {True: "GIL on", False: "GIL off", None: "GIL ?"}[run.get("gil_enabled")]
    env = f", PYTHON_GIL={run['python_gil_env']}" if run.get("python_gil_env") is not None else ""
    return f"{run['tag']} ({run['build']} build, {gil}{env})"


def summary_rows(comparison: dict) -> list[list[str]]:
    """Table rows for a comparison, one per parallel cell (kernel and variant on the first):
    kernel, variant, baseline serial, other serial, overhead, executor xW, speedup against the
    other's own serial, against the baseline's serial, and the baseline's own speedup."""
    rows = []
    for r in comparison["rows"]:
        head = [r["kernel"], r["variant"], _ms(r["baseline_serial_median_s"]),
                _ms(r["other_serial_median_s"]),
                _x(r["serial_ratio"]) if r["serial_ratio"] else (r["note"] or "-")]
        if not r["cells"]:
            rows.append(head + ["", "", "", ""])
        for k, c in enumerate(r["cells"]):
            lead = head if k == 0 else ["", "", "", "", ""]
            if c.get("error"):
                rows.append(lead + [f"{c['executor']} x{c['workers']}",
                                    f"failed: {c['error'][:60]}", "", ""])
            else:
                rows.append(lead + [f"{c['executor']} x{c['workers']}",
                                    _short(c["speedup_same_build"]),
                                    _short(c["speedup_vs_baseline"]),
                                    _short(c["baseline_speedup"])])
    return rows


def _short(ratio: dict | None) -> str:
    return "-" if not ratio or ratio.get("median") is None else f"{ratio['median']:.2f}x"


def markdown(combined: dict) -> str:
    """The comparison of builds as Markdown (runs, then one table per comparison)."""
    out = ["# gilbench: the same matrix under several interpreters", ""]
    out.append("| tag | build | GIL | PYTHON_GIL | interpreter | results |")
    out.append("|---|---|---|---|---|---|")
    for run in combined["runs"]:
        gil = {True: "on", False: "off", None: "?"}[run.get("gil_enabled")]
        out.append(f"| {run['tag']} | {run['build']} | {gil} | {run.get('python_gil_env') or '-'} "
                   f"| `{run.get('python_executable')}` | `{Path(run['file']).name}` |")
    out.append("")
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        out.append(f"## {o} against {b}")
        out.append("")
        out.append(f"*Overhead* = {o} serial time / {b} serial time per unit of work (> 1: {o} "
                   f"is slower on one thread). Speedups of each {o} cell: against {o}'s own "
                   f"serial time, against {b}'s serial time, and {b}'s own speedup for the same "
                   f"cell. Brackets: bootstrap 95% interval.")
        out.append("")
        out.append(f"| kernel | variant | serial {b} | serial {o} | overhead {o}/{b} | "
                   f"executor | W | speedup {o} (own serial) | speedup {o} vs {b} serial | "
                   f"speedup {b} (own) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in comp["rows"]:
            head = (f"| {r['kernel']} | {r['variant']} | {_ms(r['baseline_serial_median_s'])} | "
                    f"{_ms(r['other_serial_median_s'])} | "
                    f"{_x(r['serial_ratio']) if r['serial_ratio'] else (r['note'] or '-')}")
            if not r["cells"]:
                out.append(head + " | | | | | |")
            for k, c in enumerate(r["cells"]):
                lead = head if k == 0 else "| | | | |"
                if c.get("error"):
                    tail = f" {c['executor']} | {c['workers']} | failed: {c['error']} | | |"
                else:
                    tail = (f" {c['executor']} | {c['workers']} | {_x(c['speedup_same_build'])} | "
                            f"{_x(c['speedup_vs_baseline'])} | {_x(c['baseline_speedup'])} |")
                out.append(lead + " |" + tail)
        out.append("")
    out.append(f"_{combined['note']}_")
    out.append("")
    return "\n".join(out)


def write_combined(docs: Sequence[dict], files: Sequence[str | os.PathLike],
                   out: str | os.PathLike, tags: Sequence[str] | None = None
                   ) -> tuple[Path, Path, dict]:
    """Write ``OUT-builds.json`` and ``OUT-builds.md``; returns (json path, md path, document)."""
    from gilbench import results

    combined = combined_document(docs, files, tags)
    json_path, md_path = combined_paths(out)
    results.write(combined, json_path)
    md_path.write_text(markdown(combined), encoding="utf-8")
    return json_path, md_path, combined


def print_comparisons(combined: dict, console) -> None:
    """Print each comparison of builds as a table (overhead, then speedups per parallel cell)."""
    from rich.table import Table

    runs = {r["tag"]: r for r in combined["runs"]}
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        t = Table(title=f"{_label_text(runs[o])} against {_label_text(runs[b])}",
                  caption=f"overhead: {o} serial time / {b} serial time [95% CI]; speedup of "
                          f"each {o} cell against {o}'s serial, against {b}'s serial, and "
                          f"{b}'s own speedup for that cell", expand=False)
        for col in ("kernel", "variant", f"serial {b}", f"serial {o}", "overhead", "cell",
                    f"vs {o}", f"vs {b}", f"{b} own"):
            t.add_column(col)
        for row in summary_rows(comp):
            t.add_row(*row)
        console.print(t)
    console.print(f"[dim]{combined['note']}[/]")


# -- running -----------------------------------------------------------------------------------

#: options of `gilbench run` that the parent handles itself rather than forwarding
_NOT_FORWARDED = {"pythons", "out", "report", "help"}


def forwarded_arguments(args: argparse.Namespace) -> list[str]:
    """The `gilbench run` options the user gave (other than --python/--out/--report), as argv,
    found from the run parser itself so that options added later are forwarded too."""
    from gilbench.commands import run

    parser = argparse.ArgumentParser(add_help=False)
    run.add_arguments(parser)
    argv: list[str] = []
    for action in parser._actions:
        if not action.option_strings or action.dest in _NOT_FORWARDED:
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default or value is None:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def _child_command(it: Interpreter, forwarded: list[str], out: Path, report: str | None,
                   sizes_from: Path | None) -> list[str]:
    cmd = [it.path, "-m", "gilbench", "run"] if sizes_from is None else [
        it.path, "-m", "gilbench.multi", "--sizes-from", str(sizes_from)]
    cmd += [*forwarded, "--out", str(out)]
    if report:
        cmd += ["--report", f"{report.rstrip('/')}-{it.tag}"]
    return cmd


def _run_child(cmd: list[str]) -> int:
    """Run one interpreter's `gilbench run` to the end; its exit status.

    Ctrl-C reaches the child too (same process group), and the child stops its own workers and
    keeps its finished cells, so the parent waits for it rather than killing it: the second
    Ctrl-C terminates it, the third kills it. SIGTERM to the parent is passed on.
    """
    import signal

    proc = subprocess.Popen(cmd)
    previous = None
    if threading_is_main():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.terminate())
    interrupts = 0
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts == 2:
                    proc.terminate()
                elif interrupts >= 3:
                    proc.kill()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main_multi(args: argparse.Namespace) -> int:
    """``gilbench run --python A --python B ...``: run the matrix under each, then compare."""
    from rich.console import Console

    from gilbench import results
    from gilbench.errors import UsageError
    from gilbench.commands.run import _check_writable, config_from_args

    config_from_args(args)  # the same checks as a plain run (and no --resume), before anything
    _check_writable(args.out)
    console = Console(stderr=True)
    try:
        interpreters = [probe(p) for p in args.pythons]
    except MultiRunError as exc:
        raise UsageError(str(exc)) from None
    assign_tags(interpreters)
    ref = reference_index(interpreters)
    order = [ref] + [i for i in range(len(interpreters)) if i != ref]
    forwarded = forwarded_arguments(args)
    outs = {i: tagged_path(os.path.abspath(args.out), interpreters[i].tag)
            for i in range(len(interpreters))}
    console.print(
        "[bold]gilbench run[/] under " + ", ".join(
            f"{it.tag} ({it.build} build, {it.path})" for it in interpreters)
        + f"; sizes calibrated under {interpreters[ref].tag} and reused for the others; "
          "one interpreter at a time")
    failed: list[str] = []
    done: list[int] = []
    for i in order:
        it = interpreters[i]
        sizes_from = None if i == ref else outs[ref]
        cmd = _child_command(it, forwarded, outs[i], args.report, sizes_from)
        console.rule(f"{it.tag}: {' '.join(cmd[1:])}")
        code = _run_child(cmd)
        if code in (130, 143) or code < 0:
            console.print(f"[yellow]interrupted[/] during {it.tag}; the finished cells are in "
                          f"{outs[i]}")
            return 130 if code < 0 else code
        if code != 0:
            failed.append(f"{it.tag} (exit status {code})")
            if i == ref:
                console.print(f"[red]the reference run ({it.tag}) failed[/]: the others need its "
                              "sizes; stopping")
                return 1
            continue
        done.append(i)
    docs, files, tags = [], [], []
    for i in sorted(done):
        try:
            docs.append(results.read(outs[i]))
            files.append(outs[i])
            tags.append(interpreters[i].tag)
        except results.ResultsError as exc:
            failed.append(f"{interpreters[i].tag} ({exc})")
    console.rule("builds compared")
    for f in files:
        console.print(f"results: {f}")
    if len(docs) >= 2:
        json_path, md_path, combined = write_combined(docs, files, os.path.abspath(args.out), tags)
        print_comparisons(combined, console)
        console.print(f"comparison of builds: {json_path} and {md_path}")
        console.print(f"side by side, cell by cell: gilbench compare {files[0]} {files[1]}")
    if failed:
        console.print(f"[red]failed[/]: {', '.join(failed)}")
        return 1
    return 0


# -- the child: `python -m gilbench.multi --sizes-from REF.json <run options> --out FILE` ---------

def pinned_sizes(doc: dict) -> dict[tuple[str, str], int]:
    """Per (kernel, variant): the size its serial cell ran at in ``doc`` (the base size)."""
    return {(c["kernel"], c["variant"]): int(c["size"]) for c in doc["cells"]
            if c["executor"] == "serial" and c.get("size")}


def child_main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix like `gilbench run`, but at the sizes of an earlier results file (one
    (kernel, variant) group at a time, so each variant keeps its own size)."""
    from rich.console import Console
    from rich.markup import escape

    from gilbench import results
    from gilbench.errors import UsageError
    from gilbench.commands import run
    from gilbench.executors.base import lingering_threads
    from gilbench.runner import (Events, Interrupted, finish_document, plan, run_matrix,
                                 start_document, stop_on_signals)

    parser = argparse.ArgumentParser(
        prog="python -m gilbench.multi",
        description="gilbench run at the sizes of an earlier results file (used by "
                    "`gilbench run --python`)")
    run.add_arguments(parser)
    parser.add_argument("--sizes-from", required=True, metavar="FILE",
                        help="results file whose serial cells give each kernel variant's size")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        config = run.config_from_args(args)
        run._check_writable(args.out)
        sizes = pinned_sizes(results.read(args.sizes_from))
    except (UsageError, results.ResultsError) as exc:
        print(f"gilbench.multi: error: {exc}", file=sys.stderr)
        return 2
    import time

    doc = start_document(config, ["gilbench", "run", *(argv if argv is not None else sys.argv[1:])])
    doc["config"]["sizes_from"] = str(Path(args.sizes_from).resolve())
    doc["config"]["pinned_sizes"] = {f"{k}/{v}": s for (k, v), s in sizes.items()}
    writer = results.ResultsWriter(args.out, doc)
    started = time.perf_counter()
    events = Events()

    def on_cell(cell: dict) -> None:
        note = cell.get("error") or ""
        console.print(f"  {cell['kernel']}/{cell['variant']} {cell['executor']} x{cell['workers']}: "
                      f"{run._fmt_speedup(cell)} {escape(note[:100])}", highlight=False)

    events.on_cell = on_cell
    interrupted: KeyboardInterrupt | None = None
    with stop_on_signals():
        try:
            for kernel, variant, _specs in plan(config):
                key = (kernel.name, variant.name)
                pinned = ({kernel.name: sizes[key]} if key in sizes else
                          {k: n for k, n in config.sizes.items() if k == kernel.name})
                sub = dataclasses.replace(config, kernels=[kernel.name], variants=[variant.name],
                                          sizes=pinned)
                console.print(f"{kernel.name}/{variant.name}: size "
                              + (f"{sizes[key]:,} (from {args.sizes_from})" if key in sizes
                                 else "calibrated here (not in the reference run)"))
                run_matrix(sub, writer, events)
        except KeyboardInterrupt as exc:  # Interrupted (a signal), or Ctrl-C
            interrupted = exc
            results.write(writer.doc, writer.path)
    if interrupted is not None:
        console.print(f"interrupted: {len(writer.doc['cells'])} finished cells kept in {args.out}")
        status = interrupted.exit_status if isinstance(interrupted, Interrupted) else 130
        return run._exit(status, console, lingering_threads)
    finish_document(writer, started)
    console.print(f"{len(writer.doc['cells'])} cells in {time.perf_counter() - started:.0f} s; "
                  f"results: {args.out}")
    run.print_summary(writer.doc, console)
    if args.report:
        from gilbench.report import write_report

        write_report(writer.doc, args.report)
    # worker threads that could not be stopped: exit without waiting for them, as `run` does
    return run._exit(0, console, lingering_threads)


if __name__ == "__main__":
    sys.exit(child_main())
