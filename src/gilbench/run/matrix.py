"""``gilbench run``'s matrix, kernel by kernel, written to the results file as it goes.

Nothing measured is lost: the cells of a (kernel, variant) group are added to the results file
(rewritten atomically) as soon as the group is done; an interrupt (``run.signals``) stops the
group's workers on its way out; a results file of an interrupted run is resumed with its
missing cells only (``skip``), at the sizes its groups were measured at.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import replace
from typing import Any, Callable

from gilbench import executors, host, kernels, noise, results, verdicts
from gilbench.cell import Cell, CellKey
from gilbench.errors import one_line
from gilbench.executors.base import RunTimeout
from gilbench.kernels._declared import CALL_S, QUICK_CALL_S, check_declared
from gilbench.measure import CHUNKS_PER_WORKER, Budget, CellSpec, Raw, calibrate, measure_group
from gilbench.placement import pinned
from gilbench.summary import summarize, summarize_cell
from gilbench.run.config import MAX_TIME_CARRY, RunConfig


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
                                          config.scaling, config.placement))
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
    return replace(spec, size=size, n_chunks=n_chunks)


class Events:
    """Callbacks the command line uses for progress; all optional."""

    def __init__(self) -> None:
        self.on_group_start: Callable[[str, str, int], None] = lambda kernel, variant, runs: None
        self.on_calibrated: Callable[[str, str, int, float], None] = lambda k, v, size, s: None
        self.on_run: Callable[[CellSpec, Raw], None] = lambda spec, raw: None
        self.on_cell: Callable[[dict], None] = lambda cell: None
        self.on_group_done: Callable[[str, str], None] = lambda kernel, variant: None
        #: the host is busy: ``seen`` (a ``noise.Disturbance``); ``waited_s`` so far in this
        #: wait, ``left_s`` of the run's waiting budget
        self.on_wait: Callable[[noise.Disturbance, float, float], None] = \
            lambda seen, waited_s, left_s: None
        #: the run starts on a busy host (``seen``) and waits up to ``budget_s`` for quiet
        self.on_busy_start: Callable[[noise.Disturbance, float], None] = \
            lambda seen, budget_s: None


#: the window in which a run looks at the host before its first measurement
START_WINDOW_S = 0.5


def quiet_wait(config: RunConfig, events: Events,
               sample: Callable[[float], noise.Disturbance | None] = noise.sample
               ) -> noise.QuietWait:
    """The run's waiting budget, telling ``events`` of each busy moment."""
    wait = noise.QuietWait(config.wait_budget_s, sample=sample)
    wait.on_wait = lambda seen, waited_s: events.on_wait(
        seen, waited_s, max(0.0, wait.budget_s - wait.spent_s - waited_s))
    return wait


def wait_at_start(wait: noise.QuietWait, events: Events) -> noise.Disturbance | None:
    """Look at the host before the first measurement; if it is busy, say so at once and wait
    for a quiet moment (within the run's budget). Returns what was seen (None: counters not
    readable)."""
    seen = wait.sample(START_WINDOW_S)
    if seen is not None and seen.disturbed:
        events.on_busy_start(seen, wait.left_s)
        wait.wait()
    return seen


def busy_summary(doc: dict, wait: noise.QuietWait, first: noise.Disturbance | None) -> dict:
    """The results' record of how busy the host was: the waits, the rounds set aside and the
    cells left *undecided: host busy* (the report's busy banner comes from it)."""
    cells = [Cell.read(c) for c in doc["cells"]]
    disturbed = [c for c in cells if c.disturbed_rounds]
    return {**wait.summary(),
            "noise_measured": first is not None,
            "busy_at_start": None if first is None else first.disturbed,
            "other_cores_at_start": None if first is None else round(first.other_cores, 3),
            "cells_with_disturbed_rounds": len(disturbed),
            "disturbed_rounds_max": max((c.disturbed_rounds for c in disturbed), default=0),
            "cells_host_busy": sum(1 for c in cells if c.host_busy)}


def _add_cells(writer: results.ResultsWriter, cells: list[dict], events: Events) -> None:
    # One file write for the whole group: an interrupt leaves all of it or none of it on disk
    # (list.extend is one step for a signal handler, and results.write is atomic).
    if not cells:
        return
    # a cell measured again (resumed: it was left "host busy") replaces the old one; the new
    # list is assigned in one step, so a signal handler sees the old list or the new one
    new = {cell_key(c) for c in cells}
    writer.doc["cells"] = [c for c in writer.doc["cells"] if cell_key(c) not in new] + cells
    results.write(writer.doc, writer.path)
    for cell in cells:
        events.on_cell(cell)


def cell_key(cell: "Cell | dict") -> CellKey:
    """(kernel, variant, executor, workers) of a results cell: what identifies it in a run."""
    return Cell.read(cell).key


def finished_keys(cells: "list[Cell | dict]") -> set[CellKey]:
    """Keys of the cells a resumed run keeps: every cell but those left *undecided: host
    busy*, which it measures again."""
    return {c.key for c in map(Cell.read, cells) if not c.host_busy}


