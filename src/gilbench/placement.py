"""Where the workers run: ``gilbench run --pin`` and ``--core-type``.

By default (``--pin none``) the OS places every worker anywhere in the process's affinity mask
and nothing here is called. ``--pin physical`` takes one CPU per physical core (the first SMT
sibling of each that the mask holds), as CPython's ``Tools/ftscalingbench`` does, and pins
worker i to the i-th of them (modulo their number): two workers never share one core's
execution units before every core has one. ``--core-type TYPE`` keeps the workers on the cores
of one type of a hybrid host ("performance" or "efficiency"): alone, every worker may use any
CPU of those cores; with ``--pin physical``, one CPU per core as above. The ceiling the
verdicts use follows the CPUs the workers may use (``Placement.ceiling``).

Threads pin themselves (on Linux the affinity is per thread, so ``sched_setaffinity`` on the
thread's own id moves that thread only); worker processes pin themselves in their initialiser;
the serial baseline, the single-threaded asyncio loop and the calibration run in the calling
thread, pinned to worker 0's CPU for the run and given back their mask after. Where the
workers cannot be reached (joblib's and Dask's pools, 3.14's InterpreterPoolExecutor) or the
platform has no ``sched_setaffinity`` (macOS, Windows), asking for a placement is an error that
says so: a run is never left unpinned without saying it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from gilbench.errors import UsageError

if TYPE_CHECKING:
    from gilbench.host import Topology
    from gilbench.verdicts import Ceiling

#: the values of ``--pin``
PIN_MODES = ("none", "physical")


def cpu_list_text(cpus: Iterable[int]) -> str:
    """CPUs in the kernel's cpulist form ("0-3,8")."""
    runs: list[list[int]] = []
    for c in sorted(set(cpus)):
        if runs and c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


@dataclass(frozen=True)
class Placement:
    """Where a run's workers may run: ``pin`` ("none" or "physical"), ``core_type`` (None: any)
    and ``cpus``, the CPUs chosen (empty: no placement, the OS decides)."""

    pin: str = "none"
    core_type: str | None = None
    cpus: tuple[int, ...] = ()
    #: what the topology could not tell (e.g. physical cores unknown), said with the placement
    note: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.cpus)

    def cpus_for(self, worker: int) -> frozenset[int] | None:
        """The CPUs worker ``worker`` (0-based) is pinned to; None: not placed."""
        if not self.cpus:
            return None
        if self.pin == "physical":
            return frozenset({self.cpus[worker % len(self.cpus)]})
        return frozenset(self.cpus)

    def ceiling(self, topology: "Topology") -> "Ceiling":
        """The ceiling of a CPU-bound speedup for workers placed so: the topology's, with the
        affinity mask narrowed to the chosen CPUs (one per core when pinned: no SMT siblings)."""
        if not self.cpus:
            return topology.ceiling
        return replace(topology, affinity=self.cpus).ceiling

    def text(self) -> str:
        """The placement in words, after "workers" in the run's host line and the report's
        rule."""
        kind = f"{self.core_type} " if self.core_type else ""
        if not self.cpus:
            return "not pinned (--pin none: the OS places them within the affinity mask)"
        where = f"CPUs {cpu_list_text(self.cpus)}"
        if self.pin == "physical":
            text = (f"pinned one per physical {kind}core: worker i on the i-th of {where} "
                    f"(modulo {len(self.cpus)})")
        else:
            text = f"kept on the {len(self.cpus)} CPUs of the {kind}cores ({where})"
        return text + (f"; {self.note}" if self.note else "")

    def record(self, threads: int) -> dict[str, Any]:
        """What a cell records of its placement, for an executor with ``threads`` OS threads or
        processes: ``cpus`` per worker (pinned) or the CPUs every worker may use, or why none."""
        out: dict[str, Any] = {"pin": self.pin, "core_type": self.core_type}
        if not self.cpus:
            return {**out, "cpus": None, "why": "not asked (--pin none): the OS places the "
                                                 "workers within the affinity mask"}
        if self.pin == "physical":
            return {**out, "cpus": [self.cpus[i % len(self.cpus)] for i in range(threads)],
                    "per_worker": True}
        return {**out, "cpus": list(self.cpus), "per_worker": False}

    def as_dict(self) -> dict[str, Any]:
        """The record of the results' host section."""
        return {"pin": self.pin, "core_type": self.core_type, "cpus": list(self.cpus),
                "note": self.note, "text": self.text()}


