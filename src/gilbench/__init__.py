"""gilbench: measure when Python threads reach every core of this host, and when they do not.

The Python API (the command line is ``gilbench``):

* ``gilbench.workload(fn, tasks, ...) -> dict``: your own function over your tasks under
  serial, threads, a thread pool, asyncio.to_thread, a process pool and subinterpreters; a
  results document (``gilbench report`` renders it) whose ``workload`` section holds the GIL
  check, each executor's cost per task and the recommendation in words.
* ``gilbench.check_gil(fn, *args, **kwargs)``: how much of one call's run other threads can make
  progress (``.fraction`` with ``.low``/``.high``, ``.verdict``: releases / holds / partly /
  undecided, ``.reason``), for a test of your own.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Bound eagerly, over the name of the submodule gilbench.workload: a lazy binding would be
# replaced by the module the first time anything imported it.
from gilbench.workload import workload  # noqa: E402

__all__ = ["__version__", "check_gil", "workload"]


def __getattr__(name: str) -> Any:
    # check_gil is imported on first use: the GIL check pulls in nothing else of gilbench
    if name == "check_gil":
        from gilbench.gilcheck import check_gil

        return check_gil
    raise AttributeError(f"module 'gilbench' has no attribute {name!r}")
