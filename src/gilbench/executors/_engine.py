"""What the engines (joblib, Dask) share: the task they ship to a worker, and how an engine
that is not installed says so.

An engine's worker is not started by gilbench, so it gets no ``init_worker_process``: the task
itself prepares the kernel once per process and marks the process as a worker (its GIL state
then decides the cell, see ``base.timed_task``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import threading
from typing import Any

from . import base

_prepared: set[tuple[str, int]] = set()
_prepare_lock = threading.Lock()  # threads of one worker may all arrive first at once


def origin() -> tuple[str, int]:
    """(host, pid) of the calling process: a task run elsewhere is in a worker process."""
    return platform.node(), os.getpid()


def setup_worker(parent: tuple[str, int], kernel_name: str, variant_name: str,
                 size: int) -> dict[str, Any]:
    """Make this worker ready to time chunks (kernel buffers, the variant loaded, checked) and
    return its ``worker_facts``; GILReenabled if loading the variant turned the GIL on."""
    if origin() != parent:
        base._worker_process = True
    key = (kernel_name, size)
    with _prepare_lock:
        if key not in _prepared:
            base.prepare_worker(kernel_name, size)
            _prepared.add(key)
    base.lookup(kernel_name, variant_name)
    facts = base.worker_facts()
    if base._worker_process or threading.current_thread() is not threading.main_thread():
        base.check_gil()
    return facts


def engine_task(parent: tuple[str, int], kernel_name: str, variant_name: str, size: int,
                chunk: tuple) -> tuple[Any, float]:
    """``timed_task`` in an engine's worker, set up on first use; (partial, CPU seconds)."""
    if (kernel_name, size) not in _prepared:
        setup_worker(parent, kernel_name, variant_name, size)
    return base.timed_task(kernel_name, variant_name, chunk)


def missing(module: str, extra: str) -> str:
    """Empty if ``module`` imports, else why not and the command that installs it."""
    # find_spec, not an import: asking costs nothing (importing distributed takes ~1 s); a
    # broken install fails the cell's start() with the ImportError instead
    if importlib.util.find_spec(module) is None:
        return f'{module} is not installed; install it with: pip install "gilbench[{extra}]"'
    return ""


def version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def distinct_workers(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (host, pid), in first-seen order."""
    seen: dict[tuple, dict[str, Any]] = {}
    for f in facts:
        seen.setdefault((f["host"], f["pid"]), f)
    return list(seen.values())
