"""``serial``: the baseline; chunks one after another in the calling thread."""

from __future__ import annotations

from typing import Sequence

from .base import Executor, RunResult, collect, timed_task


class SerialExecutor(Executor):
    name = "serial"
    family = "serial"
    description = "chunks one after another in the calling thread (the baseline)"

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        return collect([timed_task(self.kernel_name, self.variant_name, c) for c in chunks])
