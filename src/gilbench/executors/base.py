"""What every executor shares: the task a worker runs, and the Executor interface.

A task is ``(kernel name, variant name, chunk)``. Workers look the variant up in the registry
themselves, so nothing but names and small tuples of numbers crosses a process boundary, and
every executor runs exactly the same function on exactly the same chunks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, ClassVar, Sequence

from gilbench import kernels


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


def timed_task(kernel_name: str, variant_name: str, chunk: tuple) -> tuple[Any, float]:
    """Run one chunk; returns (partial, CPU seconds this thread spent on it)."""
    fn = lookup(kernel_name, variant_name)
    start = time.thread_time()
    partial = fn(chunk)
    return partial, time.thread_time() - start


def prepare_worker(kernel_name: str, size: int) -> None:
    """Per-process set-up before timing: build the kernel's buffers (run in worker initialisers)."""
    kernel = kernels.get(kernel_name)
    if kernel.prepare is not None:
        kernel.prepare(size)


def collect(results: Sequence[tuple[Any, float]]) -> RunResult:
    """RunResult from per-task (partial, cpu) pairs in chunk order."""
    cpu = [c for _, c in results]
    return RunResult([p for p, _ in results], sum(cpu), cpu)


class Executor:
    """Runs a list of chunks on ``workers`` workers; one subclass per way of running them.

    Life cycle: ``start()`` once (pools are created there, so the first run is *cold*),
    ``run(chunks)`` many times (*warm*), ``close()`` once. Executors are context managers.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str] = ""
    uses_processes: ClassVar[bool] = False

    def __init__(self, kernel_name: str, variant_name: str, workers: int, size: int,
                 start_method: str | None = None):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.kernel_name = kernel_name
        self.variant_name = variant_name
        self.workers = workers
        self.size = size
        self.start_method = start_method if self.uses_processes else None

    @classmethod
    def unavailable_reason(cls) -> str:
        """Empty if this executor can run in this interpreter, else why not."""
        return ""

    def start(self) -> None:
        """Create pools/workers (no-op by default)."""

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        raise NotImplementedError

    def close(self) -> None:
        """Stop every worker this executor started."""

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
