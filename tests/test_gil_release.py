"""Which variants let other Python threads run: measured, not assumed, with the public
``gilbench.check_gil`` (``gilbench.gilcheck``: the method, the noise correction and the bounds
are documented there).

Each kernel variant runs on one chunk calibrated to last about ``CALL_S`` alone
(``FROZEN_CALL_S`` for the twins that hold the GIL for a whole call); the check calls it
repeatedly in a background thread while this thread counts its own pure-Python progress. A
check the host cannot decide (a thread kept waiting for a CPU, an interval across a boundary)
skips with its reason rather than passing or failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any, Callable

import pytest

import gilbench
from gilbench import gilcheck, host, kernels
from gilbench.gilcheck import GilCheck, measure_gil
from gilbench.kernels import Variant, calibrated_chunk, check_declared
from gilbench.kernels import primes as primes_mod
from gilbench.kernels._declared import CALL_S

# On a free-threaded build with the GIL off there is no GIL to hold or release: every variant
# lets other threads run, so these claims are about the default build only.
pytestmark = pytest.mark.skipif(not host.gil_enabled(),
                                reason="the GIL is disabled in this interpreter: nothing to release")

# Releasing and sharing variants are checked as `gilbench run` checks them (check_declared): calls
# of CALL_S (0.02 s) in windows of WINDOW_S; the verdicts are those of 0.15 s calls in 0.08 s
# windows, in under half the time.
WINDOW_S = 0.04
# "Frozen" needs each window to lie inside one call: the window opens gilcheck.LEAD_S (0.02 s)
# after the call's thread starts, so a call of FROZEN_CALL_S outlasts the window's end by 0.02 s
# (1.5x the 0.04 s to it, the margin 0.15 s calls had over 0.02 + 0.08 s windows).
# A call holding the GIL keeps the measuring thread waiting for it to end, and often for the next
# one: short calls keep that wait short (0.15 s calls in 0.08 s windows take 6.5-7 s a check).
FROZEN_CALL_S = 0.06
FROZEN_WINDOW_S = 0.02
# One C call holding the GIL for the whole window leaves the loop no bytecode at all: measured
# 0.00 nearly every window; the bound allows for the hand-over between two calls.
FROZEN_BELOW = 0.2
# Three windows without a single iteration are the evidence (their interval is 0-0, "holds");
# more add only time: a window beside a call that holds the GIL lasts about five calls, since
# the measuring thread gives the GIL away at each system call of its bookkeeping (see
# test_a_window_beside_a_gil_holding_call_costs_few_calls).
FROZEN_WINDOWS = 3


def skip_if_undecided(result: GilCheck, what: str) -> None:
    if result.verdict == "undecided":
        pytest.skip(f"{what}: {result.reason}")


def check(kernel_variant: Any, expected: str,
          two_full_cores: Callable[[str], None] | None = None) -> None:
    """Measure the variant on a calibrated chunk; assert the verdict is ``expected``
    ("releases", "holds", or "frozen": holds, and no progress at all) and agrees with the
    variant's ``releases_gil`` declaration."""
    kernel, variant = kernel_variant
    call_s, window_s = (FROZEN_CALL_S, FROZEN_WINDOW_S) if expected == "frozen" else (CALL_S,
                                                                                     WINDOW_S)
    assert expected != "frozen" or window_s + gilcheck.LEAD_S < call_s
    chunk = calibrated_chunk(kernel, variant, call_s)
    windows = FROZEN_WINDOWS if expected == "frozen" else 7
    result = measure_gil(variant, (chunk,), windows=windows, window_s=window_s)
    # "releases" is one-sided evidence: a call that holds the GIL cannot leave another thread
    # 75% of its pace, while a releasing one reads less when the second CPU is shared at that
    # moment (2-vCPU VMs): a releasing variant gets two more readings before it is judged
    for _ in range(2 if variant.releases_gil else 0):
        if result.verdict == "releases":
            break
        result = measure_gil(variant, (chunk,), window_s=window_s)
    skip_if_undecided(result, kernel_variant.id)
    if variant.releases_gil and result.verdict != "releases" and two_full_cores is not None:
        two_full_cores(f"{kernel_variant.id} read {result.verdict}")
    assert (result.verdict == "releases") == variant.releases_gil, (
        f"{kernel_variant.id} declares releases_gil={variant.releases_gil}; measured {result}")
    if expected == "frozen":
        assert result.verdict == "holds" and result.fraction is not None
        assert result.fraction < FROZEN_BELOW, f"{kernel_variant.id}: {result}"
    else:
        assert result.verdict == expected, f"{kernel_variant.id}: {result}"


# --- CPU kernels: need a second core for the two threads to run at once ----------------------

