"""Which import turned the GIL back on? The guard that names it.

On a free-threaded build (3.13t), importing an extension module that does not declare
free-threading support (no ``Py_mod_gil`` slot, no Cython ``freethreading_compatible``) turns
the GIL back on for the whole process, with one RuntimeWarning that is easy to miss. Every
thread then takes turns again, and a measurement of "threads on a free-threaded build" measures
a GIL build. gilbench fails such cells; this module says which module did it.

``guard()`` runs a block of imports with the GIL state checked around each module load it
triggers: a ``sys.meta_path`` finder, in the guarding thread only, wraps each found spec's loader
so that ``create_module`` (where an extension module flips the GIL) and ``exec_module`` are
followed by ``sys._is_gil_enabled()``. The first (innermost) load after which the GIL is on is
the culprit (``Culprit``: its name, file, the imports that led to it, the RuntimeWarning, which
is captured rather than printed or, under ``-W error``, raised). Once on, the GIL stays on for
the process, so there is at most one culprit per process (``culprit()``).

Inert, and one check cheap, where it cannot help: on a GIL build, or when the GIL is already on
(PYTHON_GIL=1, or an import before the guard). Standard library only, so workers of every kind
(subinterpreters included) import it. ``gilbench.gilguard_scan`` checks installed extension
modules in child processes (``gilbench info`` on a free-threaded build).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import re
import sys
import sysconfig
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Iterator

#: a free-threaded build that can say whether its GIL is on: the only place the guard acts
ACTIVE = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and hasattr(sys, "_is_gil_enabled")

#: the start of CPython's RuntimeWarning when an import turns the GIL on (3.13+)
WARNING_START = "The global interpreter lock (GIL) has been enabled"

#: what to do about it, in words
FIX = ("declare free-threading support in its source (C: the module slot "
       "{Py_mod_gil, Py_MOD_GIL_NOT_USED}, or PyUnstable_Module_SetGIL for single-phase init; "
       "Cython: the directive `# cython: freethreading_compatible=True`), or set PYTHON_GIL=0 "
       "to keep the GIL off and test anyway (at your own risk), or PYTHON_GIL=1 to measure "
       "this build with its GIL on")


@dataclass(frozen=True)
class Culprit:
    """The module after whose load the GIL was on: ``module`` (dotted name), ``path`` (its
    file, None if unknown), ``chain`` (the modules being imported at that moment, outermost
    first, the culprit last) and ``warning`` (CPython's RuntimeWarning, if it was seen)."""

    module: str
    path: str | None
    chain: tuple[str, ...]
    warning: str | None = None

    def __str__(self) -> str:
        where = f" ({self.path})" if self.path else ""
        via = (f", imported by {' -> '.join(self.chain[:-1])}" if len(self.chain) > 1 else "")
        return f"{self.module}{where}{via}"

    def explain(self) -> str:
        """One sentence: the module, its file, the import chain, and the fix."""
        return (f"the GIL was turned back on by importing {self}, which does not declare "
                f"that it can run without the GIL; fix: {FIX}")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_culprit: Culprit | None = None
_lock = threading.RLock()  # one guarding thread at a time: the warning filters are global
_local = threading.local()  # .loading: the module names this thread is loading, outermost first


def culprit() -> Culprit | None:
    """The module a guarded import saw turn this process's GIL on, or None (not seen: the GIL
    is off, the build has a GIL, or it came on outside any guard)."""
    return _culprit


def gil_on() -> bool:
    """Whether the GIL is on now (always True on a build without ``sys._is_gil_enabled``)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def _loading() -> list[str]:
    stack = getattr(_local, "loading", None)
    if stack is None:
        stack = _local.loading = []
    return stack


@contextlib.contextmanager
def _load(spec: Any) -> Iterator[None]:
    """Follow one step of loading ``spec``: if the GIL was off before it and is on after it,
    and no module inside it was named first, this module is the culprit. (A step that starts
    with the GIL on is nested in an extension's init function, during which CPython holds the
    GIL transiently: the outer module decides.)"""
    global _culprit
    stack = _loading()
    stack.append(spec.name)
    off_before = not gil_on()
    try:
        yield
    finally:
        if _culprit is None and off_before and gil_on():
            path = spec.origin if spec.has_location else None
            _culprit = Culprit(spec.name, path, tuple(stack))
        stack.pop()


class _Loader:
    """A found spec's loader, with each load step followed by a GIL check; everything else
    (get_data, is_package, ...) is the real loader's."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        with _load(spec):  # an extension module is made, and the GIL decided, here
            return None if create is None else create(spec)

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        try:
            with _load(spec):
                self._loader.exec_module(module)
        finally:  # the module keeps its real loader (importlib.resources, pkgutil read it)
            if spec.loader is self:
                spec.loader = self._loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader


class _Finder:
    """First on ``sys.meta_path`` while a guard is on: finds specs through the other finders
    and wraps their loaders, for imports in the guarding thread only."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if threading.get_ident() != self.thread or _culprit is not None:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None  # the import system asks the others itself and raises its own error
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


@dataclass
class Watch:
    """What one ``guard()`` saw: ``culprit`` (set at its end) is the module that turned the
    GIL on inside the block, None if the GIL stayed off or the guard was inert."""

    active: bool
    culprit: Culprit | None = None


@contextlib.contextmanager
def guard() -> Iterator[Watch]:
    """Run the block's imports with the GIL checked after each module load (see the module's
    docstring); yields a ``Watch`` whose ``culprit`` names the module that turned it on.

    Inert on a GIL build, when the GIL is already on, and inside another guard of the same
    thread (the outer one watches). Other threads' imports pass through untouched, but wait
    at their own guard while this one runs."""
    if not ACTIVE or gil_on() or getattr(_local, "guarding", False):
        yield Watch(active=False)
        return
    with _lock:
        watch = Watch(active=True)
        finder = _Finder()
        _local.guarding = True
        sys.meta_path.insert(0, finder)
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as recorded:
                # recorded, not printed (the culprit's message says it better) nor raised by
                # -W error (the import itself succeeded; the guard decides what follows)
                warnings.filterwarnings("always", message=re.escape(WARNING_START),
                                        category=RuntimeWarning)
                try:
                    yield watch
                finally:
                    caught = list(recorded)
        finally:  # also when the block raised: the culprit is named, other warnings shown
            _local.guarding = False
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)
            _settle(watch, caught)


def _settle(watch: Watch, caught: list[warnings.WarningMessage]) -> None:
    """After a guard: give the culprit its warning, and show the block's other warnings as the
    filters had decided to (recording had taken them all)."""
    global _culprit
    gil_warnings = [w for w in caught if str(w.message).startswith(WARNING_START)]
    for w in caught:
        if w not in gil_warnings:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
    if _culprit is None and gil_on():  # turned on inside the block, outside any module load
        name = _warned_module(gil_warnings[0]) if gil_warnings else None
        _culprit = Culprit(name or "?", None, (name or "?",))
    if _culprit is not None and watch.active and gil_warnings:
        _culprit = dataclasses.replace(_culprit, warning=str(gil_warnings[0].message))
    if _culprit is not None and gil_on():
        watch.culprit = _culprit


def _warned_module(w: warnings.WarningMessage) -> str | None:
    """The module CPython's warning names ("... to load module 'NAME', which ...")."""
    text = str(w.message)
    start = text.find("module '")
    end = text.find("'", start + len("module '"))
    return text[start + len("module '"):end] if start >= 0 and end > start else None


