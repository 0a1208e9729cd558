"""Run every variant of every kernel on a small size, cut into several chunkings, and check each
result against the pure-Python reference. Exit status 1 if any variant disagrees or fails."""

from __future__ import annotations

import argparse

from gilbench import kernels
from gilbench.commands._terminal import make_console
from gilbench.errors import UsageError, one_line
from gilbench.executors.interpreters import InterpretersExecutor, _one_line, _raise_excinfo
from gilbench.kernels import check_declared
from gilbench.run.options import parse_names, parse_positive_ints



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernels", help="comma-separated kernel names (default: all)")
    parser.add_argument("--chunks", default="1,3,8",
                        help="chunk counts to try (default: 1,3,8)")
    parser.add_argument("--subinterpreter", action="store_true",
                        help="run the checks, GIL check included, inside an isolated "
                             "subinterpreter with its own GIL, where the interpreters executors "
                             "run them (Python 3.13+); a variant that cannot load there (NumPy) "
                             "shows as unavailable, with the reason")


def verify_kernel(kernel, chunkings: list[int]) -> list[dict]:
    """One row per variant: the reference result, the variant's results, and a status."""
    rows = []
    size = kernel.verify_size
    if kernel.prepare is not None:
        kernel.prepare(size)
    with kernel.session():
        reference = kernel.reduce([kernel.variant("python")(c) for c in kernel.split(size, 1)])
        for v in kernel.variants:
            row = {"kernel": kernel.name, "variant": v.name, "size": size,
                   "expected": reference, "got": None, "status": "ok", "detail": ""}
            if not v.available:
                row.update(status="unavailable", detail=v.reason)
                rows.append(row)
                continue
            for n in chunkings:
                try:
                    got = kernel.reduce([v(c) for c in kernel.split(size, n)])
                except Exception as exc:  # a failing variant is a finding, not a crash
                    row.update(status="FAILED", detail=f"{n} chunks: {one_line(exc)}")
                    break
                row["got"] = got
                if not kernel.agrees(got, reference):
                    row.update(status="MISMATCH", detail=f"{n} chunks: got {got!r}")
                    break
            if row["status"] == "ok":  # its releases_gil against a measurement
                row["gil"] = check_declared(kernel, v)
            rows.append(row)
    return rows


# verify_kernel inside a subinterpreter; the rows come back pickled through a file, which works
# alike on 3.13 and 3.14 (whose cross-interpreter queues differ)
_IN_SUBINTERPRETER = """\
import pickle
import sys
sys.path[:] = list(sys_path)
from gilbench import kernels
from gilbench.commands.verify import verify_kernel
with open(out_path, "wb") as out:
    pickle.dump(verify_kernel(kernels.get(kernel_name), list(chunkings)), out)
"""

def verify_in_subinterpreter(kernel, chunkings: list[int]) -> list[dict]:
    """``verify_kernel`` run in a new isolated subinterpreter (its own GIL): its rows, the
    reasons of variants that cannot load there in one line. SubinterpreterError if the kernel
    itself fails there."""
    import os
    import pickle
    import sys
    import tempfile

    import _interpreters

    fd, path = tempfile.mkstemp(prefix="gilbench-verify-", suffix=".pickle")
    os.close(fd)
    iid = _interpreters.create("isolated")
    try:
        excinfo = _interpreters.exec(iid, _IN_SUBINTERPRETER, shared={
            "sys_path": tuple(sys.path), "kernel_name": kernel.name, "chunkings": tuple(chunkings),
            "out_path": path})
        if excinfo is not None:
            _raise_excinfo(excinfo, f"verify {kernel.name}")
        with open(path, "rb") as f:
            rows = pickle.load(f)
    finally:
        _interpreters.destroy(iid)
        os.unlink(path)
    for row in rows:
        if row["status"] == "unavailable":
            row["detail"] = _one_line("", row["detail"])
    return rows


def shown_value(value) -> str:
    """A result as the table shows it, whole: floats to 10 significant digits (a sum that
    agrees within the tolerance reads the same), everything else as str()."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


#: the GIL column's short words; the interval and the reason go below the table
_GIL_STATUS = {"ok": "[green]ok[/]", "MISMATCH": "[red]MISMATCH[/]",
               "undecided": "[yellow]undecided[/]"}


def gil_cell(gil) -> str:
    """The GIL column for one row: the check's status and the measured share, in a few words
    (e.g. "ok releases 97%"); the interval and reasons go in ``gil_note``."""
    if gil is None:
        return ""
    check = gil.check
    status = _GIL_STATUS.get(gil.status, gil.status)
    if check is None or check.fraction is None:
        return f"{status} (below)" if gil.status != "ok" else status
    verdict = "" if check.verdict == gil.status else f" {check.verdict}"
    return f"{status}{verdict} {check.fraction:.0%}"


def gil_note(row: dict) -> str | None:
    """A line below the table for a row whose GIL check is not plainly ok (interval, reason)."""
    gil = row.get("gil")
    if gil is None or gil.status == "ok":
        return None
    return f"{row['kernel']}/{row['variant']}: GIL {gil.status}: {gil.detail}"


def main(args: argparse.Namespace) -> int:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    names = parse_names(args.kernels, kernels.names(), "kernel") or kernels.names()
    chunkings = parse_positive_ints(args.chunks, "--chunks")
    where = ""
    verify = verify_kernel
    if args.subinterpreter:
        why = InterpretersExecutor.unavailable_reason()
        if why:
            raise UsageError(f"--subinterpreter: {why}")
        where, verify = ", in an isolated subinterpreter", verify_in_subinterpreter
    console = make_console(stderr=False)
    # every column whole (values, names, a few words): the details go below the table
    table = Table(title=f"gilbench verify: every variant against the python reference{where}",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ("kernel", "variant", "size", "expected", "got", "status", "GIL"):
        table.add_column(column, no_wrap=True, overflow="fold",
                         justify="right" if column in ("size", "expected", "got") else "left")
    bad = 0
    unavailable = 0
    notes: list[str] = []
    for name in names:
        for row in verify(kernels.get(name), chunkings):
            status = row["status"]
            where = f"{row['kernel']}/{row['variant']}"
            if status in ("FAILED", "MISMATCH"):
                bad += 1
                shown = f"[red]{status}[/]"
                notes.append(f"{where}: {status}: {row['detail']}")
            elif status == "unavailable":
                unavailable += 1
                shown = "[yellow]unavail.[/]"
                notes.append(f"{where}: unavailable: {row['detail']}")
            else:
                shown = "[green]ok[/]"
            gil = row.get("gil")
            bad += gil is not None and gil.status == "MISMATCH"
            note = gil_note(row)
            if note is not None:
                notes.append(note)
            expected, got = shown_value(row["expected"]), shown_value(row["got"])
            table.add_row(row["kernel"], row["variant"], str(row["size"]), expected,
                          "same" if got == expected else got, shown, gil_cell(gil))
    console.print(table)
    console.print("GIL: the variant's releases_gil declaration against a measurement (ok: they "
                  "agree) and the share of its pace another thread keeps beside the call; "
                  "the rows not ok are explained below", highlight=False)
    for note in notes:
        console.print(escape(note), highlight=False)
    if bad:
        console.print(f"[red]{bad} check(s) failed: a variant disagrees with the reference, "
                      "failed, or does not do with the GIL what it declares[/]")
        return 1
    note = f" ({unavailable} unavailable, see above)" if unavailable else ""
    console.print(f"[green]all variants agree with the python reference[/]{note}")
    return 0
