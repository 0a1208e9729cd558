"""GIL assertions for other projects' tests (pytest).

``assert_releases_gil(fn, *args, **kwargs)`` and ``assert_holds_gil(fn, *args, **kwargs)`` run
``gilbench.check_gil`` on the call (about 1-2 s: the call is repeated in a background thread
while the test's thread counts its own pace) and

- pass, returning the ``GilCheck``, when the measured verdict is the one asserted;
- fail with the measured share of its pace another thread kept while the call ran, its
  interval, the thresholds and what the verdict means for threads calling the function. A call
  asserted to release the GIL that reads otherwise is measured a second time first: only
  ``releases`` is one-sided evidence (a call that holds the GIL cannot read as releasing it,
  while a releasing one reads less when the second CPU is not a full core for a moment); if
  it reads short again, a call known to release the GIL (``REFERENCE``) is measured, and the
  test skips instead of failing when that one reads short too;
- skip (``pytest.skip``) with the reason when this host cannot answer: fewer than 2 usable
  cores (a call that releases the GIL and one that shares it look alike on one core), a host
  too busy to measure, or an interpreter without a GIL. Busy includes other processes using
  more than ``noise.OTHER_CORES_LIMIT`` cores during the check (or the hypervisor stealing
  time) when the verdict is not ``releases``: a thread preempted while it holds the GIL makes
  a releasing call read as holding it, so only ``releases`` survives a busy host.

A call too short to judge, or one whose interval straddles a threshold, fails: those are the
call's doing (give it more work per call), not the host's. The pytest plugin
(``gilbench.pytest_plugin``, registered through the ``pytest11`` entry point) wraps these in
a ``gil_check`` fixture and the ``releases_gil`` / ``holds_gil`` markers::

    import gilbench.testing

    def test_compress_releases_the_gil(big_buffer):
        gilbench.testing.assert_releases_gil(mylib.compress, big_buffer)
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable

import pytest

from gilbench import noise
from gilbench.gilcheck import HOLDS_BELOW, HOST_CAUSES, RELEASES_ABOVE, GilCheck, check_gil

#: what each verdict means for threads that call the function
MEANING = {
    "releases": "other threads run while it works, so threads calling it can use several cores",
    "holds": "it keeps the GIL while it works, so threads calling it take turns on one core",
    "partly": "it lets other threads run for only part of its work, so threads calling it "
              "overlap only in part",
}
#: what was found, as the end of "expected to ..., but ..."
FOUND = {"releases": "it releases the GIL", "holds": "it holds the GIL",
         "partly": "it releases the GIL for only part of its run"}
#: the rule, in words, printed in every message
RULE = (f"releases: the whole interval above {RELEASES_ABOVE:.0%}; holds: below "
        f"{HOLDS_BELOW:.0%}; partly: in between")


def call_name(fn: Callable[..., Any]) -> str:
    """``module.qualname`` of ``fn`` (its repr when it has no name)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else name


def describe(check: GilCheck) -> str:
    """The measurement in words: the share with its interval, the rule, and (undecided) why."""
    if check.fraction is None or check.interval is None:
        return f"nothing was measured ({check.reason}); rule: {RULE}"
    lo, hi = check.interval
    text = (f"another thread kept {check.fraction:.0%} of its pace while the call ran "
            f"(interval {lo:.0%}-{hi:.0%} over {len(check.fractions)} windows of "
            f"{check.call_s * 1e3:.3g} ms calls; rule: {RULE})")
    # a decided check's reason is the rule it met, said already
    return text + (f": {check.reason}" if check.verdict == "undecided" else "")


def failure_message(name: str, expected: str, check: GilCheck,
                    first: GilCheck | None = None) -> str:
    """Why a check of ``name`` did not show ``expected`` ('releases' or 'holds'); ``first``:
    the reading before it, when the call was measured twice."""
    wanted = "release the GIL" if expected == "releases" else "hold the GIL"
    again = "" if first is None else (
        f" Measured twice: the first time {first.verdict}"
        + ("" if first.fraction is None else f", {first.fraction:.0%} of the pace kept") + ".")
    if check.verdict == "undecided":
        hint = ("give it more work per call" if check.cause == "too-short" else
                "its interval crosses a threshold: give it a longer call, or look at whether "
                "it releases the GIL for only part of its run")
        return (f"{name}: could not show that it does {wanted}: {describe(check)}. "
                f"What to do: {hint}.{again}")
    return (f"{name} was expected to {wanted}, but {FOUND[check.verdict]}: {describe(check)}. "
            f"Meaning: {MEANING[check.verdict]}.{again}")


