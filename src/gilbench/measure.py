"""Calibration, warm-up, interleaved repeats, wall and CPU time accounting.

A *group* is every cell of one (kernel, variant): the serial baseline and each executor at each
worker count, all on the same chunks (strong scaling) or the same chunks per worker (weak).
``measure_group`` opens every executor of the group, does one cold run in each (which includes
pool start-up and doubles as warm-up), then ``repeats`` rounds in which each cell runs once, in a
shuffled order, so that drift of a noisy machine hits every cell alike. ``gilbench.summary``
turns the raw times into the cell of the results schema.

Faults stay inside their cell: a run that raises, whose worker dies, or that lasts longer than
the time limit (``timeout_s``, per run) fails that cell with a one-line ``error`` (and
``timed_out``), its executor is aborted, and the group goes on. An interrupt (Ctrl-C,
SIGTERM) aborts every executor of the group before it propagates, so no worker outlives it.
"""

from __future__ import annotations

import math
import os
import platform
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from gilbench import executors, kernels, noise
from gilbench.cell import CellKey, Keyed
from gilbench.errors import one_line
from gilbench.executors.base import RunTimeout, alarm
from gilbench.kernels import Kernel
from gilbench.placement import Placement

#: chunks per worker in strong scaling: enough to balance load when chunk costs differ a little
CHUNKS_PER_WORKER = 4
INTERLEAVE_SEED = 1234


@dataclass(frozen=True)
class CellSpec(Keyed):
    """One configuration to measure."""

    kernel: str
    variant: str
    executor: str
    workers: int
    size: int
    n_chunks: int
    start_method: str | None = None
    scaling: str = "strong"
    #: where the workers run (``--pin``, ``--core-type``); None: the OS decides
    placement: Placement | None = None


@dataclass
class Raw:
    """The raw measurements of one cell."""

    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    cold_wall_s: float | None = None
    cold_cpu_s: float | None = None
    error: str | None = None
    timed_out: bool = False
    result: Any = None
    result_ok: bool | None = None
    #: the paired round each wall/CPU time was measured in (pairs cells with the baseline)
    rounds: list[int] = field(default_factory=list)
    #: per kept (undisturbed) round: what else used the CPUs (``noise.Disturbance.as_dict``)
    #: or None where noise is not measured
    noise: list[Any] = field(default_factory=list)
    #: the runs of disturbed rounds, set aside: kept in the results, never counted
    #: ({"round", "wall_s", "cpu_s", "other_cores", "steal_share"} each)
    disturbed: list[dict] = field(default_factory=list)
    #: the rounds stopped because the host stayed busy, before this cell was decided
    host_busy: bool = False
    #: why rounds stopped before the cell was decided (None: decided or not judged)
    budget_reason: str | None = None
    #: what the executor says of itself and its workers once started (``Executor.facts``)
    facts: dict[str, Any] = field(default_factory=dict)

    def set_aside(self, n: int, seen: "noise.Disturbance") -> None:
        """Move the runs after the first ``n`` (a disturbed round) out of the counted ones,
        into ``disturbed``, with what disturbed them."""
        for r, w, c in zip(self.rounds[n:], self.wall_s[n:], self.cpu_s[n:]):
            self.disturbed.append({"round": r, "wall_s": w, "cpu_s": c,
                                   "other_cores": round(seen.other_cores, 3),
                                   "steal_share": round(seen.steal_share, 4)})
        del self.wall_s[n:], self.cpu_s[n:], self.rounds[n:]


def round_size(size: float) -> int:
    """Round to two significant digits, so sizes read well in reports."""
    if size < 100:
        return max(1, int(round(size)))
    digits = int(math.floor(math.log10(size))) - 1
    return int(round(size / 10**digits) * 10**digits)


def time_serial(kernel: Kernel, variant: str, size: int, n_chunks: int,
                timeout_s: float | None = None) -> float:
    """Wall seconds of one serial run of ``variant`` at ``size`` (parent process).

    RunTimeout if the run lasts longer than ``timeout_s`` (interrupted when possible, else
    detected when it returns).
    """
    fn = executors.base.lookup(kernel.name, variant)
    chunks = kernel.split(size, n_chunks)
    with alarm(timeout_s, f"a calibration run at size {size:,}"):
        start = time.perf_counter()
        for chunk in chunks:
            fn(chunk)
        elapsed = time.perf_counter() - start
    if timeout_s is not None and elapsed > timeout_s:
        raise RunTimeout(f"a calibration run at size {size:,} took {elapsed:.1f} s, over the "
                         f"{timeout_s:g} s limit")
    return elapsed


