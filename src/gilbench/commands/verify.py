"""Run every variant of every kernel on a small size, cut into several chunkings, and check each
result against the pure-Python reference. Exit status 1 if any variant disagrees or fails."""

from __future__ import annotations

import argparse

HELP = "check that every variant agrees with the pure-Python reference"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernels", help="comma-separated kernel names (default: all)")
    parser.add_argument("--chunks", default="1,3,8",
                        help="chunk counts to try (default: 1,3,8)")


def verify_kernel(kernel, chunkings: list[int]) -> list[dict]:
    """One row per variant: the reference result, the variant's results, and a status."""
    from gilbench.kernels import check_declared

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
                    row.update(status="FAILED", detail=f"{n} chunks: {type(exc).__name__}: {exc}")
                    break
                row["got"] = got
                if not kernel.agrees(got, reference):
                    row.update(status="MISMATCH", detail=f"{n} chunks: got {got!r}")
                    break
            if row["status"] == "ok":  # its releases_gil against a measurement
                row["gil"] = check_declared(kernel, v)
            rows.append(row)
    return rows


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from gilbench import kernels
    from gilbench.commands._args import parse_names, parse_positive_ints

    names = parse_names(args.kernels, kernels.names(), "kernel") or kernels.names()
    chunkings = parse_positive_ints(args.chunks, "--chunks")
    console = Console()
    table = Table(title="gilbench verify: every variant against the python reference")
    for col in ("kernel", "variant", "size", "expected", "got", "status", "GIL as declared"):
        table.add_column(col, justify="right" if col in ("size", "expected", "got") else "left")
    bad = 0
    unavailable = 0
    for name in names:
        for row in verify_kernel(kernels.get(name), chunkings):
            status = row["status"]
            if status in ("FAILED", "MISMATCH"):
                bad += 1
                shown = f"[red]{status}[/] {row['detail']}"
            elif status == "unavailable":
                unavailable += 1
                shown = f"[yellow]unavailable[/] {row['detail']}"
            else:
                shown = "[green]ok[/]"
            gil = row.get("gil")
            bad += gil is not None and gil.status == "MISMATCH"
            gil_shown = "" if gil is None else {"ok": "[green]ok[/] ", "MISMATCH": "[red]MISMATCH[/] ",
                                                "undecided": "[yellow]undecided[/] "}.get(
                gil.status, "") + gil.summary
            table.add_row(row["kernel"], row["variant"], str(row["size"]), str(row["expected"]),
                          "" if row["got"] is None else str(row["got"]), shown, gil_shown)
    console.print(table)
    if bad:
        console.print(f"[red]{bad} check(s) failed: a variant disagrees with the reference, "
                      "failed, or does not do with the GIL what it declares[/]")
        return 1
    note = f" ({unavailable} unavailable, see above)" if unavailable else ""
    console.print(f"[green]all variants agree with the python reference[/]{note}")
    return 0
