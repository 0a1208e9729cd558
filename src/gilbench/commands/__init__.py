"""The ``gilbench`` command line: one subcommand per module of this package.

Each command module has ``add_arguments(parser)`` and ``main(args) -> int`` (its help line is in
``COMMANDS``); shared option types are in ``_args``. User errors (``errors.USER_ERRORS``) raised
anywhere below are printed here as one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Iterable, Sequence

from gilbench._version import __version__
from gilbench.errors import USER_ERRORS

#: subcommand -> its line in `gilbench --help`; order is the order of that listing. Each lives in
#: the module of its name (``try`` in ``try_``, a keyword), imported only when it is the command
#: run (or asked for by ``build_parser``): `gilbench report` never loads the measuring engine.
COMMANDS = {
    "run": "measure speedups (the main job); writes a results file, optionally a report",
    "try": "measure your own function (MODULE:FUNCTION) and say which executor to use",
    "report": "write report.md, report.html and plots from a results file (or a json/csv "
              "summary)",
    "compare": "compare two results files: per-cell ratio, interval, faster/slower, scales "
               "better/worse or not significant",
    "claims": "run the experiments behind the article's claims (latency, switch interval, IPC, "
              "start-up)",
    "info": "host, interpreter build, GIL state (on a free-threaded build: which extension "
            "modules would turn it back on), what is compiled, engines, how quiet the host is",
    "verify": "check that every variant agrees with the pure-Python reference",
}
#: a command whose name is a Python keyword lives in a module with a trailing underscore
_MODULE_NAMES = {"try": "try_"}


def command_module(name: str):
    """The module of command ``name`` (``add_arguments(parser)``, ``main(args) -> int``)."""
    return importlib.import_module(f"gilbench.commands.{_MODULE_NAMES.get(name, name)}")


def build_parser(commands: Iterable[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The parser: every command listed, with its options for those in ``commands`` (their
    modules are imported here; the others are only named, which `gilbench --help` needs)."""
    parser = argparse.ArgumentParser(
        prog="gilbench",
        description=(
            "Measure when Python threads reach every core of this host, and when they do not: "
            "pure-Python kernels and their Cython twins (GIL held / released) under serial, "
            "threading, asyncio and multiprocessing executors."
        ),
        epilog="Start with `gilbench run --quick --report gilbench-report`, then open "
        "gilbench-report/report.html.",
    )
    parser.add_argument("--version", action="version", version=f"gilbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = set(commands)
    for name, help_line in COMMANDS.items():
        if name not in wanted:
            sub.add_parser(name, help=help_line)
            continue
        module = command_module(name)
        p = sub.add_parser(name, help=help_line, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[:1] if argv and argv[0] in COMMANDS else ())
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.main(args) or 0)
    except USER_ERRORS as exc:
        print(f"gilbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gilbench {args.command}: interrupted", file=sys.stderr)
        return 130