def unavailable_reason() -> str:
    """Empty if this platform can pin threads and processes, else why not."""
    if not hasattr(os, "sched_setaffinity"):
        return ("this platform has no os.sched_setaffinity (macOS and Windows cannot pin a "
                "thread to a CPU from Python)")
    return ""


def choose(topology: "Topology", pin: str = "none", core_type: str | None = None) -> Placement:
    """The placement ``--pin`` and ``--core-type`` ask for on ``topology``; UsageError (listing
    what is valid) for an unknown mode or core type, or one this process's mask holds none of."""
    if pin not in PIN_MODES:
        raise UsageError(f"--pin takes {' or '.join(PIN_MODES)}, got {pin!r}")
    if pin == "none" and core_type is None:
        return Placement()
    why = unavailable_reason()
    if why:
        raise UsageError(f"--pin/--core-type cannot be honoured: {why}")
    cores = topology.available_cores
    if core_type is not None:
        valid = sorted(topology.core_types(cores))
        if not valid:
            raise UsageError(f"--core-type {core_type}: this host reports no core types (its "
                             f"cores are all alike: {topology.line()}); drop --core-type")
        if core_type not in valid:
            raise UsageError(f"--core-type {core_type!r} is not a core type of this host; "
                             f"valid core types: {', '.join(valid)}")
        cores = tuple(c for c in cores if c.core_type == core_type)
    mask = set(topology.affinity)
    if pin == "physical":  # the first sibling of each core that the mask holds
        cpus = [min(mask.intersection(c.cpus)) for c in cores]
    else:
        cpus = [cpu for c in cores for cpu in c.cpus if cpu in mask]
    note = None
    if pin == "physical" and topology.source == "logical CPUs only":
        note = "physical cores unknown here: one worker per logical CPU"
    return Placement(pin, core_type, tuple(sorted(cpus)), note)


def choices_line(topology: "Topology") -> str:
    """What ``--pin`` and ``--core-type`` can do on ``topology``, in one line (``gilbench info``)."""
    why = unavailable_reason()
    if why:
        return f"none: {why}"
    first = choose(topology, "physical")
    types = sorted(topology.core_types(topology.available_cores))
    return (f"--pin physical: CPUs {cpu_list_text(first.cpus)}; --core-type: "
            + (", ".join(types) if types else "none (the cores are all alike)"))


def pin_thread(cpus: frozenset[int] | None) -> None:
    """Pin the calling thread to ``cpus`` (None: leave it be); OSError says which CPUs failed."""
    if cpus is None:
        return
    try:
        os.sched_setaffinity(threading.get_native_id() or 0, cpus)
    except OSError as exc:
        raise OSError(f"could not pin a worker to CPUs {cpu_list_text(cpus)}: {exc}") from None


def pin_process(cpus: frozenset[int] | None) -> None:
    """Pin this worker process (its calling thread; the threads it starts later inherit it)."""
    if cpus is None:
        return
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:
        raise OSError(f"could not pin worker process {os.getpid()} to CPUs "
                      f"{cpu_list_text(cpus)}: {exc}") from None


@contextlib.contextmanager
def pinned(cpus: frozenset[int] | None) -> Iterator[None]:
    """The calling thread pinned to ``cpus`` for the block, its own mask given back after (so
    the threads and processes it starts later do not inherit the pin)."""
    if cpus is None:
        yield
        return
    me = threading.get_native_id() or 0
    before = os.sched_getaffinity(me)
    pin_thread(cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(me, before)


class NextCPU:
    """Hands worker i the CPUs of worker i, in the order workers ask (a pool's threads, created
    lazily, pin themselves with ``pin``); thread-safe."""

    def __init__(self, placement: Placement | None):
        self.placement = placement
        self._next = 0
        self._lock = threading.Lock()

    def pin(self) -> None:
        """Pin the calling thread to the next worker's CPUs (nothing without a placement)."""
        if self.placement is None or not self.placement.active:
            return
        with self._lock:
            worker, self._next = self._next, self._next + 1
        pin_thread(self.placement.cpus_for(worker))
