"""The executor registry: ``names()``, ``get(name)``, ``engines()``; one class per way of running
chunks."""

from __future__ import annotations

from gilbench.errors import UnknownNameError

from .asyncio_ import AsyncioExecutor, AsyncioProcessExecutor, AsyncioToThreadExecutor
from . import _engine
from .base import Executor, GILReenabled, RunResult, timed_task
from .dask_ import DaskProcessesExecutor, DaskSchedulerExecutor, DaskThreadsExecutor
from .interpreter_pool import InterpreterPoolRunner
from .interpreters import InterpretersExecutor
from .joblib_ import JoblibLokyExecutor, JoblibThreadsExecutor
from .processes import ProcessesExecutor, ProcessPipeExecutor, ProcessPoolRunner, WorkerDied
from .serial import SerialExecutor
from .threads import ThreadPoolExecutorRunner, ThreadsExecutor

__all__ = ["Executor", "GILReenabled", "RunResult", "WorkerDied", "get", "names", "engines",
           "timed_task", "with_options", "DEFAULT"]

_CLASSES: list[type[Executor]] = [
    SerialExecutor,
    ThreadsExecutor,
    ThreadPoolExecutorRunner,
    AsyncioExecutor,
    AsyncioToThreadExecutor,
    AsyncioProcessExecutor,
    ProcessesExecutor,
    ProcessPipeExecutor,
    ProcessPoolRunner,
    InterpretersExecutor,
    # the engines people grow into (optional extras); never in DEFAULT
    InterpreterPoolRunner,
    JoblibLokyExecutor,
    JoblibThreadsExecutor,
    DaskProcessesExecutor,
    DaskThreadsExecutor,
    DaskSchedulerExecutor,
]
_BY_NAME = {cls.name: cls for cls in _CLASSES}

#: run by default: one executor per family, so the full matrix fits in minutes on 2 cores
DEFAULT = ["serial", "threads", "asyncio", "process-pool"]


def names() -> list[str]:
    """Every executor name, in display order."""
    return list(_BY_NAME)


def with_options() -> list[type[Executor]]:
    """The executors that add a run option of their own (``Executor.option``)."""
    return [cls for cls in _CLASSES if cls.option is not None]


def get(name: str) -> type[Executor]:
    """The executor class called ``name``; UnknownNameError lists the valid names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownNameError("executor", name, names()) from None


#: engine -> (executors that use it, the distribution whose version is reported)
_ENGINES = {
    "joblib": (("joblib-loky", "joblib-threads"), "joblib"),
    "dask": (("dask-processes", "dask-threads", "dask"), "distributed"),
    "interpreter-pool": (("interpreter-pool",), None),
}


def engines() -> list[tuple[str, bool, str | None, str]]:
    """The optional engines for ``gilbench info``: ``(name, available, version, reason)``;
    ``reason`` (empty when available) says why not and how to install it. The version is the
    library's, or Python's for the standard-library pool."""
    import platform

    out = []
    for engine, (members, distribution) in _ENGINES.items():
        reasons = [get(m).unavailable_reason() for m in members]
        # an engine is there when its library is; `dask` also needs an address, said per run
        reason = reasons[0]
        version = (_engine.version(distribution) if distribution else platform.python_version())
        out.append((engine, not reason, version if not reason else None, reason))
    return out