def recorded_sizes(cells: list[dict], scaling: str) -> dict[tuple[str, str], int]:
    """(kernel, variant) -> the base size its recorded cells were measured at (resume: the rest
    of a group is measured at the same size, not recalibrated)."""
    sizes: dict[tuple[str, str], int] = {}
    for cell in map(Cell.read, cells):
        size, workers = cell.size, cell.workers
        if "size" in cell.keys and isinstance(size, int) and isinstance(workers, int) \
                and workers >= 1:
            base = size // workers if scaling == "weak" else size
            sizes.setdefault((cell.kernel, cell.variant), base)
    return sizes


def carried(budget: Budget, banked: float, factor: float) -> Budget:
    """``budget`` with up to ``factor`` times its own seconds more from ``banked`` (what earlier
    groups of the run left unused)."""
    return replace(budget, time_s=budget.time_s + min(banked, factor * budget.time_s))


def left_over(banked: float, own_s: float, used_s: float) -> float:
    """What stays banked after a group whose own budget was ``own_s`` used ``used_s``."""
    return max(0.0, banked + own_s - used_s)


def run_matrix(config: RunConfig, writer: results.ResultsWriter, events: Events | None = None,
               skip: set[CellKey] | None = None,
               sizes: dict[tuple[str, str], int] | None = None) -> dict:
    """Measure every planned cell, adding a group's cells to ``writer`` when the group is done.

    ``skip`` holds keys (kernel, variant, executor, workers) already measured (resume; cells of
    a group already in ``writer.doc`` also fix the size of the rest of it). ``sizes`` fixes the
    base size of (kernel, variant) groups instead of calibrating them (``--sizes-from``; it
    wins over the configuration's per-kernel sizes). Returns the document. ``KeyboardInterrupt`` (``Interrupted``) propagates after the running group's
    workers were stopped; every group finished before it is in the file.
    """
    events = events or Events()
    skip = skip or set()
    known_sizes = {**(sizes or {}), **recorded_sizes(writer.doc["cells"], config.scaling)}
    banked = 0.0  # seconds of extra rounds earlier groups left unused
    wait = quiet_wait(config, events)
    first = wait_at_start(wait, events)
    try:
        for kernel, variant, specs in plan(config):
            todo = [s for s in specs if s.key not in skip]
            if not todo:
                continue
            events.on_group_start(kernel.name, variant.name, len(todo) * (1 + config.repeats))
            budget = carried(config.budget, banked, MAX_TIME_CARRY)
            used_s = _run_group(config, writer, events, skip, kernel, variant, specs, todo,
                                known_sizes.get((kernel.name, variant.name)), budget, wait)
            banked = left_over(banked, config.budget.time_s, used_s)
            events.on_group_done(kernel.name, variant.name)
    finally:  # an interrupted run records how busy the host was too
        writer.doc.setdefault("host", {})["busy"] = busy_summary(writer.doc, wait, first)
    return writer.doc


def measure_matrix(out: str | os.PathLike = "results.json", *, argv: list[str] | None = None,
                   events: Events | None = None, **options: Any) -> dict:
    """Measure a matrix from Python into the results file ``out`` and return its document:
    the run ``gilbench run`` makes (``gilbench report`` renders the file), without the
    terminal. ``options`` are ``RunConfig.from_options``'s (``kernels=["primes"]``,
    ``executors=["serial", "threads"]``, ``workers=[1, 2]``, ``quick=True``, ...), checked the
    same way (UsageError says what is accepted); ``events`` follows the progress. Like
    ``gilbench run``, it refuses a file another run is writing (ResultsError naming its pid).
    ``gilbench.measure_matrix`` is this function."""
    config = RunConfig.from_options(**options)
    config.prepare_engines()  # e.g. the Dask scheduler answers, before anything is written
    lock = results.ResultsLock(out).acquire()
    try:
        started = time.perf_counter()
        writer = results.ResultsWriter(out, start_document(config, list(argv or ["python"])))
        run_matrix(config, writer, events)
        finish_document(writer, started)
    finally:
        lock.release()
    return writer.doc