def calibrate(kernel: Kernel, variant: str, target_s: float, n_chunks: int,
              timeout_s: float | None = None) -> tuple[int, float]:
    """The size at which a serial run of ``variant`` lasts about ``target_s``; (size, seconds).

    ``kernels.calibrate_size`` on serial runs of ``n_chunks`` chunks: grows the size from the
    kernel's small verify size until a run lasts a fifth of the target, then scales linearly
    (every kernel's cost is linear in its size), rounds (``round_size``) and checks.
    Each run is limited to ``timeout_s`` (RunTimeout). Must be called inside ``kernel.session()``.
    """
    if kernel.prepare is not None:
        kernel.prepare(kernel.verify_size)
    size = kernels.calibrate_size(
        lambda size: time_serial(kernel, variant, size, n_chunks, timeout_s),
        max(kernel.min_size, kernel.verify_size, n_chunks), target_s,
        enough=0.2, max_grow=100.0,
        fit=lambda s: max(kernel.min_size, n_chunks, round_size(s)))
    return size, time_serial(kernel, variant, size, n_chunks, timeout_s)


class CellRunner:
    """One cell's executor, its chunks and its raw times: the per-cell loop.

    ``run_once(cold=True)`` starts the executor and times the first run with it (pool start-up
    included); ``run_once(cold=False)`` is one warm run. Each run is checked against the time
    limit and the kernel's result; a fault fails the cell (``raw.error``), aborts the executor
    and ends the cell's runs. ``start()`` starts the executor untimed (a single warm run then
    follows, as in ``pytest bench/ --benchmark-disable``). ``close()`` or ``abort()`` at the end.
    Used by ``measure_group`` and by ``bench/conftest.py``.
    """

    def __init__(self, spec: CellSpec, kernel: Kernel, timeout_s: float | None = None):
        self.spec = spec
        self.kernel = kernel
        self.timeout_s = timeout_s
        self.chunks = kernel.split(spec.size, spec.n_chunks)
        cls = executors.get(spec.executor)
        self.executor = cls(spec.kernel, spec.variant, spec.workers, spec.size, spec.start_method,
                            timeout_s=timeout_s, placement=spec.placement)
        self.raw = Raw()
        self.started = False

    def start(self) -> None:
        """Start the executor's workers, untimed."""
        if self.raw.error is not None or self.started:
            return
        try:
            self.started = True  # before start(): one that fails half-way has workers to stop
            self.executor.start()
        except Exception as exc:
            self._fail(exc)
            return
        self._record_facts()

    def _record_facts(self) -> None:
        # informative only: an executor that cannot describe itself still measures
        try:
            self.raw.facts = dict(self.executor.facts() or {})
        except Exception as exc:
            self.raw.facts = {"facts_error": one_line(exc)}

    def _fail(self, exc: BaseException) -> None:
        self.raw.error = one_line(exc)
        self.abort()

    def run_once(self, cold: bool, round_no: int | None = None) -> None:
        """One run (the cold one: start() and the first run, timed together); a warm run is
        recorded as part of paired round ``round_no``."""
        if self.raw.error is not None:
            return
        try:
            start = time.perf_counter()
            if cold:
                # set before start(): a start() that fails half-way has workers to stop too
                self.started = True
                self.executor.start()
            result = self.executor.run(self.chunks)
            wall = time.perf_counter() - start
        except RunTimeout as exc:
            self.raw.timed_out = True
            self.raw.error = f"timed out: {exc}"
            self.abort()
            return
        except Exception as exc:
            self._fail(exc)
            return
        if self.timeout_s is not None and wall > self.timeout_s:
            # the run could not be interrupted (C code holding the GIL, or not the main thread)
            self.raw.timed_out = True
            self.raw.error = (f"timed out: a run took {wall:.1f} s, over the {self.timeout_s:g} s "
                              "limit (it could not be interrupted while it ran)")
            self.abort()
            return
        value = self.kernel.reduce(result.partials)
        if cold:
            self.raw.cold_wall_s, self.raw.cold_cpu_s = wall, result.cpu_s
            self.raw.result = value
            self._record_facts()  # after the timed run, so it costs the cold run nothing
        else:
            self.raw.wall_s.append(wall)
            self.raw.cpu_s.append(result.cpu_s)
            if round_no is not None:
                self.raw.rounds.append(round_no)
            if self.raw.result is None:  # no cold run came first (start() instead)
                self.raw.result = value
            elif not self.kernel.agrees(value, self.raw.result):
                self.raw.error = f"result changed between runs: {self.raw.result!r} then {value!r}"

    # ``started`` is cleared only once the executor is really stopped: if an interrupt cuts a
    # close() or abort() short, the group's clean-up aborts it (again).
    def close(self) -> None:
        """Stop the executor gracefully (abort it if that fails)."""
        if self.started:
            if self.raw.error is None:
                self._record_facts()  # again: some facts count events of the runs
            try:
                self.executor.close()
            except Exception as exc:  # a failing shutdown must not lose the measurements
                if self.raw.error is None:
                    self.raw.error = f"shutdown failed: {one_line(exc)}"
                self.abort()
            self.started = False

    def abort(self) -> None:
        """Stop the executor now (after a fault or an interrupt); never raises an Exception."""
        if self.started:
            try:
                self.executor.abort()
            except Exception as exc:
                if self.raw.error is None:
                    self.raw.error = f"stopping the workers failed: {one_line(exc)}"
            self.started = False


