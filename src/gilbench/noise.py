"""Noise accounting: what else used the host's CPUs while a round was measured.

A round of paired measurements is *disturbed* when, during it, other processes (not gilbench
and not the workers it started) used a noticeable share of a core, or the hypervisor stole
time from this VM. Read from Linux's ``/proc`` (``/proc/stat`` for the whole host's busy and
steal time, ``/proc/PID/stat`` for gilbench's own process tree), like ``pyperf system show``
reads the host's state. The root is a parameter, so tests read fixture files instead.

Off Linux the counters are absent: ``snapshot`` returns None and no round is ever called
disturbed (the report then says noise was not measured).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

#: a round is disturbed when other processes used more than this many cores on average
OTHER_CORES_LIMIT = 0.2
#: ... or the hypervisor stole more than this share of the host's CPU time
STEAL_LIMIT = 0.05


@dataclass(frozen=True)
class Snapshot:
    """CPU counters at one moment (clock ticks, see ``os.sysconf('SC_CLK_TCK')``)."""

    at_s: float
    busy_ticks: int  # every CPU's non-idle time, steal excluded
    steal_ticks: int
    total_ticks: int  # busy + idle + iowait + steal
    own_ticks: int  # gilbench and its descendants (plus reaped children)
    involuntary_switches: int  # gilbench's own threads, preempted


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


def _stat_fields(text: str) -> list[str]:
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return text[text.rindex(")") + 2:].split()


def read_host_ticks(proc: str | Path = "/proc") -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks summed over every CPU, from ``proc/stat``."""
    with open(Path(proc) / "stat") as f:
        first = f.readline().split()
    if not first or first[0] != "cpu":
        raise ValueError(f"{proc}/stat: no aggregate 'cpu' line")
    values = [int(v) for v in first[1:]]
    values += [0] * (8 - len(values))
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    busy = user + nice + system + irq + softirq  # guest time is already inside user
    return busy, steal, busy + idle + iowait + steal


def read_tree_ticks(pid: int, proc: str | Path = "/proc") -> int:
    """CPU ticks of process ``pid`` and all its living descendants, plus the children it has
    already reaped (``cutime``/``cstime``), from ``proc/PID/stat``."""
    root = Path(proc)
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    reaped = 0
    for entry in root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields((entry / "stat").read_text())
        except (OSError, ValueError):
            continue  # the process ended while we looked
        p = int(entry.name)
        parents[p] = int(fields[1])
        ticks[p] = int(fields[11]) + int(fields[12])  # utime + stime
        if p == pid:
            reaped = int(fields[13]) + int(fields[14])  # cutime + cstime
    children: dict[int, list[int]] = {}
    for p, parent in parents.items():
        children.setdefault(parent, []).append(p)
    total, todo = reaped, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo.extend(children.get(p, ()))
    return total


def snapshot(pid: int | None = None, proc: str | Path = "/proc") -> Snapshot | None:
    """The counters now, or None where ``/proc`` is not readable (not Linux)."""
    try:
        busy, steal, total = read_host_ticks(proc)
        own = read_tree_ticks(os.getpid() if pid is None else pid, proc)
    except (OSError, ValueError):
        return None
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw
    return Snapshot(time.perf_counter(), busy, steal, total, own, switches)


def disturbance(before: Snapshot | None, after: Snapshot | None,
                ticks_per_s: float | None = None) -> Disturbance | None:
    """What disturbed the window between two snapshots (None if either is missing)."""
    if before is None or after is None:
        return None
    hz = ticks_per_s or os.sysconf("SC_CLK_TCK")
    wall = max(after.at_s - before.at_s, 1e-9)
    other_ticks = max(0, (after.busy_ticks - before.busy_ticks)
                      - (after.own_ticks - before.own_ticks))
    other_cores = other_ticks / hz / wall
    total = after.total_ticks - before.total_ticks
    steal_share = (after.steal_ticks - before.steal_ticks) / total if total > 0 else 0.0
    reasons = []
    if other_cores > OTHER_CORES_LIMIT:
        reasons.append(f"other processes used {other_cores:.2f} cores "
                       f"(limit {OTHER_CORES_LIMIT:g})")
    if steal_share > STEAL_LIMIT:
        reasons.append(f"the hypervisor stole {100 * steal_share:.0f}% of CPU time "
                       f"(limit {100 * STEAL_LIMIT:.0f}%)")
    return Disturbance(other_cores, steal_share,
                       after.involuntary_switches - before.involuntary_switches,
                       bool(reasons), "; ".join(reasons) or None)


def sample(seconds: float = 1.0, proc: str | Path = "/proc") -> Disturbance | None:
    """How disturbed the host is right now: one window of ``seconds`` with gilbench idle."""
    before = snapshot(proc=proc)
    time.sleep(seconds)
    return disturbance(before, snapshot(proc=proc))


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
        notes.append("CPU counters not readable here: noise is not measured")
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
