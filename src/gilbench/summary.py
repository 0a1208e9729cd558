"""The results cell of one measured configuration: its raw times (``measure.Raw``) and the
serial baseline's turned into the cell of the results schema (median, IQR, the paired-round
speedup with its interval, efficiency, CPU utilisation, stability, the disturbed rounds kept
aside, start-up) with its verdict (``verdicts.judge``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from gilbench import executors, host, stats, verdicts
from gilbench.cell import Cell, Speedup
from gilbench.kernels import Kernel
from gilbench.measure import CellSpec, Raw
from gilbench.placement import Placement


def paired_times(serial: Raw, raw: Raw) -> tuple[list[float], list[float]]:
    """The serial and cell wall times of the paired rounds both were measured in."""
    base = dict(zip(serial.rounds, serial.wall_s))
    pairs = [(base[r], w) for r, w in zip(raw.rounds, raw.wall_s) if r in base]
    return [p[0] for p in pairs], [p[1] for p in pairs]


#: the fields every measured cell stores, in their order (``Cell.as_dict`` adds the others
#: that are set)
_STORED = ("kernel", "variant", "executor", "family", "kind", "unit", "workers", "start_method",
           "scaling", "placement", "size", "n_chunks", "repeats", "wall_s", "cpu_s",
           "cold_wall_s", "startup_s", "median_s", "iqr_s", "serial_median_s", "speedup",
           "efficiency", "cpu_utilization", "throughput", "stable", "unstable_reason", "error",
           "timed_out", "result_ok")


def family_of(executor: str) -> str:
    return executors.get(executor).family


def summarize(spec: CellSpec, raw: Raw, serial: Raw | None, kernel: Kernel,
              reference: Any = None,
              usable_cores: "verdicts.Ceiling | float | None" = None) -> dict[str, Any]:
    """The results-schema cell for ``spec`` from its raw times and the serial baseline's,
    with its verdict as judged now (``verdicts.judge``) against the ceiling ``usable_cores``
    (default: this host's, ``host.ceiling``): the stored object (``Cell.as_dict``)."""
    return summarize_cell(spec, raw, serial, kernel, reference, usable_cores).as_dict()


def summarize_cell(spec: CellSpec, raw: Raw, serial: Raw | None, kernel: Kernel,
                   reference: Any = None,
                   usable_cores: "verdicts.Ceiling | float | None" = None) -> Cell:
    """``summarize`` as a record (``gilbench.cell.Cell``)."""
    cell = _summarize(spec, raw, serial, kernel, reference)
    if usable_cores is None:
        usable_cores = host.ceiling()
    verdict = verdicts.judge(cell, usable_cores)
    cell.verdict = verdict.as_dict()
    if not verdict.decided and verdict.code == "undecided" and raw.budget_reason \
            and not raw.host_busy:
        cell.verdict["why"] += f"; measured {raw.budget_reason}"
    return cell


def _summarize(spec: CellSpec, raw: Raw, serial: Raw | None, kernel: Kernel,
               reference: Any = None) -> Cell:
    error = raw.error
    if error is None and reference is not None and raw.result is not None:
        if not kernel.agrees(raw.result, reference):
            error = f"result {raw.result!r} differs from the serial result {reference!r}"
    cls = executors.get(spec.executor)
    cell = Cell(
        kernel=spec.kernel, variant=spec.variant, executor=spec.executor, family=cls.family,
        kind=kernel.kind, unit=kernel.unit, workers=spec.workers,
        start_method=spec.start_method, scaling=spec.scaling,
        # the CPUs each worker was pinned to, or the ones all may use, or why none
        placement=(spec.placement or Placement()).record(1 if cls.one_thread else spec.workers),
        size=spec.size, n_chunks=spec.n_chunks, repeats=len(raw.wall_s), wall_s=raw.wall_s,
        cpu_s=raw.cpu_s, cold_wall_s=raw.cold_wall_s, stable=False, error=error,
        timed_out=raw.timed_out, result_ok=None if raw.result is None else error is None,
        # kept on failed cells too: which workers, which GIL state
        engine=raw.facts or None,
        disturbed=raw.disturbed or None,  # kept for the record; nothing below reads them
        disturbed_rounds=len({d["round"] for d in raw.disturbed}),
        host_busy=raw.host_busy, budget_reason=raw.budget_reason or None, keys=_STORED)
    if error is not None or not raw.wall_s:
        if error is None and not raw.host_busy:
            cell.error = "no measured runs"
        elif error is None and raw.cold_wall_s is not None:
            _note_startup(cell, None, "not measurable: the host was busy in every warm run, "
                                      "so there is nothing to set the cold run against")
        return cell
    med = stats.median(raw.wall_s)
    cell.median_s = med
    cell.iqr_s = stats.iqr(raw.wall_s)
    cell.throughput = spec.size / med if med > 0 else None
    cell.cpu_utilization = stats.median([c / w for c, w in zip(raw.cpu_s, raw.wall_s) if w > 0])
    if cls.uses_processes or cls.keeps_workers:
        # what creating the pool and starting its workers added to the first run, when the
        # cold run stands out of the warm runs' spread (else None and why)
        _note_startup(cell, *stats.startup_excess(raw.cold_wall_s, raw.wall_s))
    stable, reason = stats.stability(raw.wall_s)
    cell.rounds = raw.rounds
    kept = [n for n in raw.noise if n]
    if kept:
        cell.noise = {"other_cores_max": max(n["other_cores"] for n in kept),
                      "steal_share_max": max(n["steal_share"] for n in kept),
                      "involuntary_switches": sum(n["involuntary_switches"] for n in kept)}
    elif raw.noise:
        cell.noise = {"measured": False}
    if serial is not None and serial.error is None and serial.wall_s:
        cell.serial_median_s = stats.median(serial.wall_s)
        if serial.cpu_s:
            cell.serial_cpu_per_run_s = stats.median(serial.cpu_s)
        scale = spec.workers if spec.scaling == "weak" else 1.0
        if raw.rounds and serial.rounds and len(raw.rounds) == len(raw.wall_s):
            base, mine = paired_times(serial, raw)
            speedup = stats.paired_ratio(base, mine, scale=scale)
        else:  # measured one cell at a time (pytest-benchmark): two independent samples
            speedup = stats.bootstrap_ratio(serial.wall_s, raw.wall_s, scale=scale)
        cell.speedup = Speedup.from_dict(speedup)
        cell.efficiency = speedup["median"] / spec.workers
        if stable:
            serial_ok, serial_reason = stats.stability(serial.wall_s)
            if not serial_ok:
                stable, reason = False, f"serial baseline unstable: {serial_reason}"
    elif serial is not None and serial.error is not None:
        reason = reason or f"no speedup: the serial baseline failed ({serial.error})"
    cell.stable = stable
    cell.unstable_reason = reason
    return cell


def _note_startup(cell: Cell, startup_s: float | None, note: str | None) -> None:
    """Set the start-up excess and its note; the note is stored even when None (it says the
    start-up was looked at), in its place after ``budget_reason``."""
    cell.startup_s, cell.startup_note = startup_s, note
    stored = cell.as_dict()
    cell.keys += tuple(k for k in _FIELD_ORDER
                       if k not in cell.keys and (k in stored or k == "startup_note"))


_FIELD_ORDER = tuple(f.name for f in dataclasses.fields(Cell))