def _start_order(spec: CellSpec) -> int:
    # Process executors first: forking after thread pools exist risks deadlocks in the child
    # (and warns on 3.12+), so their workers are started before any thread is.
    return 0 if executors.get(spec.executor).uses_processes else 1


#: rounds remembered for the longer noise window (rounds last 0.05 s or more: >= 1 s of them)
LONGER_WINDOW_ROUNDS = 25


@dataclass(frozen=True)
class Budget:
    """How long the paired rounds of one group may go on.

    At least ``min_rounds`` undisturbed rounds always; then only the cells not yet decided
    (``decided`` returns False for their provisional cell) are measured again, with the serial
    baseline, until every cell is decided, ``max_rounds`` rounds were made, or ``time_s``
    seconds passed since the minimum was reached (``measure_group`` returns how many did; a run
    carries what a group leaves unused over to the next ones).
    A round disturbed by other processes or steal (``gilbench.noise``) is set aside (kept,
    never counted) and the group waits for a quiet host (``noise.QuietWait``); once there is
    no waiting left, ``max_disturbed`` more disturbed rounds end the group, and its cells not
    yet decided are *undecided: host busy*.
    """

    min_rounds: int = 5
    max_rounds: int = 5
    time_s: float = math.inf
    max_disturbed: int = 5


class Measured(NamedTuple):
    """What ``measure_group`` returns: the raw data by cell key, and the seconds of rounds it
    spent after the minimum (what the group used of its ``Budget.time_s``)."""

    raws: dict[CellKey, Raw]
    extra_s: float


