"""Option types and checks shared by the commands (asv's ``common_args.py``), and the options
of ``gilbench run`` declared once (``add_run_options``) for every front end that takes them:
``gilbench run`` itself and ``pytest bench/`` (with the prefix ``--gb-``).

Bad input raises ``UsageError`` (``UnknownNameError`` for names), whose message says what is
accepted; argparse ``type=`` functions raise ``argparse.ArgumentTypeError`` instead.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, Callable, Sequence

from gilbench import executors, kernels
from gilbench.errors import UnknownNameError, UsageError
from gilbench.executors.dask_ import SCHEDULER_ENV
from gilbench.run.config import (DEFAULT_MAX_REPEATS, DEFAULT_MAX_TIME_S, DEFAULT_MAX_WAIT_S,
                                 DEFAULT_REPEATS, DEFAULT_TARGET_S, MAX_TIME_CARRY,
                                 MAX_WAIT_ENV, MAX_WORKERS, MIN_TIMEOUT_S, QUICK_MAX_REPEATS,
                                 QUICK_MAX_TIME_S, QUICK_MAX_WAIT_S, QUICK_TARGET_S,
                                 TIMEOUT_TARGETS, RunConfig)


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


def seconds_or_zero(text: str) -> float:
    """argparse ``type=`` for waiting budgets: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, 0 or more, such as 0 or 60, got {text!r}")
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


def add_run_options(addoption: Callable[..., Any], prefix: str = "",
                    only: Sequence[str] | None = None,
                    helps: dict[str, str] | None = None) -> list[str]:
    """Declare the options that decide what a run measures with ``addoption`` (argparse's
    ``add_argument`` or pytest's ``parser.addoption``), each named ``--PREFIX<name>``: all of
    ``RUN_OPTIONS``, or those in ``only`` (``gilbench try``'s subset), with the help texts of
    ``helps`` instead where a command's defaults differ.

    Returns their names (``run_config`` reads them back); the values are left as given (text),
    so that every error is a one-line UsageError from ``run_config`` (or ``try``'s
    ``parse_executors`` and ``run.config.check_options``).
    """

    quick = f"--{prefix}quick"

    def add(name: str, **kwargs: Any) -> None:
        dest = name.replace("-", "_")
        if only is None or dest in only:
            kwargs["help"] = (helps or {}).get(dest, kwargs["help"])
            addoption(f"--{prefix}{name}", **kwargs)

    add("kernels", metavar="K,..",
        help=f"kernels to run (default: all): {', '.join(kernels.names())}")
    add("variants", metavar="V,..",
        help=f"variants to run (default: all each kernel has): "
             f"{', '.join(kernels.VARIANT_ORDER)}")
    add("executors", metavar="E,..",
        help=f"executors (default: {','.join(executors.DEFAULT)}; {all_executors(prefix)}): "
             f"{', '.join(executors.names())}")
    add("workers", metavar="1,2,4",
        help=f"worker counts (default: 1, 2, 4, ... up to the physical cores, the hardware "
             "threads and one oversubscribed point, fewer on a big host so the run "
             f"stays within 6 minutes; {quick}: 1 and the physical cores)")
    add("repeats", type=positive_int, metavar="N",
        help=f"paired rounds every cell gets after a cold run, at least "
             f"{DEFAULT_REPEATS} (default {DEFAULT_REPEATS})")
    add("max-repeats", type=positive_int, metavar="N",
        help=f"cap on the rounds of a cell whose verdict is still undecided (default "
             f"{DEFAULT_MAX_REPEATS}, {quick} {QUICK_MAX_REPEATS}); at the cap it is "
             "reported undecided")
    add("max-time", type=positive_seconds, metavar="S",
        help=f"seconds of rounds per kernel variant before undecided cells stop "
             f"(default {DEFAULT_MAX_TIME_S:g}, {quick} {QUICK_MAX_TIME_S:g}); what a "
             f"variant leaves unused goes to the next ones, up to {MAX_TIME_CARRY:g}x "
             "more each")
    add("max-wait", type=seconds_or_zero, metavar="S",
        help=f"seconds the run may wait in all for a busy host to settle: a round that "
             f"other processes disturbed is kept but never counted, and the run waits "
             f"for a quiet moment (default ${MAX_WAIT_ENV}, else {DEFAULT_MAX_WAIT_S:g}, "
             f"{quick} {QUICK_MAX_WAIT_S:g}; 0: never wait); cells left short of quiet "
             "rounds are 'undecided — host busy'")
    add("target-time", type=positive_seconds, metavar="S",
        help=f"seconds a serial run should last after calibration "
             f"(default {DEFAULT_TARGET_S}, {quick} {QUICK_TARGET_S})")
    add("quick", action="store_true",
        help="small sizes and worker counts 1 and the usable cores: about a minute")
    add("weak", action="store_true",
        help="weak scaling: fixed work per worker (default: strong, fixed total)")
    add("start-method", choices=["fork", "spawn", "forkserver"],
        help="how process executors start workers (default: the platform's)")
    add("timeout", type=positive_seconds, metavar="S",
        help=f"time limit of one run of one cell: a cell over it is stopped and recorded "
             f"as timed out (default: {MIN_TIMEOUT_S:g} s or {TIMEOUT_TARGETS}x the target "
             "time, whichever is longer)")
    add("size", action="append", metavar="K=N",
        help="advanced: measure kernel K at size N instead of calibrating it "
             "(repeatable, or K=N,K2=N2)")
    add("pin", metavar="MODE",
        help="where the workers run: 'none' (default: the OS places them) or 'physical' "
             "(one CPU per physical core, the first hardware thread of each, as CPython's "
             "Tools/ftscalingbench does; worker i is pinned to the i-th of them, so no "
             "two workers share a core until every core has one). Linux only; the CPUs "
             "used are recorded in each cell")
    add("core-type", metavar="TYPE",
        help="keep the workers on the cores of one type of a hybrid host, e.g. "
             "'performance' or 'efficiency' (`gilbench info` lists this host's); the "
             "verdicts are then judged against those cores only")
    add("dask-scheduler", metavar="ADDRESS",
        help="measure the executor 'dask' on the existing Dask cluster whose scheduler "
             "is at ADDRESS (what `dask scheduler` prints, e.g. tcp://127.0.0.1:8786; "
             "default: $GILBENCH_DASK_SCHEDULER); checked before anything is measured")
    return [name for name in RUN_OPTIONS if only is None or name in only]


