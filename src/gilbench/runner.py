"""``gilbench run``: the whole matrix, kernel by kernel, written to the results file as it goes."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from gilbench import executors, host, kernels, results
from gilbench.measure import CHUNKS_PER_WORKER, CellSpec, Raw, calibrate, measure_group, summarize

DEFAULT_TARGET_S = 0.3
QUICK_TARGET_S = 0.04
DEFAULT_REPEATS = 5


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


def error_cell(spec: CellSpec, kernel: kernels.Kernel, error: str) -> dict[str, Any]:
    """A cell that could not be measured, with the reason."""
    raw = Raw(error=error)
    return summarize(spec, raw, None, kernel)


def _sized(spec: CellSpec, base_size: int, config: RunConfig) -> CellSpec:
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


def run_matrix(config: RunConfig, writer: results.ResultsWriter, events: Events | None = None,
               skip: set[tuple] | None = None) -> dict:
    """Measure every planned cell, adding each to ``writer`` as its group finishes.

    ``skip`` holds keys (kernel, variant, executor, workers) already measured (resume).
    Returns the finished document.
    """
    events = events or Events()
    skip = skip or set()
    for kernel, variant, specs in plan(config):
        todo = [s for s in specs if s.key not in skip]
        if not todo:
            continue
        runs = len(todo) * (1 + config.repeats)
        events.on_group_start(kernel.name, variant.name, runs)
        if not variant.available:
            for spec in todo:
                cell = error_cell(spec, kernel, f"variant unavailable: {variant.reason}")
                writer.add_cell(cell)
                events.on_cell(cell)
            continue
        runnable, broken = [], []
        for spec in todo:
            reason = executors.get(spec.executor).unavailable_reason()
            (broken if reason else runnable).append((spec, reason))
        for spec, reason in broken:
            cell = error_cell(spec, kernel, f"executor unavailable: {reason}")
            writer.add_cell(cell)
            events.on_cell(cell)
        if not runnable:
            continue
        # the serial baseline is measured with every group, even when resuming
        needed = [s for s, _ in runnable]
        if not any(s.executor == "serial" for s in needed):
            needed.insert(0, next(s for s in specs if s.executor == "serial"))
        with kernel.session():
            try:
                if kernel.name in config.sizes:
                    base = config.sizes[kernel.name]
                    seconds = float("nan")
                else:
                    base, seconds = calibrate(kernel, variant.name, config.target_time_s,
                                              CHUNKS_PER_WORKER * max(config.workers))
            except Exception as exc:
                for spec in [s for s, _ in runnable]:
                    cell = error_cell(spec, kernel, f"calibration failed: {type(exc).__name__}: {exc}")
                    writer.add_cell(cell)
                    events.on_cell(cell)
                continue
            events.on_calibrated(kernel.name, variant.name, base, seconds)
            sized = [_sized(s, base, config) for s in needed]
            raws = measure_group(sized, config.repeats, on_run=events.on_run)
        serial_spec = next(s for s in sized if s.executor == "serial")
        serial_raw = raws[serial_spec.key]
        for spec in sized:
            if spec.key in skip:
                continue
            cell = summarize(spec, raws[spec.key], serial_raw, kernel, serial_raw.result)
            writer.add_cell(cell)
            events.on_cell(cell)
    return writer.doc


def start_document(config: RunConfig, argv: list[str]) -> dict:
    """A fresh results document for ``config``."""
    info = host.host_info()
    info["load_average_start"] = info.pop("load_average")
    info["start_method_default"] = multiprocessing.get_start_method(allow_none=False)
    info["pid"] = os.getpid()
    return results.new_document(config.as_dict(), info, argv)


def finish_document(writer: results.ResultsWriter, started: float) -> None:
    writer.finish(load_average_end=host.load_average(),
                  duration_s=round(time.perf_counter() - started, 2))


def argv() -> list[str]:
    return ["gilbench", *sys.argv[1:]]
