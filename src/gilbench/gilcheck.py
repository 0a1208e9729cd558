"""Does a call let other Python threads run? Measured directly, not inferred from speedups.

``check_gil(fn, *args, **kwargs)`` calls ``fn(*args, **kwargs)`` over and over in a background
thread while the calling thread counts the iterations of a pure-Python loop for a fixed window;
the same loop runs alone for a window of the same length before each one. The ratio of the two
rates is the **fraction** of its pace the caller kept: the fraction of the call's run during which
it let another thread progress.

- ``releases`` (fraction above ``RELEASES_ABOVE``): the call runs outside the GIL, e.g. a C loop
  inside ``Py_BEGIN_ALLOW_THREADS`` / Cython ``with nogil:``, ``time.sleep``, zlib on big buffers.
- ``holds`` (below ``HOLDS_BELOW``): pure Python, or C code that keeps the GIL. Pure Python hands
  the GIL over every switch interval, so the loop still runs in alternate turns (about 0.5); one
  long C call that keeps the GIL freezes it (0.0). Both keep the GIL, so both are ``holds``.
- ``partly``: in between, e.g. a call that drops the GIL for only part of its run.
- ``undecided``, with the ``reason``: one usable core (a call that releases the GIL and one that
  shares it look alike when both threads share one CPU), the interval straddles a boundary, the
  host was too busy, the call is too short to judge, or the interpreter has no GIL.

Noise: on a shared host another process can take the loop's core, which lowers its pace exactly
as GIL sharing does. On Linux the rate therefore counts only the time the OS let the loop run:
the window minus the thread's run-queue delay (``/proc/thread-self/schedstat``: runnable but
waiting for a CPU). Waiting for the GIL is a sleep, not run-queue time, so it still counts
against the loop. A window in which either thread waited for a CPU more than ``BUSY_FRACTION``
of the time measures the host, not the GIL: it is discarded and redone.

Usable in a user's own test::

    def test_my_c_call_releases_the_gil():
        result = gilbench.check_gil(mylib.compress, big_buffer)
        if result.verdict == "undecided":
            pytest.skip(result.reason)
        assert result.verdict == "releases", result
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Literal

from gilbench import stats

Verdict = Literal["releases", "holds", "partly", "undecided"]
#: Why a check is undecided: the first three are the host's doing (one usable core, a busy
#: host, no GIL to release), the others the call's (too short, or on a boundary).
Cause = Literal["one-core", "busy", "no-gil", "too-short", "straddles", "disagree"]
#: The causes that say the host, not the call, cannot answer (a test skips on them).
HOST_CAUSES: frozenset[str] = frozenset({"one-core", "busy", "no-gil"})

#: Fraction of the caller's solo pace above which a call releases the GIL. Measured here:
#: nogil C loops, zlib, NumPy and sleep 0.83-1.1, idle or moderately loaded.
RELEASES_ABOVE = 0.75
#: Below this a call keeps the GIL: GIL sharing by pure Python (or GIL-holding C calls cut into
#: short pieces) measured 0.2-0.6, one long GIL-holding C call 0.0.
HOLDS_BELOW = 0.6
#: A window in which either thread waited for a CPU more than this fraction of it is discarded.
BUSY_FRACTION = 0.6
#: Calls shorter than this are timer and hand-off noise more than work: undecided.
MIN_CALL_S = 20e-6
#: Coverage of the median's interval (order statistics of the windows' fractions).
CONFIDENCE = 0.75
#: Let the background thread get into its first call before the window opens.
LEAD_S = 0.02

_SCHEDSTAT = Path("/proc/thread-self/schedstat")


@dataclass(frozen=True)
class GilCheck:
    """What ``check_gil`` measured, and what it concludes.

    ``fraction`` is the median of the usable windows' fractions (None if there were none);
    ``interval`` is a distribution-free interval for that median (order statistics, at least
    ``CONFIDENCE``): the range of 3-6 windows, the range without the extremes from 7 on.
    """

    verdict: Verdict
    reason: str
    fraction: float | None
    interval: tuple[float, float] | None
    fractions: tuple[float, ...]  # one per usable window, in the order measured
    call_s: float  # wall seconds of one call alone
    solo_rate: float  # the loop's iterations per second alone (best window)
    busy_windows: int  # windows discarded because a thread waited for a CPU
    usable_cores: int
    corrected: bool  # whether run-queue delay was known (Linux) and taken out
    cause: Cause | None = None  # why it is undecided (None when decided)

    @property
    def low(self) -> float | None:
        """The interval's low end (None when nothing was measured)."""
        return None if self.interval is None else self.interval[0]

    @property
    def high(self) -> float | None:
        """The interval's high end (None when nothing was measured)."""
        return None if self.interval is None else self.interval[1]

    def __str__(self) -> str:
        if self.fraction is None or self.interval is None:
            return f"{self.verdict}: {self.reason}"
        lo, hi = self.interval
        return (f"{self.verdict}: kept {self.fraction:.0%} of its pace beside the call "
                f"({lo:.0%}-{hi:.0%} over {len(self.fractions)} windows); {self.reason}")


