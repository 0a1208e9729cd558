"""The options of a run, declared once (asv's ``common_args.py``) for every front end that
takes them: ``gilbench run``, ``gilbench try`` (a subset, ``only=``) and ``pytest bench/`` (with
the prefix ``--gb-``), and the option types they share with the other commands.

``add_run_options`` declares each option (its flag, help and parser; the defaults live in
``run.config``), the executors' own among them (``Executor.option``: the ``dask`` executor's
scheduler address lives with that executor); ``run_config`` turns the values back into a
``RunConfig``. Bad input raises ``UsageError`` (``UnknownNameError`` for names), whose message
says what is accepted; argparse ``type=`` functions raise ``argparse.ArgumentTypeError``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Sequence

from gilbench import executors, kernels
from gilbench.errors import UnknownNameError, UsageError
from gilbench.executors.base import EngineOption
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


def _seconds(text: str, zero: bool) -> float:
    """``text`` as a finite number of seconds above 0 (or 0 itself if ``zero``), else
    argparse.ArgumentTypeError with examples."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value > 0 or zero and value == 0)):
        accepted = ("a number of seconds, 0 or more, such as 0 or 60" if zero
                    else "a positive number of seconds such as 0.5 or 30")
        raise argparse.ArgumentTypeError(f"expected {accepted}, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """argparse ``type=`` for durations: a finite number of seconds above 0."""
    return _seconds(text, zero=False)


def seconds_or_zero(text: str) -> float:
    """argparse ``type=`` for waiting budgets: a finite number of seconds, 0 or more."""
    return _seconds(text, zero=True)


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


def declarations(prefix: str = "") -> list[tuple[str, str | None, dict[str, Any]]]:
    """Every run option, once: ``(name, field, argparse keywords)``. ``field`` is the
    ``RunConfig`` field the option sets, which ``--resume`` requires to match the file's (None:
    a limit that may differ, ``--timeout`` and ``--max-wait``); the defaults live in
    ``run.config``. ``prefix`` (``gb-`` under pytest) only changes the help texts."""
    quick = f"--{prefix}quick"
    return [
        ("kernels", "kernels", dict(
            metavar="K,..", help=f"kernels to run (default: all): {', '.join(kernels.names())}")),
        ("variants", "variants", dict(
            metavar="V,..", help=f"variants to run (default: all each kernel has): "
                                 f"{', '.join(kernels.VARIANT_ORDER)}")),
        ("executors", "executors", dict(
            metavar="E,..",
            help=f"executors (default: {','.join(executors.DEFAULT)}; {all_executors(prefix)}): "
                 f"{', '.join(executors.names())}")),
        ("workers", "workers", dict(
            metavar="1,2,4",
            help=f"worker counts (default: 1, 2, 4, ... up to the physical cores, the hardware "
                 "threads and one oversubscribed point, fewer on a big host so the run "
                 f"stays within 6 minutes; {quick}: 1 and the physical cores)")),
        ("repeats", "repeats", dict(
            type=positive_int, metavar="N",
            help=f"paired rounds every cell gets after a cold run, at least "
                 f"{DEFAULT_REPEATS} (default {DEFAULT_REPEATS})")),
        ("max-repeats", "max_repeats", dict(
            type=positive_int, metavar="N",
            help=f"cap on the rounds of a cell whose verdict is still undecided (default "
                 f"{DEFAULT_MAX_REPEATS}, {quick} {QUICK_MAX_REPEATS}); at the cap it is "
                 "reported undecided")),
        ("max-time", "max_time_s", dict(
            type=positive_seconds, metavar="S",
            help=f"seconds of rounds per kernel variant before undecided cells stop "
                 f"(default {DEFAULT_MAX_TIME_S:g}, {quick} {QUICK_MAX_TIME_S:g}); what a "
                 f"variant leaves unused goes to the next ones, up to {MAX_TIME_CARRY:g}x "
                 "more each")),
        ("max-wait", None, dict(
            type=seconds_or_zero, metavar="S",
            help=f"seconds the run may wait in all for a busy host to settle: a round that "
                 f"other processes disturbed is kept but never counted, and the run waits "
                 f"for a quiet moment (default ${MAX_WAIT_ENV}, else {DEFAULT_MAX_WAIT_S:g}, "
                 f"{quick} {QUICK_MAX_WAIT_S:g}; 0: never wait); cells left short of quiet "
                 "rounds are 'undecided — host busy'")),
        ("target-time", "target_time_s", dict(
            type=positive_seconds, metavar="S",
            help=f"seconds a serial run should last after calibration "
                 f"(default {DEFAULT_TARGET_S}, {quick} {QUICK_TARGET_S})")),
        ("quick", "quick", dict(
            action="store_true",
            help="small sizes and worker counts 1 and the usable cores: about a minute")),
        ("weak", "scaling", dict(
            action="store_true",
            help="weak scaling: fixed work per worker (default: strong, fixed total)")),
        ("start-method", "start_method", dict(
            choices=["fork", "spawn", "forkserver"],
            help="how process executors start workers (default: the platform's)")),
        ("timeout", None, dict(
            type=positive_seconds, metavar="S",
            help=f"time limit of one run of one cell: a cell over it is stopped and recorded "
                 f"as timed out (default: {MIN_TIMEOUT_S:g} s or {TIMEOUT_TARGETS}x the target "
                 "time, whichever is longer)")),
        ("size", "sizes", dict(
            action="append", metavar="K=N",
            help="advanced: measure kernel K at size N instead of calibrating it "
                 "(repeatable, or K=N,K2=N2)")),
        ("pin", "pin", dict(
            metavar="MODE",
            help="where the workers run: 'none' (default: the OS places them) or 'physical' "
                 "(one CPU per physical core, the first hardware thread of each, as CPython's "
                 "Tools/ftscalingbench does; worker i is pinned to the i-th of them, so no "
                 "two workers share a core until every core has one). Linux only; the CPUs "
                 "used are recorded in each cell")),
        ("core-type", "core_type", dict(
            metavar="TYPE",
            help="keep the workers on the cores of one type of a hybrid host, e.g. "
                 "'performance' or 'efficiency' (`gilbench info` lists this host's); the "
                 "verdicts are then judged against those cores only")),
        # each executor's own (the dask executor's scheduler address), a RunConfig field each
        *((option.flag, option.dest, dict(metavar=option.metavar, help=option.help))
          for option in engine_options()),
    ]


def add_run_options(addoption: Callable[..., Any], prefix: str = "",
                    only: Sequence[str] | None = None,
                    helps: dict[str, str] | None = None) -> list[str]:
    """Declare the run options (``declarations``) with ``addoption`` (argparse's
    ``add_argument`` or pytest's ``parser.addoption``), each named ``--PREFIX<name>``: all of
    them, or those in ``only`` (``gilbench try``'s subset), with the help texts of ``helps``
    instead where a command's defaults differ.

    Returns their names (``run_config`` reads them back); the values are left as given (text),
    so that every error is a one-line UsageError from ``run_config`` (or ``try``'s
    ``parse_executors`` and ``config.check_options``).
    """
    added = []
    for name, _, kwargs in declarations(prefix):
        dest = name.replace("-", "_")
        if only is None or dest in only:
            addoption(f"--{prefix}{name}", **{**kwargs, "help": (helps or {}).get(
                dest, kwargs["help"])})
            added.append(dest)
    return added


def engine_options() -> list[EngineOption]:
    """The run options the executors add (``Executor.option``), in executor order."""
    return [cls.option for cls in executors.with_options() if cls.option is not None]


def all_executors(prefix: str = "") -> str:
    """What ``--executors all`` means, in the help of every command that takes it."""
    needs = ", ".join(f"{cls.name} only with --{prefix}{cls.option.flag}"
                      for cls in executors.with_options() if cls.option is not None)
    return f"'all': every one, {needs}"


def given_engine_options(get: Callable[[str], Any]) -> dict[str, str | None]:
    """The executors' own options in effect (``dest`` -> value; None: neither the option nor
    its environment variable given), ``get(dest)`` giving the option as parsed."""
    return {option.dest: option.value(get(option.dest)) for option in engine_options()}


def parse_executors(text: str | None, engine: dict[str, str | None]) -> list[str] | None:
    """``--executors``: names (checked), or ``all``: every executor that can run without being
    told where, so one that needs an option of its own (``dask``, an existing cluster) only if
    ``engine`` (``given_engine_options``) has it."""
    if text is not None and text.strip() == "all":
        return [e for e in executors.names()
                if executors.get(e).option is None or engine.get(executors.get(e).option.dest)]
    return parse_names(text, executors.names(), "executor")


def parse_workers(text: str | None) -> list[int] | None:
    """``--workers``: the worker counts (None: not given)."""
    return None if text is None else parse_positive_ints(text, "--workers", MAX_WORKERS)


def run_config(get: Callable[[str], Any]):
    """The RunConfig of the run options, ``get(name)`` giving each one's value as parsed by
    ``add_run_options`` (None or False: not given). UsageError for anything invalid."""

    engine = given_engine_options(get)
    return RunConfig.from_options(
        kernels=parse_names(get("kernels"), kernels.names(), "kernel"),
        variants=parse_names(get("variants"), kernels.VARIANT_ORDER, "variant"),
        executors=parse_executors(get("executors"), engine),
        workers=parse_workers(get("workers")),
        repeats=get("repeats"), target_time_s=get("target_time"), quick=bool(get("quick")),
        weak=bool(get("weak")), start_method=get("start_method"),
        sizes=parse_sizes(get("size"), kernels.names(), lambda name: kernels.get(name).min_size),
        timeout_s=get("timeout"), max_repeats=get("max_repeats"), max_time_s=get("max_time"),
        max_wait_s=get("max_wait"), pin=get("pin"), core_type=get("core_type"), **engine)


def given_run_options(get: Callable[[str], Any]) -> list[str]:
    """The run options that were given (not left at None/False), as ``RUN_OPTIONS`` names."""
    return [name for name in RUN_OPTIONS if get(name) not in (None, False)]


#: the names ``add_run_options`` declares (as argparse ``dest``s, without the prefix)
RUN_OPTIONS = tuple(name.replace("-", "_") for name, _, _ in declarations())
#: option -> the RunConfig field it sets; with --resume an option given may only repeat the
#: file's value (--timeout and --max-wait may differ: limits, not part of what is measured)
RESUME_CHECKED = {name.replace("-", "_"): field for name, field, _ in declarations() if field}