def _run_group(config: RunConfig, writer: results.ResultsWriter, events: Events,
               skip: set[CellKey],
               kernel: kernels.Kernel, variant: kernels.Variant, specs: list[CellSpec],
               todo: list[CellSpec], known_size: int | None, budget: Budget,
               wait: noise.QuietWait | None = None) -> float:
    """Measure the cells ``todo`` of one (kernel, variant) within ``budget`` and add them to
    the file; returns the seconds its rounds after the minimum took (0: none measured)."""
    if not variant.available:
        _add_cells(writer, [error_cell(spec, kernel, f"variant unavailable: {variant.reason}")
                            for spec in todo], events)
        return 0.0
    runnable, broken = [], []
    for spec in todo:
        cls = executors.get(spec.executor)
        reason = cls.unavailable_reason()
        if reason:
            reason = f"executor unavailable: {reason}"
        else:  # e.g. NumPy under subinterpreters: unavailable there, not failed
            why = cls.variant_unavailable_reason(kernel.name, variant.name)
            reason = f"variant unavailable: {why}" if why else ""
        (broken if reason else runnable).append((spec, reason))
    _add_cells(writer, [error_cell(spec, kernel, reason) for spec, reason in broken], events)
    if not runnable:
        return 0.0
    # the serial baseline is measured with every group, even when resuming
    needed = [s for s, _ in runnable]
    if not any(s.executor == "serial" for s in needed):
        needed.insert(0, next(s for s in specs if s.executor == "serial"))
    timeout_s = config.run_timeout_s
    with kernel.session():
        try:
            if known_size is not None:  # resumed or pinned: keep the size it was measured at
                base, seconds = known_size, float("nan")
            elif kernel.name in config.sizes:
                base, seconds = config.sizes[kernel.name], float("nan")
            else:  # placed: on the serial baseline's CPU, so its target time holds there
                with pinned(config.placement.cpus_for(0)):
                    base, seconds = calibrate(kernel, variant.name, config.target_time_s,
                                              CHUNKS_PER_WORKER * max(config.workers),
                                              timeout_s=timeout_s)
        except RunTimeout as exc:
            _add_cells(writer, [error_cell(s, kernel, f"calibration timed out: {exc}",
                                           timed_out=True) for s, _ in runnable], events)
            return 0.0
        except Exception as exc:
            # the whole message, not one_line: the results file keeps it, the report and the
            # terminal show its first line (verdicts.failure_text)
            _add_cells(writer, [
                error_cell(s, kernel, f"calibration failed: {type(exc).__name__}: {exc}")
                for s, _ in runnable], events)
            return 0.0
        events.on_calibrated(kernel.name, variant.name, base, seconds)
        sized_specs = [sized(s, base, config) for s in needed]
        serial_spec = next(s for s in sized_specs if s.executor == "serial")
        usable = config.ceiling  # the CPUs the workers may use (--pin, --core-type)

        def decided(spec: CellSpec, raws: dict[CellKey, Raw]) -> bool:
            cell = summarize_cell(spec, raws[spec.key], raws[serial_spec.key], kernel,
                                  usable_cores=usable)
            return verdicts.is_decided(cell, usable)

        raws, used_s = measure_group(sized_specs, budget, on_run=events.on_run,
                                     timeout_s=timeout_s, decided=decided, wait=wait)
        failed = [r.error for r in raws.values() if r.error]
        if config.gil_check and not failed:
            record_gil_check(writer.doc, kernel, variant, quick=config.quick)
        elif config.gil_check:  # a variant that failed or hung could hang the check too
            _set_gil_check(writer.doc, kernel, variant, {
                "verdict": "undecided", "fraction": None, "low": None, "high": None,
                "reason": f"not measured: {len(failed)} cells of this variant failed"})
    serial_raw = raws[serial_spec.key]
    _add_cells(writer, [summarize(spec, raws[spec.key], serial_raw, kernel, serial_raw.result,
                                  usable_cores=usable)
                        for spec in sized_specs if spec.key not in skip], events)
    return used_s


def record_gil_check(doc: dict, kernel: kernels.Kernel, variant: kernels.Variant,
                     quick: bool = False) -> None:
    """Measure directly whether ``variant`` releases the GIL (``gilcheck``, on one chunk) and
    record it in the document's kernels section, beside what the variant declares: the claims
    about GIL release are decided by this, speedups only support it. Inside the session."""
    try:
        found = check_declared(kernel, variant, target_s=QUICK_CALL_S if quick else CALL_S,
                               window_s=0.03 if quick else 0.04)
    except Exception as exc:  # the check must not cost the group's cells
        entry = {"verdict": "undecided", "reason": f"the check failed: {one_line(exc)}",
                 "fraction": None, "low": None, "high": None}
    else:
        check = found.check
        entry = {"verdict": check.verdict, "reason": check.reason, "fraction": check.fraction,
                 "low": check.low, "high": check.high, "windows": len(check.fractions),
                 "declared_releases": found.declared_releases, "status": found.status}
    _set_gil_check(doc, kernel, variant, entry)


def _set_gil_check(doc: dict, kernel: kernels.Kernel, variant: kernels.Variant,
                   entry: dict) -> None:
    section = doc.setdefault("kernels", {}).setdefault(kernel.name, {})
    section.setdefault("variants", {}).setdefault(variant.name, {})["gil_check"] = entry


def start_document(config: RunConfig, argv: list[str]) -> dict:
    """A fresh results document for ``config``."""
    info = host.host_info()
    info["load_average_start"] = info.pop("load_average")
    info["start_method_default"] = multiprocessing.get_start_method(allow_none=False)
    info["pid"] = os.getpid()
    # the ceiling the verdicts use follows the placement (the topology's without one)
    info["ceiling"] = config.ceiling.as_dict()
    info["placement"] = config.placement.as_dict()
    doc = results.new_document(config.as_dict(), info, argv)
    # what the report needs to know of each kernel travels in the document
    doc["kernels"] = results.kernel_section(kernels.get(name) for name in config.kernels)
    return doc


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
