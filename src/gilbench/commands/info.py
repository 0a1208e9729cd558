"""Print the host (CPU, logical and usable cores), the interpreter build and GIL state,
library versions, and which kernel variants are compiled and importable."""

from __future__ import annotations

import argparse
import json

HELP = "host, interpreter build, GIL state and what is compiled"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from gilbench import host

    info = host.host_info()
    status = host.compiled_status()
    if args.json:
        print(json.dumps({"host": info, "variants": status}, indent=2))
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
        ("usable cores", f"{info['usable_cores']}  (the ceiling of any speedup here)"),
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
    return (f"enabled ({env_text}): re-enabled at run time by an extension module without "
            f"free-threading support")
