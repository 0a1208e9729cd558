"""``serial``: the baseline; chunks one after another in the calling thread."""

from __future__ import annotations

import time
from typing import Sequence

from gilbench.placement import pinned

from .base import Executor, RunResult, RunTimeout, alarm, collect, timed_task


class SerialExecutor(Executor):
    name = "serial"
    family = "serial"
    description = "chunks one after another in the calling thread (the baseline)"
    one_thread = True

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        # The chunks run in this very thread: only a timer signal can interrupt one (main thread
        # only); elsewhere the run stops at the first chunk boundary past the limit.
        deadline = self.deadline()
        results = []
        # placed: on worker 0's CPU, as the parallel cells' first worker (the calling thread
        # gets its own mask back after)
        with pinned(self.cpus_for(0)), alarm(self.timeout_s, "the serial run"):
            for chunk in chunks:
                if deadline is not None and time.monotonic() > deadline:
                    raise RunTimeout(f"the serial run did not finish within {self.timeout_s:g} s; "
                                     "it was stopped between two chunks")
                results.append(timed_task(self.kernel_name, self.variant_name, chunk))
        return collect(results)