RELEASED = [
    "primes-cython-nogil",
    "mandelbrot-cython-nogil",
    "montecarlo-cython-nogil",
    "stream-cython-nogil",
    "checksum-cython-nogil",
    "checksum-stdlib",  # zlib.adler32 on 1 MiB slices
    "montecarlo-numpy",  # ufuncs over 2**20-element arrays
    "stream-numpy",  # sums over 4 Mi-element slices
    "mandelbrot-numpy",  # whole-array ufuncs per iteration over the chunk's rows
]
# one C call holds the GIL for the whole window
FROZEN = ["primes-cython-gil", "mandelbrot-cython-gil", "montecarlo-cython-gil",
          "stream-cython-gil"]
# the GIL changes hands every switch interval: between bytecodes (python) or between the
# compiled calls, one per 1 MiB slice of the buffer (checksum's cython-gil wrapper)
SHARED = ["primes-python", "mandelbrot-python", "montecarlo-python", "stream-python",
          "checksum-python", "checksum-cython-gil"]
# Together with the waiting kernels below: every variant of every kernel, each measured once
# (`gilbench verify`'s tests stand its GIL checks in; test_cli_info_verify.py).


@pytest.mark.slow
@pytest.mark.needs_cores
@pytest.mark.parametrize("kernel_variant", RELEASED, indirect=True)
def test_variant_releases_the_gil(kernel_variant, two_full_cores) -> None:
    check(kernel_variant, "releases", two_full_cores)


@pytest.mark.slow
@pytest.mark.needs_cores
@pytest.mark.parametrize("kernel_variant", FROZEN, indirect=True)
def test_compiled_loop_holding_the_gil_freezes_other_threads(kernel_variant) -> None:
    check(kernel_variant, "frozen")


@pytest.mark.slow
@pytest.mark.needs_cores
@pytest.mark.parametrize("kernel_variant", SHARED, indirect=True)
def test_variant_shares_the_gil(kernel_variant) -> None:
    check(kernel_variant, "holds")


def test_every_variant_of_every_kernel_has_its_gil_measured_here() -> None:
    # the lists above and the waiting ones below, once each: a new variant needs a line here
    # (`gilbench verify`'s own tests do not measure)
    listed = RELEASED + FROZEN + SHARED + WAITING_RELEASED + WAITING_FROZEN
    assert sorted(listed) == sorted(f"{k.name}-{v.name}" for k in kernels.all_kernels()
                                    for v in k.variants)


# --- sleep and echo ----------------------------------------------------------------------------
# Waiting needs no CPU, but check_gil answers "undecided" on one usable core whatever the call.

WAITING_RELEASED = ["sleep-python", "sleep-cython-nogil", "echo-python"]
WAITING_FROZEN = ["sleep-cython-gil"]  # usleep() with the GIL held


@pytest.mark.slow
@pytest.mark.needs_cores
@pytest.mark.parametrize("kernel_variant", WAITING_RELEASED, indirect=True)
def test_waiting_releases_the_gil_and_lets_other_threads_run(kernel_variant,
                                                             two_full_cores) -> None:
    check(kernel_variant, "releases", two_full_cores)


@pytest.mark.slow
@pytest.mark.needs_cores
@pytest.mark.parametrize("kernel_variant", WAITING_FROZEN, indirect=True)
def test_sleep_holding_the_gil_stops_other_threads(kernel_variant) -> None:
    check(kernel_variant, "frozen")



# --- check_gil on plain calls, as a user's own test would use it -------------------------------


def count_up(n: int) -> int:
    """Pure Python: keeps the GIL (shares it at switch intervals)."""
    total = 0
    for i in range(n):
        total += i
    return total


def test_check_gil_is_exported_from_the_package() -> None:
    assert gilbench.check_gil is gilcheck.check_gil
    assert gilbench.GilCheck is GilCheck


@pytest.mark.slow
@pytest.mark.needs_cores
def test_check_gil_time_sleep_releases() -> None:
    result = gilbench.check_gil(time.sleep, 0.02)
    skip_if_undecided(result, "time.sleep")
    assert result.verdict == "releases", result
    assert result.interval is not None and result.interval[0] > gilcheck.RELEASES_ABOVE


@pytest.mark.slow
@pytest.mark.needs_cores
def test_check_gil_pure_python_holds() -> None:
    result = gilbench.check_gil(count_up, 300_000)
    skip_if_undecided(result, "pure-Python loop")
    assert result.verdict == "holds", result
    assert result.interval is not None and result.interval[1] < gilcheck.HOLDS_BELOW


