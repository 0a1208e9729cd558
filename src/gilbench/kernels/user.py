"""The user's own function as a kernel: what ``gilbench.kernels.get("MODULE:QUALNAME")`` returns.

A workload (``gilbench.usercode.workload.Workload``) presents its function as a ``Kernel`` with one
variant, ``user``: ``split`` cuts the task list into chunks (each chunk carries its tasks'
arguments, so process executors pickle exactly what a user's pool would), the variant runs
``[fn(*args) for args in chunk]``, ``reduce`` concatenates the partials in task order, and
``agrees`` compares results with ``==`` (or the user's ``compare(a, b) -> bool``), element by
element.

How workers find it: the kernel's *name* is ``MODULE:QUALNAME`` of the function, which is all a
worker needs (the arguments travel in the chunks). ``gilbench.kernels.get`` hands any name with a
``:`` to ``kernel_for``: the parent process (and forked workers) find the registered workload;
spawn/forkserver workers and subinterpreters import the function by that name. This holds even
for a forkserver started before the workload existed, which an environment variable would not.
Here, beside the other kernels, so the registry never reaches up to the workload's measuring.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Iterable, Sequence

from gilbench import gilguard
from gilbench.errors import UsageError, one_line

from ._base import Kernel, Variant, even_ranges

#: the one variant of a workload kernel
VARIANT = "user"
#: the function the empty-task round trips run (importable everywhere)
EMPTY_TASK = "gilbench.kernels.user:empty_task"

# kernel name -> Kernel, for the workloads of this process (inherited by forked workers)
_REGISTERED: dict[str, Any] = {}


def empty_task() -> None:
    """Does nothing: what an executor's per-task cost is measured with."""


class Results(list):
    """A workload's results in task order; a short repr, because error messages quote it."""

    def __repr__(self) -> str:
        kinds = sorted({type(r).__name__ for r in self})
        return f"<{len(self)} results of {'/'.join(kinds) or 'nothing'}>"


# ---------------------------------------------------------------------------- resolution


