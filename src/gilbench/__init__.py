"""gilbench: measure when Python threads reach every core of this host, and when they do not.

The Python API (the command line is ``gilbench``):

* ``gilbench.workload(fn, tasks, ...) -> dict``: your own function over your tasks under
  serial, threads, a thread pool, asyncio.to_thread, a process pool and subinterpreters; a
  results document (``gilbench report`` renders it) whose ``workload`` section holds the GIL
  check, each executor's cost per task and the recommendation in words.
* ``gilbench.measure_matrix(out, kernels=..., executors=..., workers=..., quick=...) -> dict``:
  the matrix ``gilbench run`` measures, from Python, into the results file ``out``.
* ``gilbench.check_gil(fn, *args, **kwargs)``: how much of one call's run other threads can make
  progress (``.fraction`` with ``.low``/``.high``, ``.verdict``: releases / holds / partly /
  undecided, ``.reason``), for a test of your own.
* ``gilbench.testing.assert_releases_gil(fn, *args)`` / ``assert_holds_gil``: that check as a
  pytest assertion (fails with the measurement in words, skips where the host cannot tell);
  the pytest plugin installed with gilbench adds the ``gil_check`` fixture and the
  ``releases_gil`` / ``holds_gil`` markers.
"""

from __future__ import annotations

from gilbench._version import __version__
from gilbench.gilcheck import GilCheck, check_gil

__all__ = ["GilCheck", "__version__", "check_gil", "measure_matrix", "workload"]


def __getattr__(name: str):
    """``gilbench.workload`` and ``gilbench.measure_matrix`` are loaded when first used (PEP
    562): importing gilbench (as the pytest plugin and ``gilbench.testing`` do) does not load
    the measuring engine."""
    if name == "workload":
        from gilbench.usercode.measure import workload

        return workload
    if name == "measure_matrix":
        from gilbench.run.matrix import measure_matrix

        return measure_matrix
    raise AttributeError(f"module 'gilbench' has no attribute {name!r}")
