"""The ``gilbench`` command line: one subcommand per module in ``gilbench.commands``.

Each command module has ``HELP`` (one line), ``add_arguments(parser)`` and ``main(args) -> int``.
User errors raise ``UsageError`` (or ``UnknownNameError``): printed as one line, exit status 2,
no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from typing import Callable, Sequence

from gilbench import __version__
from gilbench.errors import USER_ERRORS, UnknownNameError, UsageError

#: subcommand -> module; order is the order of `gilbench --help`
COMMANDS = {
    "run": "gilbench.commands.run",
    "report": "gilbench.commands.report",
    "compare": "gilbench.commands.compare",
    "claims": "gilbench.commands.claims",
    "info": "gilbench.commands.info",
    "verify": "gilbench.commands.verify",
    "try": "gilbench.commands.try_",
}


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
    except USER_ERRORS as exc:
        # a results file that cannot be used is the user's input too: one line, no traceback
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


def _is_decimal(text: str) -> bool:
    # str.isdigit() also accepts superscripts and other digits int() refuses
    return bool(text) and text.isascii() and text.isdigit()


def parse_positive_ints(text: str, option: str, maximum: int | None = None) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; every item a positive integer (at most ``maximum``),
    else UsageError."""
    accepted = "positive integers" + (f" up to {maximum}" if maximum else "")
    values = []
    for item in text.split(","):
        item = item.strip()
        if not _is_decimal(item) or int(item) < 1:
            raise UsageError(f"{option} takes {accepted} separated by commas, such as 1,2,4; "
                             f"got {text!r}")
        if maximum is not None and int(item) > maximum:
            raise UsageError(f"{option} takes {accepted}; {int(item)} is too many")
        values.append(int(item))
    return values


def positive_seconds(text: str) -> float:
    """argparse ``type=`` for durations: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected a positive number of seconds such as 0.5 or 30, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse ``type=`` for counts: an integer of at least 1."""
    text = text.strip()
    if not _is_decimal(text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer such as 5, got {text!r}")
    return int(text)


def parse_sizes(items: Sequence[str] | None, valid: Sequence[str],
                minimum: Callable[[str], int] = lambda name: 1) -> dict[str, int]:
    """``["primes=20000", "sleep=50,echo=8"]`` -> ``{"primes": 20000, ...}``: kernel=size pairs,
    each kernel in ``valid`` and each size an integer of at least ``minimum(kernel)``."""
    sizes: dict[str, int] = {}
    for item in (part.strip() for text in items or () for part in text.split(",")):
        if not item:
            continue
        name, sep, value = (p.strip() for p in item.partition("="))
        if not sep:
            raise UsageError(f"--size takes KERNEL=SIZE pairs such as primes=20000, got {item!r}")
        if name not in valid:
            raise UnknownNameError("kernel", name, valid)
        low = minimum(name)
        if not _is_decimal(value.replace("_", "")) or int(value.replace("_", "")) < low:
            raise UsageError(f"--size {name}=...: the size must be an integer of at least {low}, "
                             f"got {value!r}")
        sizes[name] = int(value.replace("_", ""))
    return sizes


def check_output_file(path: str, option: str) -> None:
    """UsageError unless ``path`` can be written as a file (its directory exists, is writable)."""
    import os

    if not path or not path.strip():
        raise UsageError(f"{option} needs a file name, such as results.json")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file name such as "
                         "results.json")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise UsageError(f"{option} {path!r}: {directory!r} {what}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r}: directory {directory!r} is not writable")
    if os.path.exists(path) and not os.path.isfile(path):
        raise UsageError(f"{option} {path!r} exists and is not a regular file")


def check_output_dir(path: str, option: str) -> None:
    """UsageError unless ``path`` is, or can be created as, a writable directory."""
    import os

    if not path or not path.strip():
        raise UsageError(f"{option} needs a directory name")
    target = os.path.abspath(path)
    if os.path.exists(target) and not os.path.isdir(target):
        raise UsageError(f"{option} {path!r} exists and is not a directory")
    existing = target
    while not os.path.exists(existing):  # the directory and its parents are created later
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(f"{option} {path!r}: {existing!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r}: directory {existing!r} is not writable")
