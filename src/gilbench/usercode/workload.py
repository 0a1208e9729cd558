"""The user's own function as a measurable workload (own-code mode): ``Workload``.

A ``Workload`` is a function and its tasks (a list of argument tuples), checked here; its
``kernel`` (``gilbench.kernels.user``) is what the existing engine, executors, results schema,
report and compare work on, unchanged; only calibration is skipped (the user's tasks are the
work). ``gilbench.usercode.measure`` measures it (``gilbench.workload(...)``, ``gilbench try``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gilbench.errors import UsageError, one_line
from gilbench.executors.base import lookup
from gilbench.kernels.user import _REGISTERED, _kernel, as_tasks, importable, resolve, spec_of


@dataclass
class Workload:
    """A function and its tasks, measurable like a kernel (``Workload(...).kernel``).

    ``fn``: a callable or ``"MODULE:FUNCTION"``; ``tasks``: argument tuples, or
    ``"MODULE:FACTORY"`` whose ``FACTORY()`` returns them; ``compare(a, b) -> bool`` decides
    whether two results of one task agree (default ``==``). UsageError for bad input.
    """

    fn: Any
    tasks: Any
    compare: Any = None
    name: str = field(init=False)
    importable: bool = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.fn, str):
            self.fn = resolve(self.fn, "FUNCTION", "mymodule:function")
        if not callable(self.fn):
            raise UsageError(f"{spec_of(self.fn) if hasattr(self.fn, '__module__') else 'fn'} "
                             f"is a {type(self.fn).__name__}, not callable: give a function")
        if isinstance(self.tasks, str):
            spec = self.tasks
            factory = resolve(spec, "--tasks", "mymodule:tasks")
            if not callable(factory):
                raise UsageError(f"--tasks {spec} is a {type(factory).__name__}, not callable: "
                                 "give a function that returns the list of argument tuples")
            try:
                produced = factory()
            except Exception as exc:
                raise UsageError(f"--tasks {spec}: {spec}() raised "
                                 f"{one_line(exc, line='last')}") from None
            self.tasks = as_tasks(produced, f"the tasks {spec}() returned")
        else:
            self.tasks = as_tasks(self.tasks)
        if isinstance(self.compare, str):
            self.compare = resolve(self.compare, "--compare", "mymodule:same")
        if self.compare is not None and not callable(self.compare):
            raise UsageError(f"compare must be a function (a, b) -> bool, got "
                             f"{type(self.compare).__name__}")
        self.name = spec_of(self.fn)
        self.importable = importable(self.fn)

    @property
    def function_name(self) -> str:
        return self.name.partition(":")[2]

    @property
    def kernel(self) -> Any:
        """The Kernel, registered so that ``gilbench.kernels.get(self.name)`` finds it."""

        kernel = _kernel(self.name, self.fn, self.tasks, self.compare)
        _REGISTERED[self.name] = kernel
        lookup.cache_clear()  # a previous workload of the same name may be cached
        return kernel
