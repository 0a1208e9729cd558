"""Noise accounting: what else used the host's CPUs while a round was measured.

A round of paired measurements is *disturbed* when, during it, other processes (not gilbench
and not the workers it started) used a noticeable share of a core, or the hypervisor stole
time from this VM. The counters come from psutil (system-wide CPU times with steal, and the CPU
times of gilbench's own process tree), like ``pyperf system show`` reads the host's state, on
Linux, macOS and Windows alike. A disturbed round is kept in the results file but never counts
toward a verdict (``gilbench.measure``); when rounds keep being disturbed, ``wait_for_quiet``
waits for the host to settle, within a budget.

Where the counters cannot be read, ``snapshot`` returns None and nothing is called disturbed:
the terminal and the report then say that noise was not measured.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

#: a round is *disturbed* (kept in the file, never counted) when other processes used more than
#: this many cores on average. Calibrated on a 2-core VM (scripts/noise-calibration.py, README
#: "A busy host"): a steady 0.06 core of other work cost a 2-worker speedup 2-5%, 0.17 core
#: 11-17%; a round at this limit stays about within the borderline margin (5%)
OTHER_CORES_LIMIT = 0.1
#: ... or the hypervisor stole more than this share of the host's CPU time
STEAL_LIMIT = 0.05



@dataclass(frozen=True)
class Snapshot:
    """CPU counters at one moment, in CPU seconds."""

    at_s: float
    busy_s: float  # every CPU's non-idle time, steal excluded
    steal_s: float
    total_s: float  # busy + idle + iowait + steal
    own_s: float  # gilbench and its descendants (plus reaped children)
    involuntary_switches: int  # gilbench's own threads, preempted
    #: how many whole-tick counters the busy and own times were summed from (each CPU's
    #: user+system..., each process's user and system), and the tick they count in (0: exact)
    n_counters: int = 0
    tick_s: float = 0.0


class Counters(Protocol):
    """Where the CPU counters come from (psutil; tests give fixture counters)."""

    def host(self) -> tuple[float, float, float]:
        """(busy, steal, total) CPU seconds summed over every CPU."""

    def own(self, pid: int) -> tuple[float, int]:
        """(CPU seconds of ``pid`` and its descendants, living or reaped; its involuntary
        context switches). ``PsutilCounters.own`` also takes the pids of an engine's
        processes outside that tree (``also``), and returns a third value: how many
        processes it summed."""


#: psutil's system-wide fields that are not work: idle and waiting (guest time is already
#: inside user on Linux, so it is not added twice)
_NOT_BUSY = {"idle", "iowait", "steal", "guest", "guest_nice"}


def _clock_tick() -> float:
    try:
        return 1.0 / os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 0.0156  # Windows: the timer interrupt's default period


class PsutilCounters:
    """The counters of this host, through psutil. Linux counts CPU time in clock ticks
    (``tick_s``, 10 ms): every CPU's counter and every process's user and system times are
    whole ticks, so a difference of sums is uncertain by a few ticks (``resolution_s``)."""

    tick_s = _clock_tick()

    def host(self) -> tuple[float, float, float]:
        import psutil  # late: see snapshot()

        times = psutil.cpu_times()._asdict()
        busy = sum(v for k, v in times.items() if k not in _NOT_BUSY)
        steal = times.get("steal", 0.0)
        return busy, steal, busy + times.get("idle", 0.0) + times.get("iowait", 0.0) + steal

    def own(self, pid: int, also: Sequence[int] = ()) -> tuple[float, int, int]:
        """The CPU seconds of ``pid``'s process tree and of ``also``'s (processes an engine
        runs for gilbench outside its tree, such as an existing Dask cluster's workers), each
        process counted once; ``pid``'s involuntary context switches; how many processes."""
        import psutil  # late: see snapshot()

        root = psutil.Process(pid)
        with root.oneshot():
            switches = root.num_ctx_switches().involuntary
        procs = {pid: root}
        for r in [pid, *also]:
            try:
                proc = procs.get(r) or psutil.Process(r)
                procs[r] = proc
                procs.update((c.pid, c) for c in proc.children(recursive=True))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # an engine's process that ended: its time went with it
        total = 0.0
        for p, proc in procs.items():
            try:
                t = proc.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # it ended while we looked (its time moves to its parent's reaped)
            total += t.user + t.system
            if p == pid or p in also:  # + the children they have reaped
                total += t.children_user + t.children_system
        return total, switches, len(procs)


COUNTERS: Counters = PsutilCounters()


@dataclass(frozen=True)
class Disturbance:
    """What disturbed one measured window: other processes' CPU (in cores, averaged over the
    window), steal (share of the host's CPU time), involuntary context switches of gilbench's
    threads, and whether that crosses the limits (``disturbed``, with the reason)."""

    other_cores: float
    steal_share: float
    involuntary_switches: int
    disturbed: bool
    reason: str | None

    def as_dict(self) -> dict:
        return {"other_cores": round(self.other_cores, 3),
                "steal_share": round(self.steal_share, 4),
                "involuntary_switches": self.involuntary_switches}

    def what(self) -> str:
        """'other processes use 0.91 cores' (the worse of the two measures)."""
        if self.steal_share > STEAL_LIMIT and self.other_cores <= OTHER_CORES_LIMIT:
            return f"the hypervisor steals {100 * self.steal_share:.0f}% of the CPU time"
        return f"other processes use {self.other_cores:.2f} cores"


def snapshot(pid: int | None = None, counters: Counters | None = None,
             also: Sequence[int] = ()) -> Snapshot | None:
    """The counters now, or None where they cannot be read; ``also``: processes of this host
    that work for gilbench outside its process tree (their CPU is not noise)."""
    # psutil is imported late, here and in PsutilCounters: the limits above are read by the
    # verdicts in every process, subinterpreters included, and psutil's C extension does not
    # load in a subinterpreter
    import psutil

    counters = counters or COUNTERS
    try:
        busy, steal, total = counters.host()
        me = os.getpid() if pid is None else pid
        own, switches, *procs = counters.own(me, also) if also else counters.own(me)
    except (OSError, ValueError, psutil.Error, NotImplementedError):
        return None
    tick = getattr(counters, "tick_s", 0.0)
    # every CPU's busy counter, and each process's user and (own and reaped) system times
    n = (os.cpu_count() or 1) + 2 * (procs[0] if procs else 1) if tick else 0
    return Snapshot(time.perf_counter(), busy, steal, total, own, switches, n, tick)


def resolution_s(before: Snapshot, after: Snapshot) -> float:
    """How far the counters' whole ticks alone can move other processes' CPU seconds between
    two snapshots: each counter's difference is off by less than a tick, uniformly (variance
    tick²/6), so three standard deviations of their sum. Measured on a 2-vCPU VM with nothing
    else running: windows of 0.15 s around a 2-process pool read up to 29 ms (0.2 cores) of
    "other" CPU that was only rounding; this bound was 35 ms there."""
    n = max(before.n_counters, after.n_counters)
    tick = max(before.tick_s, after.tick_s)
    return 3.0 * tick * math.sqrt(n / 6.0)


#: a round's "other" CPU over the limit but within the counters' rounding is judged over at
#: least this long a window ending with it (``disturbance``'s ``since``): a steady load shows
#: there, rounding does not grow with the window
LONGER_WINDOW_S = 1.0


def _other_s(before: Snapshot, after: Snapshot) -> float:
    return max(0.0, (after.busy_s - before.busy_s) - (after.own_s - before.own_s))


def _beyond_rounding(before: Snapshot, after: Snapshot) -> bool:
    """Other processes' CPU between two snapshots over the limit, by more than rounding."""
    wall = max(after.at_s - before.at_s, 1e-9)
    return _other_s(before, after) > OTHER_CORES_LIMIT * wall + resolution_s(before, after)


def window_start(starts: Sequence[Snapshot], after: Snapshot) -> Snapshot | None:
    """Of the snapshots that began the last rounds (oldest first), the latest that lies at
    least ``LONGER_WINDOW_S`` before ``after`` (else the oldest): where the longer window
    that judges a round within rounding begins."""
    chosen = None
    for start in starts:
        if after.at_s - start.at_s >= LONGER_WINDOW_S or chosen is None:
            chosen = start
    return chosen


def disturbance(before: Snapshot | None, after: Snapshot | None,
                since: Snapshot | None = None) -> Disturbance | None:
    """What disturbed the window between two snapshots (None if either is missing).

    The counters tick (``resolution_s``): a window whose other processes' CPU is over the
    limit, but by less than the rounding, is disturbed only if the longer window from
    ``since`` (an earlier snapshot, e.g. ``window_start``) is over it beyond its rounding:
    a steady load shows there, a rounding error does not."""
    if before is None or after is None:
        return None
    wall = max(after.at_s - before.at_s, 1e-9)
    other_s = _other_s(before, after)
    # never more than the CPUs the counters cover: in a short window their whole ticks can add
    # up to more (0.05 s on a 2-CPU VM beside a busy pool read 2.30 cores)
    other_cores = min(other_s / wall, float(os.cpu_count() or 1))
    total = after.total_s - before.total_s
    steal_share = (after.steal_s - before.steal_s) / total if total > 0 else 0.0
    reasons = []
    over = _beyond_rounding(before, after) or (
        other_cores > OTHER_CORES_LIMIT and since is not None and since.at_s < before.at_s
        and _beyond_rounding(since, after))
    if over:
        reasons.append(f"other processes used {other_cores:.2f} cores (limit "
                       f"{OTHER_CORES_LIMIT:g}, beyond the counters' rounding)")
    if steal_share > STEAL_LIMIT:
        reasons.append(f"the hypervisor stole {100 * steal_share:.0f}% of CPU time "
                       f"(limit {100 * STEAL_LIMIT:.0f}%)")
    return Disturbance(other_cores, steal_share,
                       after.involuntary_switches - before.involuntary_switches,
                       bool(reasons), "; ".join(reasons) or None)


def sample(seconds: float = 1.0, counters: Counters | None = None) -> Disturbance | None:
    """How disturbed the host is right now: one window of ``seconds`` with gilbench idle."""
    before = snapshot(counters=counters)
    time.sleep(seconds)
    return disturbance(before, snapshot(counters=counters))


def measured() -> bool:
    """True when this host's CPU counters can be read (noise is measured)."""
    return snapshot() is not None


# --------------------------------------------------------------------------------------------
# waiting for a quiet host

#: the first window of a wait; each next one is twice as long, up to the longest. Short on
#: purpose: a load in bursts leaves gaps, and only a window shorter than half a gap is sure to
#: fall inside one (measured: with 1.6 s windows, a load of 0.5 s bursts every 1.25 s never
#: let a run see a quiet window). A window costs one read of the counters (a few ms).
FIRST_WAIT_WINDOW_S = 0.1
LONGEST_WAIT_WINDOW_S = 0.3


@dataclass
class QuietWait:
    """The run's budget for waiting until the host is quiet again (``--max-wait``).

    ``wait()`` samples the host in windows that grow from ``FIRST_WAIT_WINDOW_S`` to
    ``LONGEST_WAIT_WINDOW_S`` (backing off, so a long wait costs few samples) until one window
    is quiet or the budget is spent; ``on_wait(disturbance, waited_s)`` is told of each busy
    window (the progress line). ``sample`` and ``clock`` are parameters so tests need no load.
    """

    budget_s: float
    on_wait: Callable[[Disturbance, float], None] = lambda seen, waited_s: None
    sample: Callable[[float], Disturbance | None] = sample
    clock: Callable[[], float] = time.monotonic
    spent_s: float = 0.0
    #: every wait: (seconds waited, quiet at the end, the worst disturbance seen)
    waits: list[tuple[float, bool, float]] = field(default_factory=list)

    @property
    def left_s(self) -> float:
        return max(0.0, self.budget_s - self.spent_s)

    def wait(self) -> bool:
        """Wait for one quiet window; True if the host is quiet now, False if the budget ran
        out first (or the counters cannot be read: nothing to wait for)."""
        started = self.clock()
        window, worst, quiet = FIRST_WAIT_WINDOW_S, 0.0, False
        while True:
            waited = self.clock() - started
            left = self.budget_s - self.spent_s - waited
            if left <= 0:
                break
            seen = self.sample(min(window, left))
            if seen is None:
                break
            if not seen.disturbed:
                quiet = True
                break
            worst = max(worst, seen.other_cores)
            self.on_wait(seen, self.clock() - started)
            window = min(2 * window, LONGEST_WAIT_WINDOW_S)
        waited = self.clock() - started
        self.spent_s += waited
        self.waits.append((waited, quiet, worst))
        return quiet

    def summary(self) -> dict:
        """What the waits came to, for the results' host section."""
        return {"budget_s": self.budget_s, "waited_s": round(self.spent_s, 2),
                "waits": len(self.waits),
                "gave_up": sum(1 for _, quiet, _ in self.waits if not quiet),
                "other_cores_max": round(max((w for _, _, w in self.waits), default=0.0), 3)}


def read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def quietness(load_average: float | None, usable_cores: int,
              window: Disturbance | None) -> tuple[bool, list[str]]:
    """(quiet enough to measure, the observations behind it), like ``pyperf system show``:
    load, other processes' CPU and steal in a short window, CPU frequency governor and turbo."""
    notes, quiet = [], True
    if load_average is not None:
        busy = load_average > 0.5 * usable_cores
        quiet &= not busy
        notes.append(f"load average {load_average:.2f} on {usable_cores} usable cores"
                     + (" (busy: other work is running)" if busy else ""))
    if window is not None:
        quiet &= not window.disturbed
        notes.append(f"other processes used {window.other_cores:.2f} cores, steal "
                     f"{100 * window.steal_share:.1f}% over 1 s"
                     + (f" (disturbed: {window.reason})" if window.disturbed else ""))
    else:
        notes.append("CPU counters not readable here: noise is not measured (nothing tells "
                     "a disturbed round from a quiet one: run on a quiet host)")
    governor = read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if governor is not None:
        notes.append(f"CPU frequency governor {governor}"
                     + ("" if governor == "performance" else
                        " (not 'performance': the clock may change during a run)"))
    no_turbo = read_text("/sys/devices/system/cpu/intel_pstate/no_turbo")
    boost = read_text("/sys/devices/system/cpu/cpufreq/boost")
    if no_turbo is not None or boost is not None:
        on = (no_turbo == "0") if no_turbo is not None else (boost == "1")
        notes.append("turbo boost " + ("on (speeds vary with temperature and load)" if on
                                       else "off"))
    if governor is None and no_turbo is None and boost is None:
        notes.append("CPU frequency settings not readable (a VM usually hides them)")
    return quiet, notes
