"""Print the host (CPU, logical and usable cores), the interpreter build and GIL state,
library versions, which kernel variants are compiled and importable, the optional engines
(joblib, Dask, InterpreterPoolExecutor) with their versions or how to install them, and
whether the host looks quiet enough to measure (load, other processes' CPU and steal over one
second, CPU frequency settings), as ``pyperf system show`` does. On a free-threaded build, also
which extension modules of gilbench and its dependencies would turn the GIL back on (imported
in child processes, within seconds: ``gilbench.gilguard_scan``)."""

from __future__ import annotations

import argparse
import json

from gilbench import executors, gilguard, gilguard_scan, host, kernels, noise
from gilbench.placement import choices_line


#: seconds of watching the host's CPU counters for the quietness check
QUIET_WINDOW_S = 1.0
QUIET = "quiet enough to measure"
BUSY = "busy: figures will be noisy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def engines_status() -> list[dict]:
    """The optional engines: name, available, version (None if not), reason (how to install)."""

    return [{"name": name, "available": ok, "version": version, "reason": reason}
            for name, ok, version, reason in executors.engines()]


def quietness(info: dict) -> dict:
    """Whether the host looks quiet enough to measure, from its load average and one window of
    ``QUIET_WINDOW_S`` seconds of CPU counters: ``{"quiet", "conclusion", "notes"}``."""

    load = info.get("load_average")
    quiet, notes = noise.quietness(load[0] if load else None, info["usable_cores"],
                                   noise.sample(QUIET_WINDOW_S))
    return {"quiet": quiet, "conclusion": QUIET if quiet else BUSY, "notes": notes}


def gil_extensions() -> dict:
    """On a free-threaded build, ``gilguard_scan.scan_dependencies()``; elsewhere
    ``{"checked": False, "reason": ...}`` (no import can turn a GIL build's GIL on)."""

    if not gilguard.ACTIVE:
        return {"checked": False, "reason": "a build with a GIL: no import can turn it back on"}
    return {"checked": True, **gilguard_scan.scan_dependencies()}


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    info = host.host_info()
    status = kernels.compiled_status()
    engines = engines_status()
    scanned = gil_extensions()  # before the quietness window: its children would be counted
    calm = quietness(info)
    if args.json:
        print(json.dumps({"host": info, "variants": status, "engines": engines,
                          "gil_extensions": scanned, "quietness": calm}, indent=2))
        return 0
    console = Console()
    quota = info["cgroup_cpu_quota"]
    gil = _gil_text(info)
    ext = info["extension_build"]
    rows = [
        ("CPU", info["cpu_model"]),
        ("logical cores", str(info["logical_cores"])),
        ("affinity mask", f"{info['affinity_cores']} cores"),
        ("cgroup CPU quota", "none" if quota is None else f"{quota:g} cores"),
        ("usable cores", f"{info['usable_cores']}  (logical CPUs in the mask, quota rounded down)"),
        ("topology", info["topology"]["line"]),
        ("CPU ceiling", f"{info['ceiling']['text']}  (what CPU-bound verdicts are judged against)"),
        ("placement", choices_line(host.topology())),
        ("Python", f"{info['python_implementation']} {info['python_version']} "
                   f"({info['python_executable']})"),
        ("build", f"{info['build']} (Py_GIL_DISABLED={int(info['py_gil_disabled'])})"),
        ("GIL now", gil),
        ("switch interval", f"{info['switch_interval_s'] * 1e3:g} ms"),
        ("subinterpreters", "available" if info["subinterpreters"] else "not in this Python"),
        ("extensions", f"compiled with Cython {ext['cython_version']}, flags {ext['cflags']}"
                       if ext["compiled"] else f"missing: {ext['reason']}"),
        ("NumPy", info["numpy_version"] or "not installed"),
        ("gilbench", info["gilbench_version"] or "?"),
        ("load average", " ".join(map(str, info["load_average"] or [])) or "?"),
    ]
    table = Table(title="gilbench info", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)

    variants = Table(title="kernel variants")
    variants.add_column("kernel", style="bold")
    variants.add_column("variant")
    variants.add_column("status")
    for kernel, vs in status.items():
        for variant, state in vs.items():
            variants.add_row(kernel, variant, "[green]ok[/]" if state == "ok" else f"[red]{state}[/]")
    console.print(variants)

    table = Table(title="engines (optional extras)")
    for col in ("engine", "version", "status"):
        table.add_column(col, style="bold" if col == "engine" else None, overflow="fold")
    for e in engines:
        table.add_row(e["name"], e["version"] or "—",
                      "[green]available[/]" if e["available"]
                      else f"[yellow]{escape(e['reason'])}[/]")  # keeps "gilbench[dask]"
    console.print(table)

    if scanned["checked"]:
        print_gil_extensions(scanned, console)
    console.print("[bold]is the host quiet?[/]")
    for note in calm["notes"]:
        console.print(f"  {note}", markup=False)
    console.print(f"[bold]{'[green]' if calm['quiet'] else '[yellow]'}"
                  f"{calm['conclusion']}[/][/]")
    return 0


