"""The same matrix under several interpreters (``gilbench run --python A --python B``), and the
comparison of builds: the free-threaded build's single-thread overhead and its speedups against
its own serial time and against the default build's.

How a multi-interpreter run goes:

1. Each ``--python`` is probed (``PATH -c "import gilbench ..."``): it must have gilbench
   installed; its tag is its version plus ``t`` for a free-threaded build (``3.13.0``,
   ``3.13.5t``).
2. The *reference* interpreter (the first default build, else the first given) runs
   ``PATH -m gilbench run ... --out results-TAG.json`` and calibrates the sizes.
3. Every other interpreter runs ``PATH -m gilbench run --sizes-from results-REF.json ...``:
   the same matrix at the reference's sizes, per (kernel, variant). The same sizes matter:
   calibration would pick a smaller size on a slower build, and the cost of some kernels
   (prime counting) is not linear in the size, so times at different sizes do not compare.
4. Runs are one after another, never at once (they would share the cores). Each results file
   is kept; ``report.compare_builds`` then compares every run with the baseline (the first
   default build with the GIL enabled) by ``gilbench compare``'s rule, and ``write_combined``
   writes ``results-builds.json`` and ``results-builds.md`` next to them.

The ratios across builds come from separate runs, not interleaved ones: drift of a shared
machine between the runs shows up in them. Each pair of runs is judged by ``gilbench
compare``'s own rule (``report.compare.compare``): the time ratios' intervals are widened for
the drift estimated from the serial cells, a parallel cell's change is judged on its paired
speedups where both runs have them, the false discovery rate is held across the cells, and the
words are ``gilbench compare``'s. The combined files and the printed tables say so, with the
drift.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Sequence

from gilbench import results
from gilbench.cell import Cell
from gilbench.errors import UsageError
from gilbench.report.compare_builds import drift_text, label_text, table, write_combined

#: bumped when what the parent asks of the child changes (`run --sizes-from`; 3: `try`'s child
#: imports gilbench.usercode)
CHILD_PROTOCOL = 3

# Printed as one JSON line by each --python interpreter: what it is, and whether gilbench is
# importable there (the error if not).
_PROBE = r"""
import json, platform, sys, sysconfig
info = {"python_version": platform.python_version(), "executable": sys.executable,
        "py_gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}
try:
    import gilbench, gilbench.run.builds
    info["gilbench_version"] = gilbench.__version__
    info["protocol"] = gilbench.run.builds.CHILD_PROTOCOL
except Exception as exc:  # gilbench.errors.one_line's first line, inline: gilbench failed here
    info["error"] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0]