def _add_current_directory() -> None:
    """Put the current directory first on sys.path, as ``python -m`` does (spawned workers and
    subinterpreters get the parent's sys.path, so they find the same modules)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def parse_spec(spec: str, option: str, example: str) -> tuple[str, str]:
    """``"MODULE:NAME"`` -> (module, name); UsageError for any other shape."""
    module, sep, name = (spec or "").strip().partition(":")
    if not sep or not module or not name or ":" in name:
        raise UsageError(f"{option} takes MODULE:{example.split(':')[1].upper()} such as "
                         f"{example}, got {spec!r}")
    if module == "__main__":
        raise UsageError(f"{option} {spec!r}: __main__ is not a module gilbench can import; "
                         "put the function in a module file (e.g. mywork.py) and pass mywork:NAME")
    return module, name


def resolve(spec: str, option: str = "FUNCTION", example: str = "mymodule:function") -> Any:
    """The object ``MODULE:NAME`` names (NAME may be dotted), importing MODULE from sys.path
    and the current directory; UsageError says what is missing, or, on a free-threaded build,
    which module the import brought in that turned the GIL back on."""
    module_name, name = parse_spec(spec, option, example)
    _add_current_directory()
    try:
        module, culprit = gilguard.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UsageError(f"{option} {spec}: module {module_name!r} not found on sys.path or "
                             f"in the current directory ({os.getcwd()}); check the name or run "
                             "gilbench from the directory that holds it") from None
        raise UsageError(f"{option} {spec}: importing {module_name} failed: {exc}") from None
    except Exception as exc:
        raise UsageError(f"{option} {spec}: importing {module_name} failed: "
                         f"{one_line(exc, line='last')}") from None
    if culprit is not None:  # every thread of every cell would take turns: say why, now
        raise UsageError(f"{option} {spec}: on this free-threaded Python, {culprit.explain()}")
    obj: Any = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = sorted(n for n in dir(module) if not n.startswith("_")
                            and callable(getattr(module, n, None)))[:12]
            raise UsageError(f"{option} {spec}: module {module_name} has no attribute {name!r}; "
                             f"its callables: {', '.join(public) or 'none'}") from None
    return obj


def spec_of(fn: Callable) -> str:
    """``MODULE:QUALNAME`` of a function (what workers import it by)."""
    module = getattr(fn, "__module__", None) or "__main__"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}:{name}"


def importable(fn: Callable) -> bool:
    """Whether a fresh interpreter (spawn/forkserver worker, subinterpreter) can import ``fn``
    by ``spec_of(fn)``: not in ``__main__``, not a local or a lambda, and the name leads back
    to this very object."""
    module, _, name = spec_of(fn).partition(":")
    if module in ("__main__", "__mp_main__") or "<" in name:
        return False
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except Exception:
        return False
    return obj is fn or obj == fn


def as_tasks(value: Any, source: str = "tasks") -> list[tuple]:
    """The task list: each item an argument tuple (a non-tuple item is one argument);
    UsageError if ``value`` is not a non-empty iterable."""
    if isinstance(value, (str, bytes, bytearray, dict)) or not isinstance(value, Iterable):
        raise UsageError(f"{source} must be a list of argument tuples such as "
                         f"[(b'data',), (b'more',)], got {type(value).__name__}")
    tasks = [item if isinstance(item, tuple) else (item,) for item in value]
    if not tasks:
        raise UsageError(f"{source} is empty: give at least one task (a tuple of arguments)")
    return tasks


# ---------------------------------------------------------------------------- the kernel


def _equal(a: Any, b: Any) -> bool:
    """``a == b`` that also copes with arrays (whose == is element-wise)."""
    if a is b:
        return True
    try:
        same = a == b
        if isinstance(same, bool):
            return same
    except Exception:
        pass
    try:
        import numpy

        return bool(numpy.array_equal(a, b))
    except Exception:
        return False


def _runner(fn: Callable) -> Callable[[tuple], list]:
    def run_tasks(chunk: tuple) -> list:
        return [fn(*args) for args in chunk]

    run_tasks.__qualname__ = run_tasks.__name__ = f"run_tasks[{spec_of(fn)}]"
    return run_tasks


def _kernel(name: str, fn: Callable, tasks: Sequence[tuple] | None,
            compare: Callable[[Any, Any], bool] | None) -> Any:
    """The Kernel for ``fn``; ``tasks`` None in workers (which get chunks, never split)."""
    def split(size: int, n_chunks: int) -> list[tuple]:
        if tasks is None:
            raise RuntimeError(f"workload {name}: the task list lives in the parent process")
        size = min(size, len(tasks))
        return [tuple(tasks[lo:hi]) for lo, hi in even_ranges(0, size, min(n_chunks, size))]

    def reduce(partials: Sequence[list]) -> Results:
        return Results(r for partial in partials for r in partial)

    equal = compare or _equal

    class _WorkloadKernel(Kernel):
        def agrees(self, a: Any, b: Any) -> bool:  # element by element, in task order
            return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))

    n = len(tasks) if tasks is not None else 1
    return _WorkloadKernel(
        name=name, description=f"the user's function {name}", kind="cpu", unit="tasks",
        default_size=n, verify_size=n, split=split, reduce=reduce,
        variants=(Variant(VARIANT, _runner(fn), releases_gil=False,
                          description=f"{name}(*args) for each task"),),
        min_size=1)


def kernel_for(name: str) -> Any:
    """The kernel a workload registered under ``name`` (this process or a forked parent), else
    one built by importing the function ``MODULE:QUALNAME`` (spawned workers, subinterpreters)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    module, _, qualname = name.partition(":")
    obj: Any = gilguard.import_module(module)[0]  # a culprit is named by the worker's GIL check
    for part in qualname.split("."):
        obj = getattr(obj, part)
    kernel = _kernel(name, obj, None, None)
    _REGISTERED[name] = kernel
    return kernel
