"""What every executor shares: the task a worker runs, and the Executor interface.

A task is ``(kernel name, variant name, chunk)``. Workers look the variant up in the registry
themselves, so nothing but names and small tuples of numbers crosses a process boundary, and
every executor runs exactly the same function on exactly the same chunks.

Faults: every executor takes a per-run time limit (``timeout_s``). A run over it raises
``RunTimeout`` after the executor has done what it can about its workers: worker processes are
terminated; a worker *thread* cannot be killed, so a thread running Python code is sent an
asynchronous ``ThreadStopped`` exception, and one blocked in C code is abandoned (it keeps
running until the process exits; ``lingering_threads()`` lists such threads so the command line
can exit without waiting for them). Executors that run chunks in the calling thread (serial,
asyncio) are interrupted by a SIGALRM timer when that thread is the main thread.
``abort()`` stops an executor at once (after a fault or Ctrl-C), never waiting without a bound.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence

from gilbench import gilguard, host, kernels
from gilbench.lifeline import die_with_parent
from gilbench.placement import Placement, pin_process

#: how long a stopped thread gets to unwind, and an aborted worker process to exit, before
#: it is given up on (threads) or killed (processes)
STOP_GRACE_S = 1.0


class RunTimeout(Exception):
    """A run lasted longer than the executor's time limit; the message says what became of
    its workers."""


class GILReenabled(RuntimeError):
    """On a free-threaded build, a worker ran a task with the GIL enabled (an extension that does
    not declare free-threading support turned it back on): its times are not free-threaded."""


class ThreadStopped(BaseException):
    """Raised asynchronously inside a worker thread whose run timed out (a BaseException, so a
    kernel's ``except Exception`` does not swallow it)."""


@dataclass
class RunResult:
    """What one run of a chunk list returns: partials in chunk order and Σ task thread CPU time."""

    partials: list[Any]
    cpu_s: float
    task_cpu_s: list[float] = field(default_factory=list)


@lru_cache(maxsize=None)
def lookup(kernel_name: str, variant_name: str) -> Callable[[tuple], Any]:
    """The variant's function (cached per process)."""
    variant = kernels.get(kernel_name).variant(variant_name)
    if not variant.available:
        raise kernels.VariantUnavailable(f"{kernel_name}/{variant_name}: {variant.reason}")
    return variant.fn  # type: ignore[return-value]


# Threads of this process that are inside timed_task now (thread ident -> Thread), and those
# asked to stop; one lock so that a stop request and the task's end cannot cross.
_task_lock = threading.Lock()
_busy: dict[int, threading.Thread] = {}
_stop_requested: set[int] = set()
_lingering: list[threading.Thread] = []


def _set_async_exc(ident: int, exc_type: type[BaseException] | None) -> bool:
    """Schedule ``exc_type`` in thread ``ident`` (None: cancel a scheduled one); False if the
    interpreter offers no way to (PyPy)."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None or not hasattr(api, "PyThreadState_SetAsyncExc"):
        return False
    arg = ctypes.py_object(exc_type) if exc_type is not None else None
    return api.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), arg) == 1


#: set in worker processes (init_worker_process, the engines' task): their tasks run in the
#: main thread, yet their GIL state decides the cell as much as a worker thread's does
_worker_process = False


def worker_facts() -> dict[str, Any]:
    """What a worker reports about itself: host, pid, interpreter, build and GIL state, and the
    environment variables that steer them (PYTHON_GIL, PYTHON_CPU_COUNT)."""
    check = getattr(sys, "_is_gil_enabled", None)  # 3.13+
    return {
        "host": platform.node(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "free_threaded": host.gil_disabled_build(),
        "gil_enabled": None if check is None else bool(check()),
        "cpu_count": os.cpu_count(),
        "python_gil_env": os.environ.get("PYTHON_GIL"),
        "python_cpu_count_env": os.environ.get("PYTHON_CPU_COUNT"),
    }


def gil_reenabled_reason() -> str | None:
    """Why this worker's times are not free-threaded, or None: the GIL is on in a free-threaded
    build although PYTHON_GIL=1 did not ask for it. Names the module that turned it on where a
    guarded import saw it (``gilguard.culprit``)."""
    if not host.gil_disabled_build() or not host.gil_enabled():
        return None
    if os.environ.get("PYTHON_GIL") == "1":
        return None  # asked for: the run measures a free-threaded build with its GIL on
    culprit = gilguard.culprit()
    if culprit is not None:  # named first: a table cell shows the start of the message
        return (f"importing {culprit} re-enabled the GIL in worker pid {os.getpid()} of a "
                f"free-threaded build (it does not declare free-threading support); fix: "
                f"{gilguard.FIX}")
    return (f"the GIL was re-enabled in worker pid {os.getpid()} of a free-threaded build (an "
            "extension module that does not declare free-threading support was imported); set "
            "PYTHON_GIL=0 to keep it off, or PYTHON_GIL=1 to measure with it on")


def check_gil() -> None:
    """GILReenabled if this worker's GIL was turned back on (see gil_reenabled_reason)."""
    reason = gil_reenabled_reason()
    if reason is not None:
        raise GILReenabled(reason)


def timed_task(kernel_name: str, variant_name: str, chunk: tuple) -> tuple[Any, float]:
    """Run one chunk; returns (partial, CPU seconds this thread spent on it).

    In a worker (a thread other than the main one, or a worker process) on a free-threaded
    build, GILReenabled if the GIL is on: the cell fails with the reason instead of reporting
    a silently serialised time. The calling thread of serial and asyncio runs is not checked:
    its result does not depend on the GIL.
    """
    fn = lookup(kernel_name, variant_name)
    if _worker_process or threading.current_thread() is not threading.main_thread():
        check_gil()  # after lookup(): importing the variant's extension is what re-enables it
    me = threading.get_ident()
    with _task_lock:
        _busy[me] = threading.current_thread()
    try:
        start = time.thread_time()
        partial = fn(chunk)
        return partial, time.thread_time() - start
    finally:
        with _task_lock:
            del _busy[me]
            stop = me in _stop_requested
            _stop_requested.discard(me)
        if stop:
            # the task ended before the scheduled ThreadStopped fired: cancel it, so that it
            # cannot go off later inside the thread pool's own code
            _set_async_exc(me, None)


def stop_task_threads(threads: Iterable[threading.Thread] | None = None,
                      grace_s: float = STOP_GRACE_S) -> tuple[int, int]:
    """Stop worker threads still inside a task; returns (stopped, abandoned).

    ``threads``: the candidates (None: every thread of this process running a task). A thread
    running Python code stops at its next bytecode; one blocked in C code (a sleep, a
    compiled loop) cannot be stopped: it is *abandoned* and listed by ``lingering_threads()``.
    """
    with _task_lock:
        wanted = set(_busy.values()) if threads is None else set(threads)
        targets = [t for t in _busy.values() if t in wanted]
        for t in targets:
            if t.ident is not None and _set_async_exc(t.ident, ThreadStopped):
                _stop_requested.add(t.ident)
    deadline = time.monotonic() + grace_s
    for t in targets:
        while time.monotonic() < deadline:
            with _task_lock:
                if t.ident not in _busy or _busy[t.ident] is not t:
                    break
            time.sleep(0.01)
    with _task_lock:
        stuck = [t for t in targets if t.ident in _busy and _busy[t.ident] is t]
    linger(stuck)
    return len(targets) - len(stuck), len(stuck)


def linger(threads: Iterable[threading.Thread]) -> None:
    """Remember threads left running (an aborted pool's), so the process can exit past them."""
    _lingering.extend(t for t in threads if t.is_alive() and t not in _lingering)


def lingering_threads(wait_s: float = 0.0) -> list[threading.Thread]:
    """Worker threads given up on that are still alive (after waiting up to ``wait_s`` for them).

    Python waits for pool threads at exit, and cannot finalize while a thread holds the GIL in
    C code, so a caller that finds any should end the process with ``os._exit``.
    """
    deadline = time.monotonic() + wait_s
    for t in list(_lingering):
        t.join(max(0.0, deadline - time.monotonic()))
    _lingering[:] = [t for t in _lingering if t.is_alive()]
    return list(_lingering)


def stop_message(stopped: int, abandoned: int) -> str:
    """What became of the threads of a timed-out run, in words."""
    parts = []
    if stopped:
        parts.append(f"{stopped} worker thread{'s' if stopped > 1 else ''} stopped")
    if abandoned:
        parts.append(
            f"{abandoned} worker thread{'s' if abandoned > 1 else ''} could not be stopped "
            f"(blocked outside Python code) and {'were' if abandoned > 1 else 'was'} abandoned: "
            f"{'they keep' if abandoned > 1 else 'it keeps'} running in the background and may "
            "disturb later cells")
    return "; ".join(parts) or "no worker thread was still running"


@contextlib.contextmanager
def alarm(timeout_s: float | None, what: str = "the run") -> Iterator[None]:
    """Raise RunTimeout in the calling thread after ``timeout_s`` (serial and asyncio runs).

    Works in the main thread only (SIGALRM); elsewhere it does nothing and the caller checks
    the time afterwards. C code that holds the GIL is interrupted only when it returns.
    """
    if (timeout_s is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise RunTimeout(f"{what} did not finish within {timeout_s:g} s; it was interrupted")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def init_worker_process(kernel_name: str, size: int, placement: Placement | None = None,
                        worker: Any = None) -> None:
    """First thing in every worker process: its placement, signal dispositions, then
    ``prepare_worker``.

    With a ``placement``, the process pins itself to the CPUs of worker ``worker``: its number,
    or a shared counter (``multiprocessing.Value``) when a pool starts its workers with one
    set of arguments; first, so that the kernel's buffers are built on the CPU that uses them.

    Ctrl-C reaches the whole process group; workers ignore it and let the parent stop them in
    order. SIGTERM gets its default action back, because a forked worker inherits the parent's
    Python handler, which would raise an exception instead of ending the process. And the
    worker dies with its parent (``lifeline``): a gilbench killed by SIGKILL or the OOM killer
    leaves no worker behind.
    """
    global _worker_process
    if placement is not None and placement.active:
        if not isinstance(worker, int):
            with worker.get_lock():
                number, worker.value = worker.value, worker.value + 1
            worker = number
        pin_process(placement.cpus_for(worker))
    die_with_parent()
    _worker_process = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    prepare_worker(kernel_name, size)


def prepare_worker(kernel_name: str, size: int) -> None:
    """Per-process set-up before timing: build the kernel's buffers (run in worker initialisers)."""
    kernel = kernels.get(kernel_name)
    if kernel.prepare is not None:
        kernel.prepare(size)


@dataclass(frozen=True)
class EngineOption:
    """A run option an executor adds to every front end (``gilbench run``, ``gilbench try``,
    ``pytest bench/``; ``run.options`` declares it with the others): the option ``--FLAG``
    (``dest`` with dashes), its help, and the environment variable that gives its default."""

    dest: str
    metavar: str
    help: str
    env: str | None = None

    @property
    def flag(self) -> str:
        return self.dest.replace("_", "-")

    def value(self, given: str | None) -> str | None:
        """The value in effect: the option if given, else the environment variable's."""
        return given or (os.environ.get(self.env) if self.env else None) or None


def collect(results: Sequence[tuple[Any, float]]) -> RunResult:
    """RunResult from per-task (partial, cpu) pairs in chunk order."""
    cpu = [c for _, c in results]
    return RunResult([p for p, _ in results], sum(cpu), cpu)


class Executor:
    """Runs a list of chunks on ``workers`` workers; one subclass per way of running them.

    Life cycle: ``start()`` once (pools are created there, so the first run is *cold*),
    ``run(chunks)`` many times (*warm*), ``close()`` once. Executors are context managers.
    After a failed run, a timeout or an interrupt, ``abort()`` replaces ``close()``; both must
    cope with a ``start()`` that did not finish. ``timeout_s`` limits each run (None: no limit).
    """

    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str] = ""
    uses_processes: ClassVar[bool] = False
    #: start() creates workers that outlive a run (a pool, a cluster), so the cold run minus
    #: the warm median is their start-up cost (process executors always do)
    keeps_workers: ClassVar[bool] = False
    #: the runs happen in the calling thread alone (serial, asyncio): one CPU when pinned
    one_thread: ClassVar[bool] = False
    #: the run option this executor needs (the ``dask`` executor: its scheduler's address)
    option: ClassVar[EngineOption | None] = None

    def __init__(self, kernel_name: str, variant_name: str, workers: int, size: int,
                 start_method: str | None = None, timeout_s: float | None = None,
                 placement: Placement | None = None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.kernel_name = kernel_name
        self.variant_name = variant_name
        self.workers = workers
        self.size = size
        self.start_method = start_method if self.uses_processes else None
        self.timeout_s = timeout_s
        #: where the workers run (``gilbench.placement``); None or inactive: the OS decides
        self.placement = placement if placement is not None and placement.active else None

    def cpus_for(self, worker: int) -> frozenset[int] | None:
        """The CPUs worker ``worker`` pins itself to (None: no placement)."""
        return None if self.placement is None else self.placement.cpus_for(worker)

    @classmethod
    def placement_reason(cls) -> str:
        """Empty if this executor pins its workers when asked (``--pin``, ``--core-type``),
        else why it cannot."""
        return ""

    def deadline(self) -> float | None:
        """time.monotonic() by which a run starting now must end (None: no limit)."""
        return None if self.timeout_s is None else time.monotonic() + self.timeout_s

    @staticmethod
    def remaining(deadline: float | None) -> float | None:
        """Seconds left until ``deadline`` (never negative; None: no limit)."""
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    @classmethod
    def unavailable_reason(cls) -> str:
        """Empty if this executor can run in this interpreter, else why not."""
        return ""

    @classmethod
    def check_option(cls, executor_names: Sequence[str], value: str | None) -> None:
        """UsageError if ``option``'s value (None: not given) does not suit a run of
        ``executor_names``; checked with the other run options, before anything runs."""

    @classmethod
    def prepare_option(cls, value: str) -> list[dict[str, Any]]:
        """Make the engine ready for a run with ``option`` set to ``value``, before anything
        is measured; returns its workers as facts (UsageError if it cannot be done)."""
        return []

    @classmethod
    def variant_unavailable_reason(cls, kernel_name: str, variant_name: str) -> str:
        """Empty if this (available) executor can run the variant here, else why not: the
        variant works in this interpreter but cannot load where this executor runs it (e.g.
        NumPy in a subinterpreter). Its cells are then unavailable, not failed."""
        return ""

    def facts(self) -> dict[str, Any]:
        """Extra facts about the engine and its workers for the cell (e.g. the version of the
        library, the workers' hosts and GIL state); empty by default. Valid after start()."""
        return {}

    def start(self) -> None:
        """Create pools/workers (no-op by default)."""

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        raise NotImplementedError

    def close(self) -> None:
        """Stop every worker this executor started."""

    def abort(self) -> None:
        """Stop every worker now, without waiting for running tasks (bounded in time)."""
        self.close()

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
