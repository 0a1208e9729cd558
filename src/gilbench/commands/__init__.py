"""The ``gilbench`` command line: one subcommand per module of this package.

Each command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``main(args) -> int``;
shared option types are in ``_args``. User errors (``errors.USER_ERRORS``) raised anywhere below
are printed here as one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from gilbench import __version__
from gilbench.errors import USER_ERRORS

#: subcommand -> module; order is the order of `gilbench --help`
COMMANDS = ("run", "try", "report", "compare", "claims", "info", "verify")
#: a command whose name is a Python keyword lives in a module with a trailing underscore
_MODULE_NAMES = {"try": "try_"}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (each command's module is imported here)."""
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
    for name in COMMANDS:
        module = importlib.import_module(f"gilbench.commands.{_MODULE_NAMES.get(name, name)}")
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
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