def run_delay_s(native_id: int | None = None) -> float | None:
    """Seconds a thread (default: the calling one) has spent runnable but waiting for a CPU;
    None off Linux or once the thread has exited."""
    with _RunDelay(native_id) as reader:
        return reader.read()


class _RunDelay:
    """A thread's run-queue delay, read again and again from a file opened once: one system
    call a reading (``os.pread``). Each system call gives the GIL away, and beside a call that
    holds the GIL each give-away costs the reading thread that whole call: ``Path.read_text``'s
    six or so made a window beside a 0.15 s GIL-holding call last about 2 s."""

    def __init__(self, native_id: int | None = None) -> None:
        path = (_SCHEDSTAT if native_id is None
                else Path(f"/proc/self/task/{native_id}/schedstat"))
        try:
            self.fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:  # not Linux, or the thread has exited
            self.fd = None

    def read(self) -> float | None:
        if self.fd is None:
            return None
        try:
            return int(os.pread(self.fd, 128, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def __enter__(self) -> _RunDelay:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _delay(before: float | None, after: float | None) -> float:
    return 0.0 if before is None or after is None else max(0.0, after - before)


def _spin(until: float) -> int:
    """Loop iterations until ``perf_counter()`` reaches ``until``: pure bytecode and one C call
    that never drops the GIL, so it advances only while this thread holds the GIL."""
    n = 0
    while perf_counter() < until:
        n += 1
    return n


@dataclass(frozen=True)
class _Window:
    iterations: int
    elapsed_s: float
    run_delay_s: float
    background_delay_s: float = 0.0

    def busy(self, window_s: float) -> bool:
        return max(self.run_delay_s, self.background_delay_s) > BUSY_FRACTION * window_s

    def rate(self, window_s: float) -> float:
        """Iterations per second of the time the OS let the loop's thread run."""
        return self.iterations / max(self.elapsed_s - self.run_delay_s, window_s / 10)


def _solo_window(window_s: float) -> _Window:
    with _RunDelay() as mine:
        delay0, t0 = mine.read(), perf_counter()
        n = _spin(t0 + window_s)
        return _Window(n, perf_counter() - t0, _delay(delay0, mine.read()))


def _overlap_window(call: Callable[[], Any], window_s: float) -> _Window:
    """Call ``call`` repeatedly in a thread; count the loop's iterations in a fixed window.

    Beside a call that holds the GIL, every system call of this thread's bookkeeping waits for
    the call to end: the readings are one system call each, and the call's thread is told to
    stop before the window's closing readings, so it gives the GIL back instead of starting
    another call."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                call()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    try:  # a daemon: after a Ctrl-C in the window the call's thread is told to stop but not
        # waited for (the call may run long), and it must not keep the process alive
        thread = threading.Thread(target=work, name="gilcheck-call", daemon=True)
    except RuntimeError:  # an isolated subinterpreter allows no daemon threads (its GIL check)
        thread = threading.Thread(target=work, name="gilcheck-call")
    with _RunDelay() as mine:
        t0 = perf_counter()
        thread.start()
        with _RunDelay(thread.native_id) as theirs:
            try:
                # The window is fixed in wall-clock time from before the start, so time the
                # loop spends unable to get the GIL back (after start() or this sleep) counts
                # against it.
                time.sleep(LEAD_S)
                begin = t0 + LEAD_S
                bg0, delay0 = theirs.read(), mine.read()
                iterations = _spin(begin + window_s)
                elapsed = perf_counter() - begin
            finally:
                stop.set()  # not joined on a Ctrl-C: the call may run long
            background = _delay(bg0, theirs.read())
            delay = _delay(delay0, mine.read())
    thread.join()
    if errors:
        raise errors[0]
    return _Window(iterations, elapsed, delay, background)


def _usable_cores() -> int:
    # late, for start-up: host brings subprocess, platform, sysconfig, gilguard and verdicts
    # (~13 ms) into every `import gilbench` and the pytest plugin, which need it only here
    from gilbench import host

    return host.usable_cores()


def _gil_enabled() -> bool:
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def classify(interval: tuple[float, float]) -> Verdict | None:
    """The verdict an interval of fractions supports, or None if it straddles a boundary."""
    lo, hi = interval
    if lo > RELEASES_ABOVE:
        return "releases"
    if hi < HOLDS_BELOW:
        return "holds"
    if lo >= HOLDS_BELOW and hi <= RELEASES_ABOVE:
        return "partly"
    return None


def measure_gil(fn: Callable[..., Any], args: tuple = (), kwargs: dict[str, Any] | None = None,
                *, windows: int = 7, window_s: float = 0.08, max_windows: int | None = None,
                cores: int | None = None) -> GilCheck:
    """``check_gil`` with its settings: ``windows`` usable windows of ``window_s`` seconds each,
    then more, one at a time, while the interval still straddles a boundary (up to 3x
    ``windows`` usable ones; at most ``max_windows`` tried in all, default 5x ``windows``), and
    ``cores`` usable cores (default: measured; pass 1 to see what a one-core host answers)."""
    if windows < 1 or window_s <= 0:
        raise ValueError("windows must be >= 1 and window_s > 0")
    kwargs = kwargs or {}
    cores = _usable_cores() if cores is None else cores
    corrected = run_delay_s() is not None

    def call() -> Any:
        return fn(*args, **kwargs)

    t0 = perf_counter()
    call()  # warm-up, and how long one call takes alone
    call_s = perf_counter() - t0

    def undecided(cause: Cause, reason: str, fractions: tuple[float, ...] = (),
                  solo: float = 0.0, busy: int = 0) -> GilCheck:
        interval = median_interval(fractions) if fractions else None
        fraction = _median(fractions) if fractions else None
        return GilCheck("undecided", reason, fraction, interval, fractions, call_s, solo, busy,
                        cores, corrected, cause)

    if not _gil_enabled():
        return undecided("no-gil",
                         "the GIL is disabled in this interpreter: there is nothing to release")
    if cores < 2:
        return undecided("one-core", "one usable core: a call that releases the GIL and one "
                         "that shares it both halve the other thread's pace; needs 2 cores")
    if call_s < MIN_CALL_S:
        # both in us, not units.fmt_time: one unit so the call compares with the floor
        return undecided("too-short", f"too short to judge: one call lasts "
                         f"{call_s * 1e6:.1f} us, under {MIN_CALL_S * 1e6:.0f} us; "
                         "give it more work per call")

    solo = 0.0
    fractions: list[float] = []
    busy = 0
    for _ in range(max_windows or 5 * windows):
        alone = _solo_window(window_s)
        if not alone.busy(window_s):  # the best solo window: noise only ever slows the loop
            solo = max(solo, alone.rate(window_s))
        shared = _overlap_window(call, window_s)
        if shared.iterations == 0 and not shared.busy(window_s):
            fractions.append(0.0)  # frozen: no solo rate needed
        elif shared.busy(window_s) or solo == 0.0:
            busy += 1
            continue
        else:
            fractions.append(shared.rate(window_s) / solo)
        # sequential, as the speedups' rounds: stop once the interval fits one verdict
        if len(fractions) >= 3 * windows or (
                len(fractions) >= windows and classify(median_interval(tuple(fractions)))):
            break
    measured = tuple(fractions)
    if len(measured) < min(windows, 3):
        return undecided("busy", f"host too busy: {busy} window(s) had a thread waiting for a "
                         f"CPU over {BUSY_FRACTION:.0%} of the time", measured, solo, busy)
    interval = median_interval(measured)
    verdict = classify(interval)
    if verdict is None:
        return undecided("straddles", f"straddles a boundary: the interval "
                         f"{interval[0]:.2f}-{interval[1]:.2f} crosses {HOLDS_BELOW} (holds below) "
                         f"or {RELEASES_ABOVE} (releases above)", measured, solo, busy)
    rule = {"releases": f"interval above {RELEASES_ABOVE}",
            "holds": f"interval below {HOLDS_BELOW}",
            "partly": f"interval between {HOLDS_BELOW} and {RELEASES_ABOVE}"}[verdict]
    return GilCheck(verdict, rule, _median(measured), interval, measured, call_s, solo, busy,
                    cores, corrected)


def median_interval(values: tuple[float, ...], confidence: float = CONFIDENCE
                    ) -> tuple[float, float]:
    """The order-statistic interval of the median of ``values`` (``stats.median_interval``)
    at this check's ``confidence``."""
    return stats.median_interval(values, confidence)


def _median(values: tuple[float, ...]) -> float:
    # statistics, not NumPy: the check also runs in subinterpreters (numpy#24755)
    return statistics.median(values) if values else math.nan


def check_gil(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
    """How much of its run ``fn(*args, **kwargs)`` lets another thread progress.

    Calls it repeatedly in a background thread (so it must be safe to call again and again)
    for seven windows of 0.08 s (about 1-2 s in all; up to 21 windows while the answer is
    still open; beside a call that holds the GIL, a window lasts about five calls: 0.15 s
    calls took 6.5-7 s a check on a 2-vCPU AMD EPYC VM); returns a ``GilCheck`` whose
    ``verdict`` is ``releases``, ``holds``, ``partly`` or ``undecided`` (see ``reason``). For
    other settings, use ``measure_gil``.
    """
    return measure_gil(fn, args, kwargs)


__all__ = ["Cause", "GilCheck", "HOST_CAUSES", "Verdict", "check_gil", "classify", "measure_gil",
           "run_delay_s", "median_interval", "HOLDS_BELOW", "RELEASES_ABOVE", "CONFIDENCE",
           "BUSY_FRACTION", "MIN_CALL_S"]