print(json.dumps(info))
"""


class MultiRunError(UsageError):
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

def install_hint(path: str, free_threaded: bool = False) -> str:
    """How to install gilbench for the interpreter at ``path`` (a free-threaded build takes
    the newest release of each dependency that has a wheel for it: ``--prefer-binary``)."""
    pip = f"{path} -m pip install {'--prefer-binary ' if free_threaded else ''}."
    return (f"install it for that interpreter, from a gilbench checkout: `{pip}` "
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
                            f"({info['error']}); "
                            f"{install_hint(path, bool(info.get('py_gil_disabled')))}")
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



def reference_index(interpreters: Sequence[Interpreter]) -> int:
    """The interpreter that calibrates sizes: the first default (GIL) build, else the first."""
    for i, it in enumerate(interpreters):
        if not it.py_gil_disabled:
            return i
    return 0


def _child_command(it: Interpreter, forwarded: list[str], out: Path, report: str | None,
                   sizes_from: Path | None) -> list[str]:
    # a child is the same program: `gilbench run`, with --sizes-from for all but the reference
    cmd = [it.path, "-m", "gilbench", "run", *forwarded, "--out", str(out)]
    if sizes_from is not None:
        cmd += ["--sizes-from", str(sizes_from)]
    if report:
        cmd += ["--report", f"{report.rstrip('/')}-{it.tag}"]
    return cmd


def run_child(cmd: list[str]) -> int:
    """Run one interpreter's gilbench command (``run``, ``try``) to the end; its exit status.

    Ctrl-C reaches the child too (same process group), and the child stops its own workers and
    keeps its finished cells, so the parent waits for it rather than killing it: the second
    Ctrl-C terminates it, the third kills it. SIGTERM to the parent is passed on.
    """
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
    """Whether this is the main thread (the only one that may set signal handlers)."""
    return threading.current_thread() is threading.main_thread()


def run_builds(pythons: Sequence[str], forwarded: list[str], out: str, report: str | None,
               console, results_console=None) -> int:
    """``gilbench run --python A --python B ...``: run the matrix under each interpreter (each
    child is given the run options ``forwarded``), then compare the builds; the exit status.
    UsageError if an interpreter cannot take part. Progress goes to the rich ``console``, the
    files written and the comparison to ``results_console`` (default: ``console``)."""
    shown = results_console or console
    interpreters = [probe(p) for p in pythons]  # MultiRunError: a UsageError
    assign_tags(interpreters)
    ref = reference_index(interpreters)
    order = [ref] + [i for i in range(len(interpreters)) if i != ref]
    outs = {i: tagged_path(os.path.abspath(out), interpreters[i].tag)
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
        cmd = _child_command(it, forwarded, outs[i], report, sizes_from)
        console.rule(f"{it.tag}: {' '.join(cmd[1:])}")
        code = run_child(cmd)
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
    shown.rule("builds compared")
    for f in files:
        shown.print(f"results: {f}")
    if len(docs) >= 2:
        json_path, md_path, combined = write_combined(docs, files, os.path.abspath(out), tags)
        print_comparisons(combined, shown)
        shown.print(f"comparison of builds: {json_path} and {md_path}")
        shown.print(f"side by side, cell by cell: gilbench compare {files[0]} {files[1]}")
    if failed:
        console.print(f"[red]failed[/]: {', '.join(failed)}")
        return 1
    return 0


def print_comparisons(combined: dict, console) -> None:
    """Print each comparison of builds (``report.compare_builds.table``: the rows of the
    Markdown file) on a rich console, with the test in two lines, the drift between the runs
    and the summary."""
    from rich.markup import escape
    from rich.table import Table

    runs = {r["tag"]: r for r in combined["runs"]}
    for comp in combined["comparisons"]:
        b, o = comp["baseline"], comp["other"]
        header, rows = table(comp)
        t = Table(title=f"{label_text(runs[o])} against {label_text(runs[b])}", expand=False)
        for col in header:
            t.add_column(escape(col), overflow="fold")
        for row in rows:
            t.add_row(*(escape(v) for v in row))
        console.print(t)
        console.print(comp["short_test"], highlight=False, markup=False)
        console.print(drift_text(comp), highlight=False, markup=False)
        console.print(f"[bold]{escape(comp['summary'])}[/]", highlight=False)
    console.print(f"[dim]{escape(combined['note'])}[/]")


def pinned_sizes(doc: dict) -> dict[tuple[str, str], int]:
    """Per (kernel, variant): the size its serial cell ran at in ``doc`` (the base size)."""
    return {(c.kernel, c.variant): int(c.size) for c in map(Cell.read, doc["cells"])
            if c.executor == "serial" and c.size}


def read_pinned_sizes(path: str) -> dict[tuple[str, str], int]:
    """``pinned_sizes`` of the results file at ``path``; UsageError if it cannot be read."""
    try:
        return pinned_sizes(results.read(path))
    except results.ResultsError as exc:
        raise UsageError(f"--sizes-from: {exc}") from None


def pin(doc: dict, sizes_from: str, sizes: dict[tuple[str, str], int]) -> None:
    """Record in ``doc``'s config where its sizes came from and what they were."""
    doc["config"]["sizes_from"] = str(Path(sizes_from).resolve())
    doc["config"]["pinned_sizes"] = {f"{k}/{v}": n for (k, v), n in sizes.items()}
