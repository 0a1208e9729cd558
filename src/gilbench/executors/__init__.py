"""The executor registry: ``names()``, ``get(name)``; one class per way of running chunks."""

from __future__ import annotations

from gilbench.errors import UnknownNameError

from .asyncio_ import AsyncioExecutor, AsyncioProcessExecutor, AsyncioToThreadExecutor
from .base import Executor, RunResult, timed_task
from .interpreters import InterpretersExecutor
from .processes import ProcessesExecutor, ProcessPipeExecutor, ProcessPoolRunner, WorkerDied
from .serial import SerialExecutor
from .threads import ThreadPoolExecutorRunner, ThreadsExecutor

__all__ = ["Executor", "RunResult", "WorkerDied", "get", "names", "timed_task", "DEFAULT"]

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
]
_BY_NAME = {cls.name: cls for cls in _CLASSES}

#: run by default: one executor per family, so the full matrix fits in minutes on 2 cores
DEFAULT = ["serial", "threads", "asyncio", "process-pool"]


def names() -> list[str]:
    """Every executor name, in display order."""
    return list(_BY_NAME)


def get(name: str) -> type[Executor]:
    """The executor class called ``name``; UnknownNameError lists the valid names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownNameError("executor", name, names()) from None
