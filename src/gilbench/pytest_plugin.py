"""gilbench's pytest plugin (registered through the ``pytest11`` entry point, so installing
gilbench enables it): a ``gil_check`` fixture and the ``releases_gil`` / ``holds_gil`` markers.

Inert unless used: it declares the two markers and the fixture, and touches a test only when
the test carries one of the markers. Loading it imports ``gilbench.testing`` and the GIL check,
never the benchmark engine (executors, measure, run).

- ``gil_check``: ``gil_check.releases(fn, *args)`` / ``gil_check.holds(fn, *args)`` assert
  (``gilbench.testing``); ``gil_check(fn, *args)`` only measures and returns the ``GilCheck``.
- ``@pytest.mark.releases_gil`` / ``@pytest.mark.holds_gil``: the test's body is the call
  measured. It is run again and again in a background thread for about 1-2 s, so it should
  only call the function under test (build its inputs in fixtures); the test fails with the
  measurement when the verdict is not the one marked, and skips where the host cannot tell.
"""

from __future__ import annotations

import inspect

import pytest

from gilbench.testing import GilAssertions, assert_gil

MARKERS = {
    "releases_gil": "releases",
    "holds_gil": "holds",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "releases_gil: gilbench measures the test's body (run repeatedly in a thread) "
        "and fails unless it releases the GIL; skips where the host cannot tell")
    config.addinivalue_line(
        "markers", "holds_gil: gilbench measures the test's body (run repeatedly in a thread) "
        "and fails unless it keeps the GIL; skips where the host cannot tell")


@pytest.fixture
def gil_check() -> GilAssertions:
    """``gil_check.releases(fn, *args)``, ``gil_check.holds(fn, *args)`` (assertions that skip
    where the host cannot tell), ``gil_check(fn, *args)`` (the measurement only)."""
    return GilAssertions()


def _marker(item: pytest.Item) -> str | None:
    """The gilbench marker on ``item`` (None when it has none)."""
    marked = [name for name in MARKERS if item.get_closest_marker(name)]
    if len(marked) > 1:
        pytest.fail(f"{item.nodeid}: marked both releases_gil and holds_gil; keep the one "
                    "the function under test should do", pytrace=False)
    return marked[0] if marked else None


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """For a marked test, swap its function for one that measures it (pytest then calls it with
    its fixtures as usual); an unmarked test is left alone."""
    marker = _marker(pyfuncitem)
    if marker is None:
        yield
        return
    body = pyfuncitem.obj
    if inspect.iscoroutinefunction(body):
        pytest.fail(f"{pyfuncitem.nodeid}: {marker} measures a plain function; call the "
                    "function under test from a synchronous test", pytrace=False)
    name = f"the body of {pyfuncitem.name}"

    def measured(**kwargs):
        assert_gil(MARKERS[marker], body, name, **kwargs)

    pyfuncitem.obj = measured
    try:
        yield
    finally:
        pyfuncitem.obj = body
