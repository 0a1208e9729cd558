"""What ``gilbench run`` measures: the one home of the run configuration.

``RunConfig`` has its defaults here, is built from option values (``from_options``, the values
already split into lists by the front end: ``gilbench run`` or ``pytest bench/``), read back from
a results file (``from_dict``), and checked for ``--resume`` (``resume_config``). Every
problem is a ``UsageError`` whose message says what is accepted.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

# aliased: RunConfig's fields and from_options' parameters are named kernels and executors
from gilbench import executors as _executors
from gilbench import host
from gilbench import kernels as _kernels
from gilbench.errors import UsageError
from gilbench.measure import CHUNKS_PER_WORKER, Budget
from gilbench.placement import PIN_MODES, Placement, choose
from gilbench.run import estimate
from gilbench.verdicts import Ceiling

#: serial seconds per run: the default matrix (230 cells), undecided cells' extra rounds
#: included, must finish in under 6 min on 2 cores (0.2 s left them too little room when noisy)
DEFAULT_TARGET_S = 0.15
QUICK_TARGET_S = 0.04
#: the minimum of paired rounds per cell: with fewer, no interval reaches 95% coverage
DEFAULT_REPEATS = MIN_REPEATS = 5
#: sequential measurement: undecided cells get more rounds until one of these caps runs out:
#: the rounds cap, and the seconds per kernel variant spent on rounds after the minimum
DEFAULT_MAX_REPEATS = QUICK_MAX_REPEATS = 30
DEFAULT_MAX_TIME_S, QUICK_MAX_TIME_S = 5.0, 2.5
#: seconds a run may wait in all for a busy host to settle (rounds that other processes
#: disturbed never count): about the length of the run itself on a quiet 2-core host (quick
#: 65-68 s, default ~5 min, AMD EPYC), so a busy host at most
#: doubles it before its cells say "host busy"
DEFAULT_MAX_WAIT_S, QUICK_MAX_WAIT_S = 300.0, 75.0
#: what a kernel variant leaves of its time budget carries over to the next ones, so a noisy
#: variant may spend up to this many times its own budget more (the run's total stays within
#: the sum of the budgets)
MAX_TIME_CARRY = 2.0
#: the per-run time limit is max(MIN_TIMEOUT_S, TIMEOUT_TARGETS x target time) unless given:
#: generous, because a slow executor (pool start-up, 2x oversubscription) is a result, not a fault
MIN_TIMEOUT_S = 60.0
TIMEOUT_TARGETS = 20
#: the most workers one cell may ask for (a typo such as 1000 would fork a thousand processes)
MAX_WORKERS = 256


#: the environment variable that sets the default of --max-wait (a CI job's setting)
MAX_WAIT_ENV = "GILBENCH_MAX_WAIT"


def env_max_wait() -> float | None:
    """``$GILBENCH_MAX_WAIT`` in seconds (None: unset); UsageError if it is not a number."""
    text = os.environ.get(MAX_WAIT_ENV, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"${MAX_WAIT_ENV} must be a number of seconds, 0 or more, got "
                         f"{text!r}")
    return value


def default_timeout(target_time_s: float) -> float:
    """The default per-run time limit for a serial target time."""
    return max(MIN_TIMEOUT_S, TIMEOUT_TARGETS * target_time_s)


def default_workers(ceiling: Ceiling | float, quick: bool = False) -> list[int]:
    """1, 2, 4, ... up to the physical cores, the hardware threads and one oversubscribed
    point (``estimate.ladder``; 1, 2, 4 on a 2-core host); quick: 1 and the cores (at least 2)."""
    if quick:
        return sorted({1, max(2, math.ceil(Ceiling.of(ceiling).cores - 1e-9))})
    return estimate.ladder(ceiling)


def fitted_workers(kernel_names: Sequence[str], variants: Sequence[str] | None,
                   executor_names: Sequence[str], ceiling: Ceiling | float, quick: bool,
                   target_s: float) -> list[int]:
    """The default worker counts for this matrix, with ladder points dropped until the
    estimated run fits ``estimate.LIMIT_S`` (see ``estimate.fit_counts``)."""
    counts = default_workers(ceiling, quick)
    max_time = QUICK_MAX_TIME_S if quick else DEFAULT_MAX_TIME_S
    return estimate.fit_counts(counts, ceiling, lambda ws: estimate.estimate_s(
        kernel_names, variants, executor_names, ws, ceiling, target_s, DEFAULT_REPEATS,
        max_time))


@dataclass
class RunConfig:
    """What ``gilbench run`` was asked to measure."""

    kernels: list[str]
    variants: list[str] | None  # None: every variant each kernel has
    executors: list[str]
    workers: list[int]
    repeats: int = DEFAULT_REPEATS
    target_time_s: float = DEFAULT_TARGET_S
    quick: bool = False
    scaling: str = "strong"
    start_method: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # fixed sizes per kernel (skip calibration)
    timeout_s: float | None = None  # per run; None: default_timeout(target_time_s)
    max_repeats: int | None = None  # None: the quick or default cap
    max_time_s: float | None = None
    gil_check: bool = True  # measure each variant's GIL release directly (not for workloads)
    #: the address of an existing Dask scheduler (the ``dask`` executor); None: none given
    dask_scheduler: str | None = None
    max_wait_s: float | None = None  # None: the quick or default waiting budget
    pin: str = "none"  # "physical": one worker per physical core, pinned (gilbench.placement)
    core_type: str | None = None  # keep the workers on the cores of this type (None: any)
    _placement: Placement | None = field(default=None, repr=False, compare=False)

    @property
    def placement(self) -> Placement:
        """Where the workers run on this host (``placement.choose``, made once); UsageError if
        it cannot be honoured, by the host or by one of the executors."""
        if self._placement is None:
            self._placement = placed(self.pin, self.core_type, self.executors)
        return self._placement

    @property
    def ceiling(self) -> Ceiling:
        """The ceiling the verdicts use: the host's, narrowed to the CPUs the placement lets
        the workers use."""
        return placed_ceiling(self.placement)

    @property
    def wait_budget_s(self) -> float:
        """Seconds the run may wait in all for a busy host to settle (``--max-wait``, else
        ``$GILBENCH_MAX_WAIT``, else the quick or default budget)."""
        if self.max_wait_s is not None:
            return self.max_wait_s
        return env_max_wait() if env_max_wait() is not None else (
            QUICK_MAX_WAIT_S if self.quick else DEFAULT_MAX_WAIT_S)

    @property
    def budget(self) -> Budget:
        """When the paired rounds of a kernel variant stop (see ``measure.Budget``)."""
        cap = self.max_repeats or (QUICK_MAX_REPEATS if self.quick else DEFAULT_MAX_REPEATS)
        seconds = self.max_time_s or (QUICK_MAX_TIME_S if self.quick else DEFAULT_MAX_TIME_S)
        return Budget(self.repeats, max(cap, self.repeats), seconds)

    @property
    def run_timeout_s(self) -> float:
        """The per-run time limit in effect."""
        return self.timeout_s if self.timeout_s is not None else default_timeout(self.target_time_s)

    @classmethod
    def from_options(cls, kernels: Sequence[str] | None = None,
                     variants: Sequence[str] | None = None,
                     executors: Sequence[str] | None = None, workers: Sequence[int] | None = None,
                     repeats: int | None = None, target_time_s: float | None = None,
                     quick: bool = False, weak: bool = False, start_method: str | None = None,
                     sizes: dict[str, int] | None = None,
                     timeout_s: float | None = None, max_repeats: int | None = None,
                     max_time_s: float | None = None,
                     dask_scheduler: str | None = None,
                     max_wait_s: float | None = None, pin: str | None = None,
                     core_type: str | None = None) -> "RunConfig":
        """The configuration for these option values (None: the default), every value and
        their combination checked: UsageError says what is wrong and what is accepted."""
        kernel_names = list(kernels or _kernels.names())
        executor_names = list(executors or _executors.DEFAULT)
        repeats, method = check_options(
            executors=executor_names, workers=workers, repeats=repeats, max_repeats=max_repeats,
            start_method=start_method, timeout_s=timeout_s, dask_scheduler=dask_scheduler,
            target_time_s=target_time_s, max_time_s=max_time_s, max_wait_s=max_wait_s)
        target = target_time_s if target_time_s is not None else (
            QUICK_TARGET_S if quick else DEFAULT_TARGET_S)
        placement = placed(pin or "none", core_type, executor_names)
        workers = (list(workers) if workers else fitted_workers(
            kernel_names, variants, executor_names, placed_ceiling(placement), quick, target))
        if variants is not None:
            offered = {v.name for k in kernel_names for v in _kernels.get(k).variants}
            if not offered & set(variants):
                raise UsageError(f"none of the kernels {', '.join(kernel_names)} has a variant "
                                 f"{' or '.join(variants)}; they have: "
                                 f"{', '.join(sorted(offered))}")
        sizes = dict(sizes or {})
        idle = sorted(set(sizes) - set(kernel_names))
        if idle:
            raise UsageError(f"--size {idle[0]}=...: {idle[0]} is not among the kernels being "
                             f"run ({', '.join(kernel_names)})")
        return cls(kernels=kernel_names, variants=None if variants is None else list(variants),
                   executors=executor_names, workers=workers, repeats=repeats,
                   target_time_s=target, quick=quick, scaling="weak" if weak else "strong",
                   start_method=method, sizes=sizes, timeout_s=timeout_s,
                   max_repeats=max_repeats, max_time_s=max_time_s,
                   dask_scheduler=dask_scheduler.strip() if dask_scheduler else None,
                   max_wait_s=max_wait_s, pin=placement.pin, core_type=core_type,
                   _placement=placement)

    @classmethod
    def from_dict(cls, data: Any) -> "RunConfig":
        """The RunConfig a results file records (``as_dict``); ValueError names the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"'config' must be an object, got {type(data).__name__}")

        def field_(key: str, check: Callable[[Any], bool], expected: str, default: Any = ...):
            if key not in data:
                if default is ...:
                    raise ValueError(f"config.{key} is missing")
                return default
            value = data[key]
            if not check(value):
                raise ValueError(f"config.{key}: expected {expected}, got {value!r:.80}")
            return value

        def names(value: Any, valid: list[str]) -> bool:
            return (isinstance(value, list) and bool(value)
                    and all(isinstance(v, str) and v in valid for v in value))

        def positive_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        def positive_number(v: Any) -> bool:
            return (isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and v > 0)

        known_kernels = _kernels.names()
        return cls(
            kernels=field_("kernels", lambda v: names(v, known_kernels),
                           f"a list of kernel names ({', '.join(known_kernels)})"),
            variants=field_("variants", lambda v: v is None or (
                isinstance(v, list) and all(isinstance(x, str) for x in v)),
                "null or a list of variant names", None),
            executors=field_("executors", lambda v: names(v, _executors.names()),
                             f"a list of executor names ({', '.join(_executors.names())})"),
            workers=sorted(set(field_(
                "workers", lambda v: isinstance(v, list) and bool(v) and all(
                    positive_int(w) and w <= MAX_WORKERS for w in v),
                f"a list of worker counts from 1 to {MAX_WORKERS}"))),
            repeats=field_("repeats", positive_int, "a positive integer"),
            target_time_s=float(field_("target_time_s", positive_number, "a positive number")),
            quick=field_("quick", lambda v: isinstance(v, bool), "true or false", False),
            scaling=field_("scaling", lambda v: v in ("strong", "weak"), '"strong" or "weak"',
                           "strong"),
            start_method=field_("start_method", lambda v: v is None or (
                isinstance(v, str) and v in multiprocessing.get_all_start_methods()),
                f"null or one of {', '.join(multiprocessing.get_all_start_methods())}", None),
            sizes=dict(field_("sizes", lambda v: isinstance(v, dict) and all(
                k in known_kernels and positive_int(n) for k, n in v.items()),
                "an object of kernel name -> positive integer size", {})),
            timeout_s=field_("timeout_s", lambda v: v is None or positive_number(v),
                             "null or a positive number of seconds", None),
            max_repeats=field_("max_repeats", lambda v: v is None or positive_int(v),
                               "null or a positive integer", None),
            max_time_s=field_("max_time_s", lambda v: v is None or positive_number(v),
                              "null or a positive number of seconds", None),
            gil_check=field_("gil_check", lambda v: isinstance(v, bool), "true or false", True),
            dask_scheduler=field_("dask_scheduler", lambda v: v is None or (
                isinstance(v, str) and bool(v.strip())),
                "null or a Dask scheduler address such as tcp://127.0.0.1:8786", None),
            max_wait_s=field_("max_wait_s", lambda v: v is None or (
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and v >= 0), "null or a number of seconds, 0 or more", None),
            pin=field_("pin", lambda v: v in PIN_MODES, f"one of {', '.join(PIN_MODES)}", "none"),
            core_type=field_("core_type", lambda v: v is None or (isinstance(v, str) and bool(v)),
                             "null or a core type such as performance", None),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kernels": self.kernels,
            "variants": self.variants,
            "executors": self.executors,
            "workers": self.workers,
            "repeats": self.repeats,
            "target_time_s": self.target_time_s,
            "quick": self.quick,
            "scaling": self.scaling,
            "start_method": self.start_method,
            "chunks_per_worker": CHUNKS_PER_WORKER,
            "sizes": self.sizes,
            "timeout_s": self.timeout_s,
            "max_repeats": self.budget.max_rounds,
            "max_time_s": self.budget.time_s,
            "gil_check": self.gil_check,
            "dask_scheduler": self.dask_scheduler,
            "max_wait_s": self.wait_budget_s,
            "pin": self.pin,
            "core_type": self.core_type,
        }

    @property
    def engine_options(self) -> dict[str, str | None]:
        """The executors' own options (``Executor.option``) by ``dest``: each is a field of
        this record (so the results file keeps its schema), read here by that name."""
        return {cls.option.dest: getattr(self, cls.option.dest)
                for cls in _executors.with_options()}

    def prepare_engines(self) -> list[dict[str, Any]]:
        """Make the engines this run asks for ready, before anything is measured: each
        executor's own option that is set (``Executor.prepare_option``: with a Dask scheduler,
        the ``dask`` executor is pointed at it and the scheduler must answer). Returns their
        workers (empty without any); UsageError (one line, within seconds) if one cannot be."""
        _check_engine_options(self.executors, self.engine_options)
        workers: list[dict[str, Any]] = []
        for cls in _executors.with_options():
            value = self.engine_options.get(cls.option.dest)
            if value is not None:
                workers += cls.prepare_option(value)
        return workers


