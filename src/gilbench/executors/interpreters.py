"""``interpreters``: subinterpreters, each with its own GIL (PEP 684), where Python has them."""

from __future__ import annotations

from typing import Sequence

from gilbench import host

from .base import Executor, RunResult


class InterpretersExecutor(Executor):
    name = "interpreters"
    family = "interpreters"
    description = "subinterpreters with a per-interpreter GIL"

    @classmethod
    def unavailable_reason(cls) -> str:
        if not host.has_subinterpreters():
            return ("this Python has no subinterpreter API (needs 3.13's _interpreters or "
                    "3.14's concurrent.futures.InterpreterPoolExecutor)")
        return "the interpreters executor is not implemented yet in this gilbench"

    def run(self, chunks: Sequence[tuple]) -> RunResult:  # pragma: no cover
        raise RuntimeError(self.unavailable_reason())