def _measured(fn: Callable[..., Any], args: tuple, kwargs: dict
              ) -> tuple[GilCheck, noise.Disturbance | None]:
    """The check, and what disturbed the host meanwhile."""
    before = noise.snapshot()
    check = check_gil(fn, *args, **kwargs)
    return check, noise.disturbance(before, noise.snapshot())


def _assert(expected: str, fn: Callable[..., Any], args: tuple, kwargs: dict,
            name: str | None = None) -> GilCheck:
    check, host = _measured(fn, args, kwargs)
    if expected == "releases" and check.verdict != "releases" and check.cause not in HOST_CAUSES:
        # "releases" is one-sided evidence: a call that holds the GIL cannot leave another
        # thread 75% of its pace, while a releasing call reads less when, for a moment, the
        # second CPU does not give a full core (a 2-vCPU VM's read 0.70-0.71 over 7 windows,
        # with no counter showing it): measured again before the test fails
        first: GilCheck | None = check
        check, host = _measured(fn, args, kwargs)
    else:
        first = None
    name = name or call_name(fn)
    if check.verdict == "undecided" and check.cause in HOST_CAUSES:
        pytest.skip(f"gilbench cannot check {name}'s use of the GIL on this host: "
                    f"{check.reason}")
    if check.verdict != "releases" and host is not None and host.disturbed:
        pytest.skip(f"gilbench cannot check {name}'s use of the GIL on this host: host busy "
                    f"during the check ({host.reason}), and a thread preempted while it holds "
                    f"the GIL makes a releasing call read as holding it; measured "
                    f"{check.verdict}: {describe(check)}")
    if first is not None and check.verdict != "releases":
        # read short twice: can this host show a release at all now? Two vCPUs that are one
        # physical core's two hardware threads (SMT), or a shared core, slow the counting
        # thread beside any busy thread, GIL or not, and no counter the guest reads says so
        reference = check_gil(_sha256, _reference_buffer())
        if reference.verdict != "releases":
            pytest.skip(f"gilbench cannot check {name}'s use of the GIL on this host now: a "
                        f"call known to release the GIL ({REFERENCE}) read "
                        f"{reference.verdict} too ({describe(reference)}), so this host's "
                        f"second CPU does not give a second thread a full core at the moment; "
                        f"measured {check.verdict}: {describe(check)}")
    if check.verdict != expected:
        pytest.fail(failure_message(name, expected, check, first), pytrace=False)
    return check


#: the call known to release the GIL that a host must show releasing before a call that reads
#: short of it twice fails (hashlib drops the GIL on buffers over 2 KiB)
REFERENCE = "hashlib.sha256 of 4 MiB"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@functools.lru_cache(maxsize=1)
def _reference_buffer() -> bytes:
    return bytes(4 << 20)


def assert_releases_gil(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
    """Pass (returning the check) when ``fn(*args, **kwargs)`` lets other threads run for
    nearly all of its run; fail with the measurement otherwise; skip where the host cannot
    tell. ``fn`` is called again and again for about 1-2 s."""
    return _assert("releases", fn, args, kwargs)


def assert_holds_gil(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
    """Pass (returning the check) when ``fn(*args, **kwargs)`` keeps the GIL (other threads
    only get turns); fail with the measurement otherwise; skip where the host cannot tell."""
    return _assert("holds", fn, args, kwargs)


class GilAssertions:
    """What the ``gil_check`` fixture gives: ``gil_check(fn, *args)`` measures (a
    ``GilCheck``, nothing asserted); ``.releases(fn, *args)`` and ``.holds(fn, *args)``
    assert."""

    def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
        return check_gil(fn, *args, **kwargs)

    def releases(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
        return assert_releases_gil(fn, *args, **kwargs)

    def holds(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GilCheck:
        return assert_holds_gil(fn, *args, **kwargs)


def assert_gil(expected: str, fn: Callable[..., Any], name: str, /, **kwargs: Any) -> GilCheck:
    """``assert_releases_gil`` (``expected`` 'releases') or ``assert_holds_gil`` ('holds') of
    ``fn(**kwargs)``, named ``name`` in the messages (the markers measure a test's body)."""
    if expected not in ("releases", "holds"):
        raise ValueError(f"expected must be 'releases' or 'holds', not {expected!r}")
    return _assert(expected, fn, (), kwargs, name)


__all__ = ["GilAssertions", "assert_gil", "assert_holds_gil", "assert_releases_gil",
           "describe", "failure_message"]