def _gil_text(info: dict) -> str:
    """The GIL's state now, and why, e.g. "disabled (PYTHON_GIL unset)"."""
    env = info["python_gil_env"]
    env_text = "PYTHON_GIL unset" if env is None else f"PYTHON_GIL={env}"
    if not info["py_gil_disabled"]:
        return "enabled (always, on a default build" + (
            f"; {env_text} has no effect)" if env is not None else ")")
    if not info["gil_enabled"]:
        return f"disabled ({env_text})"
    if env == "1":
        return f"enabled (turned on by {env_text})"
    # a free-threaded build turns the GIL back on when it imports an extension module that
    # does not declare free-threading support (and warns once)
    culprit = info.get("gil_reenabled_by")
    if culprit:
        where = f" ({culprit['path']})" if culprit.get("path") else ""
        return (f"enabled ({env_text}): re-enabled at run time by importing "
                f"{culprit['module']}{where}, which does not declare free-threading support")
    return (f"enabled ({env_text}): re-enabled at run time by an extension module without "
            f"free-threading support")


def print_gil_extensions(scanned: dict, console) -> None:
    """What the scan of gilbench's dependencies found: the modules that turn the GIL back on
    (with the fix), what it could not import or check, what it did not look at."""
    from rich.markup import escape

    dists = [d for d, n in scanned["distributions"].items() if n]
    total = sum(scanned["distributions"].values())
    verdict = "" if scanned["reenable"] else " [green]none[/]"
    console.print(f"[bold]extension modules that turn the GIL back on:[/]{verdict}")
    console.print(f"  checked {total} extension modules of {escape(', '.join(dists))} in "
                  f"{scanned['children']} child process(es) ({scanned['seconds']:.1f} s)",
                  highlight=False)
    owner = scanned["owner"]
    for found in scanned["reenable"]:
        where = f" ({found['path']})" if found.get("path") else ""
        dist = f" [{owner[found['module']]}]" if found["module"] in owner else ""
        console.print(f"  [red]{escape(found['module'])}[/]{escape(where + dist)}",
                      highlight=False)
    if scanned["reenable"]:
        console.print(f"  fix: {escape(gilguard.FIX)}", highlight=False)
    if scanned["via"]:
        console.print(f"  {len(scanned['via'])} more not judged alone: importing them loads "
                      f"one of these first ({escape(', '.join(sorted(scanned['via'])[:8]))}"
                      f"{', ...' if len(scanned['via']) > 8 else ''})", highlight=False)
    for name, why in scanned["failed"].items():
        console.print(f"  not checked: {escape(name)} did not import: {escape(why)}",
                      highlight=False)
    if scanned["unchecked"]:
        console.print(f"  not checked within the time budget: {len(scanned['unchecked'])} "
                      f"({escape(', '.join(scanned['unchecked'][:8]))}"
                      f"{', ...' if len(scanned['unchecked']) > 8 else ''})", highlight=False)
    if scanned["not_checked"]:
        console.print(f"  not checked (not gilbench's dependencies): the extension modules of "
                      f"{escape(', '.join(scanned['not_checked']))}", highlight=False)