def measure_group(specs: list[CellSpec], budget: Budget | int,
                  on_run: Callable[[CellSpec, Raw], None] | None = None,
                  seed: int = INTERLEAVE_SEED, timeout_s: float | None = None,
                  decided: Callable[[CellSpec, dict[CellKey, Raw]], bool] | None = None,
                  noise_check: bool = True, wait: noise.QuietWait | None = None,
                  counters: noise.Counters | None = None) -> Measured:
    """Measure every cell of one (kernel, variant) group in paired rounds: the raw data by key
    and the seconds spent on rounds after the minimum (``Measured``).

    A round runs the serial baseline and every active cell once each, back to back in a
    shuffled order, so each cell's speedup can be taken per round and slow drift cancels.
    ``budget`` (or a plain number of rounds) says when to stop; ``decided(spec, raws)`` says
    whether a cell needs no more rounds. A round that other processes or steal disturbed
    (``noise_check``; ``counters`` default to this host's) is set aside in each cell's
    ``disturbed`` and not counted; then ``wait`` (the run's waiting budget) waits for the host
    to settle. Must be called inside the kernel's ``session()``. ``on_run(spec, raw)`` is
    called after each run (progress). ``timeout_s`` limits every single run. An exception out
    of here (KeyboardInterrupt) comes after every executor was aborted.
    """
    if isinstance(budget, int):
        budget = Budget(budget, budget)
    kernel = kernels.get(specs[0].kernel)
    if kernel.prepare is not None:
        kernel.prepare(max(s.size for s in specs))
    opened: list[CellRunner] = []
    rng = random.Random(seed)
    finished = False

    engine_pids: tuple[int, ...] = ()

    def look() -> noise.Snapshot | None:
        return noise.snapshot(counters=counters, also=engine_pids) if noise_check else None

    try:
        for s in sorted(specs, key=_start_order):
            opened.append(CellRunner(s, kernel, timeout_s))
        for cell in opened:
            cell.run_once(cold=True)
            if on_run:
                on_run(cell.spec, cell.raw)
        engine_pids = _engine_pids(opened)
        serial = next((c for c in opened if c.spec.executor == "serial"), None)
        active = [c for c in opened if c is not serial]
        extra_since: float | None = None  # the time budget counts rounds after the minimum
        rounds = made = 0  # undisturbed rounds; every round made (its id)
        disturbed = unwaited = 0  # disturbed rounds; those after which no wait was possible
        starts: list[noise.Snapshot] = []  # where the last rounds began (noise.window_start)
        while True:
            members = ([serial] if serial is not None else []) + active
            members = [c for c in members if c.raw.error is None]
            if not members:
                break
            order = list(members)
            rng.shuffle(order)
            before = look()
            lengths = {id(c): len(c.raw.wall_s) for c in order}
            for cell in order:
                cell.run_once(cold=False, round_no=made)
                if on_run:
                    on_run(cell.spec, cell.raw)
            made += 1
            after = look()
            seen = noise.disturbance(before, after, since=after and noise.window_start(
                starts, after))
            if before is not None:  # the last second of rounds (the longer window)
                starts.append(before)
                del starts[:-LONGER_WINDOW_ROUNDS]
            if seen is not None and seen.disturbed:
                disturbed += 1
                for cell in order:  # kept in the file, never counted toward a verdict
                    cell.raw.set_aside(lengths[id(cell)], seen)
                if wait is not None and disturbed <= budget.max_rounds and wait.wait():
                    continue  # quiet again: measure on
                unwaited += 1
                if unwaited >= budget.max_disturbed:
                    short = [serial] if serial is not None and len(
                        serial.raw.wall_s) < budget.min_rounds else []
                    for c in short + active:
                        if c.raw.error is None:
                            c.raw.host_busy = True
                            c.raw.budget_reason = (
                                f"the host stayed busy: {disturbed} of {made} rounds "
                                f"disturbed, the last as {seen.reason}")
                    break
                continue
            for cell in order:
                cell.raw.noise.append(None if seen is None else seen.as_dict())
            rounds += 1
            if serial is not None and serial.raw.error is not None:
                break  # no baseline: more rounds cannot give a speedup
            if rounds >= budget.min_rounds:
                if extra_since is None:
                    extra_since = time.perf_counter()
                raws = {c.spec.key: c.raw for c in opened}
                if decided is not None:
                    active = [c for c in active
                              if c.raw.error is None and not decided(c.spec, raws)]
                else:
                    active = [c for c in active if c.raw.error is None]
                    if rounds >= budget.max_rounds:
                        active = []
                out_of_budget = (rounds >= budget.max_rounds
                                 or time.perf_counter() - extra_since >= budget.time_s)
                if not active or out_of_budget:
                    for c in active:
                        c.raw.budget_reason = (
                            f"{rounds} rounds (the cap)" if rounds >= budget.max_rounds else
                            f"the group's time budget of {budget.time_s:g} s ran out after "
                            f"{rounds} rounds")
                    break
        extra_s = 0.0 if extra_since is None else time.perf_counter() - extra_since
        finished = True
    finally:
        _shut_down(opened, gracefully=finished)
    return Measured({cell.spec.key: cell.raw for cell in opened}, extra_s)


def _engine_pids(opened: list[CellRunner]) -> tuple[int, ...]:
    """Processes on this host that the cells' engines run outside gilbench's own process tree
    (an existing Dask cluster's workers, from ``Executor.facts``): their CPU is the cells'
    work, not other processes' noise."""
    here, me = platform.node(), os.getpid()
    return tuple(sorted({w["pid"] for c in opened for w in c.raw.facts.get("workers") or []
                         if isinstance(w, dict) and w.get("hostname") == here
                         and isinstance(w.get("pid"), int) and w["pid"] != me}))


def _shut_down(opened: list[CellRunner], gracefully: bool) -> None:
    """Close (or, after an interrupt, abort) every executor, even if one of them is interrupted
    on the way: then the rest are aborted and the interrupt is raised afterwards."""
    pending: BaseException | None = None
    for cell in opened:
        try:
            if gracefully and pending is None:
                cell.close()
            else:
                cell.abort()
        except BaseException as exc:  # noqa: B036 - a second Ctrl-C while stopping
            pending = pending or exc
            cell.abort()
    if pending is not None:
        raise pending