def import_module(name: str) -> tuple[ModuleType, Culprit | None]:
    """``importlib.import_module(name)`` under ``guard()``: the module, and the culprit if
    this import turned the GIL on (None otherwise, and always on a GIL build)."""
    if name in sys.modules or not ACTIVE:
        return importlib.import_module(name), None
    with guard() as watch:
        module = importlib.import_module(name)
    return module, watch.culprit


#: Set to a non-empty value to ignore the compiled extensions even when they are installed
#: (like propcache's PROPCACHE_NO_EXTENSIONS): the pure-Python variants still run.
NO_EXTENSIONS_ENV = "GILBENCH_NO_EXTENSIONS"


def load_extension(module: str) -> tuple[Any | None, str]:
    """Import a compiled kernel module; return (module, "") or (None, why it is missing)."""
    if os.environ.get(NO_EXTENSIONS_ENV):
        return None, f"disabled by {NO_EXTENSIONS_ENV}={os.environ[NO_EXTENSIONS_ENV]}"
    try:
        # guarded: on a free-threaded build, a twin built without freethreading_compatible
        # turns the GIL back on, and the failing cells then name it (gilguard.culprit)
        return import_module(module)[0], ""
    except ImportError as exc:
        return None, (
            f"compiled extension {module} not importable ({exc}); "
            "reinstall with a C compiler and Cython: pip install ."
        )


__all__ = ["ACTIVE", "Culprit", "FIX", "NO_EXTENSIONS_ENV", "Watch", "culprit", "gil_on", "guard",
           "import_module", "load_extension"]
