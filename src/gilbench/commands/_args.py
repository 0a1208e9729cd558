"""What the commands share beyond the run options (those are ``run.options``): checks of the
files and directories they write, and a parsed command line turned back into argv for a child
``gilbench`` under another interpreter.
"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

from gilbench.errors import UsageError
from gilbench.run.options import add_run_options


def check_output_file(path: str, option: str) -> None:
    """UsageError unless ``path`` can be written as a file (its directory exists, is writable)."""
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


def forwarded_arguments(args: argparse.Namespace) -> list[str]:
    """The run options given in ``args`` as argv again (for another interpreter's
    ``gilbench run``), found from ``add_run_options`` so that options added later follow."""
    parser = argparse.ArgumentParser(add_help=False)
    add_run_options(parser.add_argument)
    return options_as_argv(args, parser)


def options_as_argv(args: argparse.Namespace, parser: argparse.ArgumentParser,
                    leave_out: Sequence[str] = ()) -> list[str]:
    """The options of ``parser`` given in ``args`` (all but the dests in ``leave_out``; no
    positionals) as argv again, for a child gilbench under another interpreter: read from the
    parser's declaration, so options added later are passed on too."""
    argv: list[str] = []
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest in leave_out or value is None \
                or value is False or isinstance(action, argparse._HelpAction):
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