#: the names ``add_run_options`` declares (as argparse ``dest``s, without the prefix)
RUN_OPTIONS = ("kernels", "variants", "executors", "workers", "repeats", "max_repeats",
               "max_time", "max_wait", "target_time", "quick", "weak", "start_method", "timeout",
               "size", "dask_scheduler", "pin", "core_type")


def all_executors(prefix: str = "") -> str:
    """What ``--executors all`` means, in the help of every command that takes it."""
    return f"'all': every one, dask only with --{prefix}dask-scheduler"


def given_scheduler(option: str | None) -> str | None:
    """The Dask scheduler address: ``--dask-scheduler``, else ``$GILBENCH_DASK_SCHEDULER``."""
    return option or os.environ.get(SCHEDULER_ENV) or None


def parse_executors(text: str | None, scheduler: str | None) -> list[str] | None:
    """``--executors``: names (checked), or ``all``: every executor that can run without being
    told where, so ``dask`` (an existing cluster) only with a ``scheduler`` (None: not given)."""
    if text is not None and text.strip() == "all":
        return [e for e in executors.names() if scheduler or e != "dask"]
    return parse_names(text, executors.names(), "executor")


def parse_workers(text: str | None) -> list[int] | None:
    """``--workers``: the worker counts (None: not given)."""
    return None if text is None else parse_positive_ints(text, "--workers", MAX_WORKERS)


def run_config(get: Callable[[str], Any]):
    """The RunConfig of the run options, ``get(name)`` giving each one's value as parsed by
    ``add_run_options`` (None or False: not given). UsageError for anything invalid."""

    scheduler = given_scheduler(get("dask_scheduler"))
    return RunConfig.from_options(
        kernels=parse_names(get("kernels"), kernels.names(), "kernel"),
        variants=parse_names(get("variants"), kernels.VARIANT_ORDER, "variant"),
        executors=parse_executors(get("executors"), scheduler),
        workers=parse_workers(get("workers")),
        repeats=get("repeats"), target_time_s=get("target_time"), quick=bool(get("quick")),
        weak=bool(get("weak")), start_method=get("start_method"),
        sizes=parse_sizes(get("size"), kernels.names(), lambda name: kernels.get(name).min_size),
        timeout_s=get("timeout"), max_repeats=get("max_repeats"), max_time_s=get("max_time"),
        dask_scheduler=scheduler, max_wait_s=get("max_wait"), pin=get("pin"),
        core_type=get("core_type"))


def given_run_options(get: Callable[[str], Any]) -> list[str]:
    """The run options that were given (not left at None/False), as ``RUN_OPTIONS`` names."""
    return [name for name in RUN_OPTIONS if get(name) not in (None, False)]


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
