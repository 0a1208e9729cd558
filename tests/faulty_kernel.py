"""Fault-injection kernels for the tests (never shipped: registered through the environment).

    GILBENCH_EXTRA_KERNELS="fault-segfault=faulty_kernel:SEGFAULT,..."   (see ``extra_kernels``)

Each kernel has one variant, ``python``, that sums the integers of its chunk -- correctly,
except where the fault is armed, where it does its one thing wrong:

- ``fault-raise``    raises RuntimeError
- ``fault-segfault`` a real segmentation fault (reads address 0 through ctypes)
- ``fault-exit``     ``os._exit(3)``
- ``fault-kill``     SIGKILL to itself (what the kernel's OOM killer does)
- ``fault-hang``     a pure-Python loop (a thread running it can be stopped): busy in threads,
                     napping 1 ms a turn in worker processes
- ``fault-block``    ``time.sleep`` (blocked in C: a thread in it cannot be stopped)

Where the fault is armed: the crashes only ever in a worker *process* (in gilbench's own process
they would take the test runner down with them). The others, by default, in worker processes
and in non-main threads -- so calibration and the serial baseline work and only the cells of
the executors fail; with ``FAULTY_KERNEL_WHERE=everywhere`` also in the main thread.
Hangs end by themselves after ``FAULTY_KERNEL_HANG_S`` seconds (default 60), so that nothing
a failed test leaves behind runs for long.

At the end: helpers that read the process table (no psutil), to check that no worker process
outlives a test.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time

from gilbench.kernels import Kernel, Variant, even_ranges

WHERE_ENV = "FAULTY_KERNEL_WHERE"
HANG_ENV = "FAULTY_KERNEL_HANG_S"

FAULTS = ("raise", "segfault", "exit", "kill", "hang", "block")
CRASHES = ("segfault", "exit", "kill")


def extra_kernels(*faults: str) -> str:
    """The GILBENCH_EXTRA_KERNELS value registering the kernels of ``faults`` (default: all)."""
    return ",".join(f"fault-{f}=faulty_kernel:{f.upper()}" for f in (faults or FAULTS))


def _in_worker_process() -> bool:
    return multiprocessing.parent_process() is not None


def _armed(fault: str) -> bool:
    if _in_worker_process():
        return True
    if fault in CRASHES:
        return False
    where = os.environ.get(WHERE_ENV, "workers")
    return where == "everywhere" or threading.current_thread() is not threading.main_thread()


def _hang_s() -> float:
    return float(os.environ.get(HANG_ENV, "60"))


def _fault(fault: str) -> None:
    if fault == "raise":
        raise RuntimeError("injected fault: the variant raised")
    if fault == "segfault":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    elif fault == "exit":
        os._exit(3)
    elif fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "hang":
        # In a worker process the loop naps (1 ms a turn): stopping a process does not depend on
        # what it runs, and busy, a test's hanging workers kept both CPUs from the other tests
        # (2 s a worker). A thread spins: it must take the GIL from the one that stops it.
        nap = 0.001 if _in_worker_process() else 0.0
        end = time.monotonic() + _hang_s()
        while time.monotonic() < end:
            if nap:
                time.sleep(nap)
    elif fault == "block":
        time.sleep(_hang_s())


def split(size: int, n_chunks: int) -> list[tuple[int, int]]:
    """Chunks ``(lo, hi)``: contiguous ranges of 0..size."""
    return list(even_ranges(0, size, n_chunks))


def _make(fault: str) -> Kernel:
    def faulty_sum(chunk: tuple[int, int]) -> int:
        if _armed(fault):
            _fault(fault)
        lo, hi = chunk
        return sum(range(lo, hi))

    faulty_sum.__name__ = f"sum_{fault}"
    return Kernel(
        name=f"fault-{fault}",
        description=f"test only: sums integers, except that it injects the fault {fault!r}",
        kind="cpu",
        unit="numbers",
        default_size=10_000,
        verify_size=1_000,
        split=split,
        reduce=sum,
        variants=(Variant("python", faulty_sum, releases_gil=False,
                          description=f"sum, or {fault} where armed"),),
    )


RAISE = _make("raise")
SEGFAULT = _make("segfault")
EXIT = _make("exit")
KILL = _make("kill")
HANG = _make("hang")
BLOCK = _make("block")


# --------------------------------------------------------------------- process checks for tests
# psutil is not a dependency, and /proc/PID/task/*/children is not on every kernel: read the
# process table from /proc/*/stat and /proc/*/environ (Linux).

def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and ')'
    return fields[0], int(fields[1])


def parent(pid: int) -> int | None:
    """The parent pid of a process (None if it is gone)."""
    st = _stat(pid)
    return None if st is None else st[1]


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def live_descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (children, their children, ...) that are running; zombies,
    already dead, are left out. (Workers started by a forkserver are the forkserver's
    children, so a direct-children check would miss them.)"""
    children: dict[int, list[int]] = {}
    for p in _pids():
        st = _stat(p)
        if st is not None and st[0] != "Z":
            children.setdefault(st[1], []).append(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ("" if it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def marked_processes(marker: str) -> dict[int, str]:
    """Live processes whose environment holds ``marker`` (a KEY=VALUE string): every
    descendant of a process started with it, wherever it was re-parented; pid -> command line."""
    needle = marker.encode()
    found = {}
    for p in _pids():
        try:
            with open(f"/proc/{p}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        st = _stat(p)
        if needle in env.split(b"\0") and st is not None and st[0] != "Z":
            found[p] = cmdline(p)
    return found


def wait_until_gone(probe, timeout_s: float = 5.0) -> object:
    """Call ``probe()`` until it returns something empty or ``timeout_s`` passes; returns the
    last result (empty: all gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = probe()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
