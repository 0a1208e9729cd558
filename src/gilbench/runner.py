"""``gilbench run``: the whole matrix, kernel by kernel, written to the results file as it goes.

Nothing measured is lost: the cells of a (kernel, variant) group are added to the results file
(rewritten atomically) as soon as the group is done; ``stop_on_signals`` turns Ctrl-C and
SIGTERM into ``Interrupted``, which stops the group's workers on its way out; a results file
of an interrupted run is resumed with ``missing`` cells only, with the configuration it records.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from gilbench import executors, host, kernels, results, verdicts
from gilbench.executors.base import RunTimeout
from gilbench.measure import (CHUNKS_PER_WORKER, Budget, CellSpec, Raw, calibrate, measure_group,
                              summarize)

DEFAULT_TARGET_S = 0.2  # the full default matrix (230 cells) must finish in < 5 min on 2 cores
QUICK_TARGET_S = 0.04
DEFAULT_REPEATS = 5  # the minimum of paired rounds: fewer cannot give a 95% interval
MIN_REPEATS = 5
#: the rounds cap and the time cap (seconds per kernel variant) of sequential measurement:
#: undecided cells get rounds until one of them runs out
DEFAULT_MAX_REPEATS, QUICK_MAX_REPEATS = 30, 15
DEFAULT_MAX_TIME_S, QUICK_MAX_TIME_S = 6.0, 2.5
#: the per-run time limit is max(MIN_TIMEOUT_S, TIMEOUT_TARGETS x target time) unless given:
#: generous, because a slow executor (pool start-up, 2x oversubscription) is a result, not a fault
MIN_TIMEOUT_S = 60.0
TIMEOUT_TARGETS = 20
#: the most workers one cell may ask for (a typo such as 1000 would fork a thousand processes)
MAX_WORKERS = 256


def default_timeout(target_time_s: float) -> float:
    """The default per-run time limit for a serial target time."""
    return max(MIN_TIMEOUT_S, TIMEOUT_TARGETS * target_time_s)


def default_workers(usable: int, quick: bool = False) -> list[int]:
    """1, 2, 4, ... up to twice the usable cores (always including the usable count itself)."""
    if quick:
        return sorted({1, max(2, usable)})
    counts = {1, usable, 2 * usable}
    w = 2
    while w <= 2 * usable:
        counts.add(w)
        w *= 2
    return sorted(counts)


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
    max_repeats: int | None = None  # None: the default cap for quick or default runs
    max_time_s: float | None = None

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

        known_kernels = kernels.names()
        return cls(
            kernels=field_("kernels", lambda v: names(v, known_kernels),
                           f"a list of kernel names ({', '.join(known_kernels)})"),
            variants=field_("variants", lambda v: v is None or (
                isinstance(v, list) and all(isinstance(x, str) for x in v)),
                "null or a list of variant names", None),
            executors=field_("executors", lambda v: names(v, executors.names()),
                             f"a list of executor names ({', '.join(executors.names())})"),
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
        }


def resolve_start_method(requested: str | None) -> str:
    """The start method process executors will use (the platform's default if none asked)."""
    method = requested or multiprocessing.get_start_method(allow_none=False)
    if method not in multiprocessing.get_all_start_methods():
        raise ValueError(
            f"start method {method!r} is not available here; choose from "
            f"{', '.join(multiprocessing.get_all_start_methods())}"
        )
    return method


def plan(config: RunConfig) -> list[tuple[kernels.Kernel, kernels.Variant, list[CellSpec]]]:
    """Per (kernel, variant): the cells to measure (sizes are filled in after calibration)."""
    groups = []
    for name in config.kernels:
        kernel = kernels.get(name)
        for variant in kernel.variants:
            if config.variants is not None and variant.name not in config.variants:
                continue
            specs = []
            for executor in ["serial"] + [e for e in config.executors if e != "serial"]:
                counts = [1] if executor == "serial" else config.workers
                for w in counts:
                    specs.append(CellSpec(kernel.name, variant.name, executor, w, 0, 0,
                                          config.start_method if executors.get(executor).uses_processes else None,
                                          config.scaling))
            groups.append((kernel, variant, specs))
    return groups


def error_cell(spec: CellSpec, kernel: kernels.Kernel, error: str,
               timed_out: bool = False) -> dict[str, Any]:
    """A cell that could not be measured, with the reason."""
    raw = Raw(error=error, timed_out=timed_out)
    return summarize(spec, raw, None, kernel)


def sized(spec: CellSpec, base_size: int, config: RunConfig) -> CellSpec:
    if config.scaling == "weak":
        size, n_chunks = base_size * spec.workers, CHUNKS_PER_WORKER * spec.workers
    else:
        size, n_chunks = base_size, CHUNKS_PER_WORKER * max(config.workers)
    return CellSpec(spec.kernel, spec.variant, spec.executor, spec.workers, size, n_chunks,
                    spec.start_method, spec.scaling)


class Events:
    """Callbacks the command line uses for progress; all optional."""

    def __init__(self) -> None:
        self.on_group_start: Callable[[str, str, int], None] = lambda kernel, variant, runs: None
        self.on_calibrated: Callable[[str, str, int, float], None] = lambda k, v, size, s: None
        self.on_run: Callable[[CellSpec, Raw], None] = lambda spec, raw: None
        self.on_cell: Callable[[dict], None] = lambda cell: None
        self.on_group_done: Callable[[str, str], None] = lambda kernel, variant: None


def _add_cells(writer: results.ResultsWriter, cells: list[dict], events: Events) -> None:
    # One file write for the whole group: an interrupt leaves all of it or none of it on disk
    # (list.extend is one step for a signal handler, and results.write is atomic).
    if not cells:
        return
    writer.doc["cells"].extend(cells)
    results.write(writer.doc, writer.path)
    for cell in cells:
        events.on_cell(cell)


def cell_key(cell: dict) -> tuple:
    """(kernel, variant, executor, workers) of a results cell: what identifies it in a run."""
    return (cell.get("kernel"), cell.get("variant"), cell.get("executor"), cell.get("workers"))


def recorded_sizes(cells: list[dict], scaling: str) -> dict[tuple[str, str], int]:
    """(kernel, variant) -> the base size its recorded cells were measured at (resume: the rest
    of a group is measured at the same size, not recalibrated)."""
    sizes: dict[tuple[str, str], int] = {}
    for cell in cells:
        size, workers = cell.get("size"), cell.get("workers")
        if isinstance(size, int) and isinstance(workers, int) and workers >= 1:
            base = size // workers if scaling == "weak" else size
            sizes.setdefault((cell.get("kernel"), cell.get("variant")), base)
    return sizes


def runs_to_do(config: RunConfig, skip: set[tuple]) -> int:
    """How many runs (cold + repeats) ``run_matrix`` will report through ``on_run``."""
    total = 0
    for _, _, specs in plan(config):
        todo = [s for s in specs if s.key not in skip]
        if todo and not any(s.executor == "serial" for s in todo):
            todo.append(specs[0])  # the serial baseline is measured again with its group
        total += len(todo) * (1 + config.repeats)
    return total


def run_matrix(config: RunConfig, writer: results.ResultsWriter, events: Events | None = None,
               skip: set[tuple] | None = None) -> dict:
    """Measure every planned cell, adding a group's cells to ``writer`` when the group is done.

    ``skip`` holds keys (kernel, variant, executor, workers) already measured (resume; cells of
    a group already in ``writer.doc`` also fix the size of the rest of it). Returns the
    document. ``KeyboardInterrupt`` (``Interrupted``) propagates after the running group's
    workers were stopped; every group finished before it is in the file.
    """
    events = events or Events()
    skip = skip or set()
    known_sizes = recorded_sizes(writer.doc["cells"], config.scaling)
    for kernel, variant, specs in plan(config):
        todo = [s for s in specs if s.key not in skip]
        if not todo:
            continue
        events.on_group_start(kernel.name, variant.name, len(todo) * (1 + config.repeats))
        _run_group(config, writer, events, skip, kernel, variant, specs, todo,
                   known_sizes.get((kernel.name, variant.name)))
        events.on_group_done(kernel.name, variant.name)
    return writer.doc


def _run_group(config: RunConfig, writer: results.ResultsWriter, events: Events, skip: set[tuple],
               kernel: kernels.Kernel, variant: kernels.Variant, specs: list[CellSpec],
               todo: list[CellSpec], known_size: int | None) -> None:
    """Measure the cells ``todo`` of one (kernel, variant) and add them to the file."""
    if not variant.available:
        _add_cells(writer, [error_cell(spec, kernel, f"variant unavailable: {variant.reason}")
                            for spec in todo], events)
        return
    runnable, broken = [], []
    for spec in todo:
        reason = executors.get(spec.executor).unavailable_reason()
        (broken if reason else runnable).append((spec, reason))
    _add_cells(writer, [error_cell(spec, kernel, f"executor unavailable: {reason}")
                        for spec, reason in broken], events)
    if not runnable:
        return
    # the serial baseline is measured with every group, even when resuming
    needed = [s for s, _ in runnable]
    if not any(s.executor == "serial" for s in needed):
        needed.insert(0, next(s for s in specs if s.executor == "serial"))
    timeout_s = config.run_timeout_s
    with kernel.session():
        try:
            if kernel.name in config.sizes:
                base, seconds = config.sizes[kernel.name], float("nan")
            elif known_size is not None:  # resuming a group: keep the size it was measured at
                base, seconds = known_size, float("nan")
            else:
                base, seconds = calibrate(kernel, variant.name, config.target_time_s,
                                          CHUNKS_PER_WORKER * max(config.workers),
                                          timeout_s=timeout_s)
        except RunTimeout as exc:
            _add_cells(writer, [error_cell(s, kernel, f"calibration timed out: {exc}",
                                           timed_out=True) for s, _ in runnable], events)
            return
        except Exception as exc:
            _add_cells(writer, [
                error_cell(s, kernel, f"calibration failed: {type(exc).__name__}: {exc}")
                for s, _ in runnable], events)
            return
        events.on_calibrated(kernel.name, variant.name, base, seconds)
        sized_specs = [sized(s, base, config) for s in needed]
        serial_spec = next(s for s in sized_specs if s.executor == "serial")
        usable = host.usable_cores()

        def decided(spec: CellSpec, raws: dict) -> bool:
            serial = raws[serial_spec.key]
            cell = summarize(spec, raws[spec.key], serial, kernel, usable_cores=usable)
            return verdicts.is_decided(cell, usable)

        raws = measure_group(sized_specs, config.budget, on_run=events.on_run,
                             timeout_s=timeout_s, decided=decided)
    serial_raw = raws[serial_spec.key]
    _add_cells(writer, [summarize(spec, raws[spec.key], serial_raw, kernel, serial_raw.result,
                                  usable_cores=usable)
                        for spec in sized_specs if spec.key not in skip], events)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: SIGINT (Ctrl-C) or SIGTERM."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by this signal (130 for SIGINT)."""
        return 128 + self.signum

    @property
    def description(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == signal.SIGINT else self.signal_name


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread, once.

    Later signals are only recorded (in the yielded list): stopping the workers takes a moment
    and must not itself be interrupted half-way, or it would leave processes behind. Outside
    the main thread (no signal handlers there) it does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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


def start_document(config: RunConfig, argv: list[str]) -> dict:
    """A fresh results document for ``config``."""
    info = host.host_info()
    info["load_average_start"] = info.pop("load_average")
    info["start_method_default"] = multiprocessing.get_start_method(allow_none=False)
    info["pid"] = os.getpid()
    return results.new_document(config.as_dict(), info, argv)


def finish_document(writer: results.ResultsWriter, started: float) -> None:
    """Mark the document finished, with the load average at the end and the duration."""
    previous = writer.doc["host"].get("duration_s")
    duration = time.perf_counter() - started + (previous if isinstance(previous, (int, float))
                                                else 0.0)
    writer.finish(load_average_end=host.load_average(), duration_s=round(duration, 2))


def resumed_document(doc: dict) -> dict:
    """``doc`` (a validated results document) marked as resumed now; its cells are kept."""
    doc["finished"] = None
    resumed = doc["host"].get("resumed")
    doc["host"]["resumed"] = [*(resumed if isinstance(resumed, list) else []),
                              {"at": results.now_iso(), "pid": os.getpid(),
                               "load_average": host.load_average()}]
    return doc


def argv() -> list[str]:
    return ["gilbench", *sys.argv[1:]]