def check_options(*, executors: Sequence[str], workers: Sequence[int] | None = None,
                  repeats: int | None = None, max_repeats: int | None = None,
                  start_method: str | None = None, timeout_s: float | None = None,
                  target_time_s: float | None = None, max_time_s: float | None = None,
                  max_wait_s: float | None = None, **engine: str | None) -> tuple[int, str]:
    """Check the run options every front end shares (``gilbench run``, ``gilbench try``,
    ``pytest bench/`` and the Python API ``gilbench.workload``, which bypasses the command
    line): the values as parsed (None: the default), ``engine`` the executors' own options
    (``Executor.option``, by ``dest``). Returns the repeats and the start method in effect;
    UsageError says what is wrong and what is accepted."""
    for name in executors:
        _executors.get(name)  # UnknownNameError lists the valid names
    for count in workers or ():
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_WORKERS:
            raise UsageError(f"--workers takes positive integers up to {MAX_WORKERS}, got "
                             f"{list(workers)!r}")
    repeats = DEFAULT_REPEATS if repeats is None else repeats
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < MIN_REPEATS:
        raise UsageError(f"--repeats is the minimum number of paired rounds per cell: at "
                         f"least {MIN_REPEATS} (with fewer no 95% interval is possible), "
                         f"got {repeats!r}")
    if max_repeats is not None and (isinstance(max_repeats, bool)
                                    or not isinstance(max_repeats, int)):
        raise UsageError(f"--max-repeats takes a positive integer, got {max_repeats!r}")
    if max_repeats is not None and max_repeats < repeats:
        raise UsageError(f"--max-repeats ({max_repeats}) must be at least --repeats "
                         f"({repeats})")
    for option, value in (("--target-time", target_time_s), ("--timeout", timeout_s),
                          ("--max-time", max_time_s)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise UsageError(f"{option} must be a positive number of seconds, got {value}")
    if max_wait_s is not None and not (max_wait_s >= 0 and math.isfinite(max_wait_s)):
        raise UsageError(f"--max-wait must be a number of seconds, 0 or more, got "
                         f"{max_wait_s}")
    try:
        method = resolve_start_method(start_method)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_engine_options(executors, engine)
    return repeats, method


def _check_engine_options(executor_names: Sequence[str], engine: dict[str, str | None]) -> None:
    """Each executor checks its own option (``Executor.check_option``; ``engine``: the values
    by ``dest``, None or missing: not given)."""
    for cls in _executors.with_options():
        cls.check_option(executor_names, engine.get(cls.option.dest))


def placed(pin: str, core_type: str | None, executor_names: Sequence[str]) -> Placement:
    """The placement ``--pin``/``--core-type`` ask for on this host; UsageError if the host
    cannot give it or an executor cannot pin its workers (never a silently unpinned cell)."""
    placement = choose(host.topology(), pin, core_type)
    if placement.active:
        by_reason: dict[str, list[str]] = {}
        for name in executor_names:
            why = _executors.get(name).placement_reason()
            if why:
                by_reason.setdefault(why, []).append(name)
        if by_reason:
            asked = " ".join(f"--{o} {v}" for o, v in (("pin", pin), ("core-type", core_type))
                             if v not in (None, "none"))
            which = "; ".join(f"{', '.join(names)}: {why}" for why, names in by_reason.items())
            stuck = {n for names in by_reason.values() for n in names}
            able = [n for n in executor_names if n not in stuck]
            raise UsageError(f"{asked}: these executors cannot pin their workers ({which}); "
                             + (f"use --executors {','.join(able)}" if able else
                                "leave them out of --executors")
                             + ", or run without --pin/--core-type")
    return placement


def placed_ceiling(placement: Placement) -> Ceiling:
    """This host's ceiling for workers placed so (``host.ceiling()`` itself without a
    placement, so the default run judges exactly as before)."""
    return placement.ceiling(host.topology()) if placement.active else host.ceiling()


def resolve_start_method(requested: str | None) -> str:
    """The start method process executors will use (the platform's default if none asked)."""
    method = requested or multiprocessing.get_start_method(allow_none=False)
    if method not in multiprocessing.get_all_start_methods():
        raise ValueError(
            f"start method {method!r} is not available here; choose from "
            f"{', '.join(multiprocessing.get_all_start_methods())}"
        )
    return method



def resume_problems(doc: dict, here: dict[str, Any]) -> list[str]:
    """Why the run recorded in ``doc`` should not be resumed on host ``here`` (empty: fine).

    Cells of one file are compared with each other, so they must come from the same machine
    and interpreter.
    """
    recorded = doc.get("host", {})
    problems = []
    for key, what in (("hostname", "host"), ("cpu_model", "CPU"),
                      ("usable_cores", "usable cores"), ("python_implementation", "Python"),
                      ("python_version", "Python version"), ("build", "Python build"),
                      ("gil_enabled", "GIL enabled")):
        if key in recorded and recorded[key] != here.get(key):
            problems.append(f"{what}: {recorded[key]!r} in the file, {here.get(key)!r} here")
    return problems



def resume_config(doc: dict, path: str, asked: RunConfig | None, given: dict[str, str],
                  timeout_s: float | None = None, max_wait_s: float | None = None) -> RunConfig:
    """The RunConfig to resume ``doc`` (read from ``path``) with: the one it records.

    ``given`` maps the options given along with --resume to the field each sets
    (``run.options.RESUME_CHECKED``) and ``asked`` is the configuration they make; UsageError
    if they ask for something else than the file, or if the host is not the one the file was
    measured on.
    """
    try:
        recorded = RunConfig.from_dict(doc["config"])
    except ValueError as exc:
        raise UsageError(f"cannot resume {path}: {exc}") from None
    conflicts = []
    for name, field_ in given.items():
        mine, theirs = getattr(asked, field_), getattr(recorded, field_)
        if field_ in ("kernels", "executors", "variants") and mine is not None \
                and theirs is not None:
            same = set(mine) == set(theirs)
        elif field_ == "target_time_s":
            same = math.isclose(mine, theirs, rel_tol=1e-9)
        else:
            same = mine == theirs
        if not same:
            shown = theirs if not isinstance(theirs, list) else ",".join(map(str, theirs))
            conflicts.append(f"--{name.replace('_', '-')} ({path} has {shown})")
    if conflicts:
        raise UsageError(f"--resume takes the configuration from {path}, and these options ask "
                         f"for something else: {'; '.join(conflicts)}. Drop them, or start a new "
                         "run with another --out")
    problems = resume_problems(doc, host.host_info())
    if problems:
        raise UsageError(f"{path} was measured on another host or interpreter "
                         f"({'; '.join(problems)}); its cells and new ones would not be "
                         "comparable: start a new run instead")
    if timeout_s is not None:
        recorded.timeout_s = timeout_s
    if max_wait_s is not None:
        recorded.max_wait_s = max_wait_s
    return recorded