def test_check_gil_one_usable_core_is_undecided() -> None:
    result = measure_gil(time.sleep, (0.01,), cores=1)
    assert result.verdict == "undecided" and "one usable core" in result.reason
    assert result.fraction is None and result.usable_cores == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_check_gil_pinned_to_one_core_is_undecided() -> None:
    """A real one-core process (affinity mask of one CPU), not an injected count."""
    code = textwrap.dedent("""
        import os, time
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import gilbench
        r = gilbench.check_gil(time.sleep, 0.01)
        print(r.verdict, r.usable_cores)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["undecided", "1"]


def test_check_gil_too_short_call_is_undecided() -> None:
    result = measure_gil(len, ("abc",), cores=2)
    assert result.verdict == "undecided" and "too short" in result.reason
    assert result.call_s < gilcheck.MIN_CALL_S


def test_check_gil_propagates_the_call_s_exception() -> None:
    def broken() -> None:
        raise ZeroDivisionError("from the call")

    with pytest.raises(ZeroDivisionError, match="from the call"):
        gilbench.check_gil(broken)


def test_classify_boundaries() -> None:
    lo, hi = gilcheck.HOLDS_BELOW, gilcheck.RELEASES_ABOVE
    assert gilcheck.classify((hi + 0.01, 1.1)) == "releases"
    assert gilcheck.classify((0.0, lo - 0.01)) == "holds"
    assert gilcheck.classify((lo, hi)) == "partly"
    assert gilcheck.classify((lo - 0.1, hi + 0.1)) is None  # straddles both
    assert gilcheck.classify((0.5, 0.9)) is None


def test_median_interval_covers_the_median_and_trims_with_more_windows() -> None:
    assert gilcheck.median_interval((0.3, 0.1, 0.2)) == (0.1, 0.3)
    assert gilcheck.median_interval(tuple(range(1, 8))) == (2, 6)  # 87.5% coverage
    assert gilcheck.median_interval((0.5,)) == (0.5, 0.5)


# --- each variant's declaration, as `gilbench verify` checks it -----------------------------------


@pytest.mark.slow
@pytest.mark.needs_cores
def test_check_declared_catches_a_wrong_declaration() -> None:
    """Pure Python declared as releasing the GIL: the measurement must contradict it."""
    kernel = primes_mod.KERNEL
    liar = Variant("python", primes_mod.count_python, releases_gil=True)
    result = check_declared(kernel, liar)
    assert result.check is not None
    skip_if_undecided(result.check, "primes-python")
    assert result.status == "MISMATCH", result.detail


def test_check_declared_one_core_is_undecided_not_failed() -> None:
    kernel = primes_mod.KERNEL
    result = check_declared(kernel, kernel.variant("python"), cores=1)
    assert result.status == "undecided", result.detail


def test_check_adds_windows_while_the_interval_straddles_a_boundary(monkeypatch) -> None:
    """Sequential, like the speedup rounds: scripted windows (no timing) whose first seven
    straddle 0.75 get more windows until the interval fits "releases"; a check that never
    settles stops at three times the windows, undecided."""
    def scripted(fractions):
        it = iter(fractions)
        monkeypatch.setattr(gilcheck, "_solo_window", lambda w: gilcheck._Window(1000, w, 0.0))
        monkeypatch.setattr(gilcheck, "_overlap_window",
                            lambda call, w: gilcheck._Window(int(1000 * next(it)), w, 0.0))

    scripted([0.5, 0.95, 0.6, 0.94, 0.96, 0.93, 0.97] + [0.95] * 30)
    settled = measure_gil(sum, (range(10**5),), cores=2)
    assert settled.verdict == "releases" and 7 < len(settled.fractions) < 21

    scripted([0.3, 0.95] * 30)
    open_ = measure_gil(sum, (range(10**5),), cores=2)
    assert open_.verdict == "undecided" and len(open_.fractions) == 21

    scripted([0.95] * 30)  # decided at the minimum: no extra windows
    assert len(measure_gil(sum, (range(10**5),), cores=2).fractions) == 7


@pytest.mark.quiet  # beside other tests, a thread kept from its CPU lets the call run on
def test_a_window_beside_a_gil_holding_call_costs_few_calls() -> None:
    """Each system call of the check's own bookkeeping gives the GIL away, and beside a call
    that holds the GIL each give-away waits for a whole call: a window must cost only a few
    (start, lead, one read per thread before the window, the window itself), not one per
    syscall of opening and reading files (it cost 11-14, and a default check beside a 0.15 s
    holding call 16 s). Counts calls, not time."""
    variant = primes_mod.KERNEL.variant("cython-gil")
    if not variant.available:
        pytest.skip(f"primes-cython-gil: {variant.reason}")
    chunk = calibrated_chunk(primes_mod.KERNEL, variant, 0.03)
    calls = 0

    def holding() -> None:
        nonlocal calls
        calls += 1
        variant(chunk)

    counts = []
    for _ in range(3):
        calls = 0
        gilcheck._overlap_window(holding, 0.02)
        counts.append(calls)
    assert min(counts) <= 8, counts
