"""The ``gilbench`` command line: one subcommand per module in ``gilbench.commands``.

Each command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``main(args) -> int``.
User errors raise ``UsageError`` (or ``UnknownNameError``): printed as one line, exit status 2,
no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from gilbench import __version__
from gilbench.kernels import UnknownNameError

#: subcommand -> module; order is the order of `gilbench --help`
COMMANDS = {
    "run": "gilbench.commands.run",
    "report": "gilbench.commands.report",
    "compare": "gilbench.commands.compare",
    "info": "gilbench.commands.info",
    "verify": "gilbench.commands.verify",
}


class UsageError(Exception):
    """A mistake in what the user asked for; the message says what is accepted."""


def build_parser() -> argparse.ArgumentParser:
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
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
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
    except (UsageError, UnknownNameError) as exc:
        print(f"gilbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gilbench {args.command}: interrupted", file=sys.stderr)
        return 130


def parse_names(text: str | None, valid: Sequence[str], what: str) -> list[str] | None:
    """A comma-separated list of names, each checked against ``valid`` (None: all)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"--{what}s needs at least one name; valid {what}s: {', '.join(valid)}")
    for n in names:
        if n not in valid:
            raise UnknownNameError(what, n, valid)
    return names


def parse_positive_ints(text: str, option: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; every item a positive integer, else UsageError."""
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) < 1:
            raise UsageError(f"{option} takes positive integers separated by commas, got {text!r}")
        values.append(int(item))
    if not values:
        raise UsageError(f"{option} needs at least one value")
    return values
