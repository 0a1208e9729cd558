"""The experiments registry: the article's claims that speedup cells cannot decide.

Each experiment is one module here with ``NAME``, ``TITLE``, ``MEASURES`` (what it measures,
in a sentence or two), ``CLAIMS`` (the claim ids of the report it decides) and
``run(quick, *, progress=None, **params) -> dict`` returning plain JSON data. Every run is
bounded in time (quick: a few seconds; full: under a minute) and leaves no thread or child
process behind.

``run_experiment(name, quick)`` adds the metadata every result carries (name, title, what it
measures, when it ran, how long it took, the host's usable cores) around the module's data.

The start-up experiments' child targets live outside this package (``gilbench.child_targets``),
so that a child does not import this registry and what it imports.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any, Callable

from gilbench import host
from gilbench.errors import UnknownNameError, one_line
from gilbench.experiments._common import other_cpu_cores
from gilbench.results import now_iso

# name -> module, in the order reports show them
_MODULES = {
    "convoy": "gilbench.experiments.convoy",
    "switch-interval": "gilbench.experiments.switch_interval",
    "contention": "gilbench.experiments.contention",
    "queue-pipe": "gilbench.experiments.queue_pipe",
    "startup": "gilbench.experiments.startup",
    "pickle": "gilbench.experiments.pickling",
    "break-even": "gilbench.experiments.break_even",
}


def names() -> list[str]:
    """The registered experiment names, in display order."""
    return list(_MODULES)


def get(name: str) -> ModuleType:
    """The module of experiment ``name``; UnknownNameError (a KeyError) lists the valid ones."""
    try:
        module = _MODULES[name]
    except KeyError:
        raise UnknownNameError("experiment", name, names()) from None
    return importlib.import_module(module)


def run_experiment(name: str, quick: bool = False,
                   progress: Callable[[str], None] | None = None, **params: Any) -> dict:
    """Run experiment ``name`` and return its results document section (plain JSON data).

    The dict holds the experiment's own data plus ``name``, ``title``, ``measures``,
    ``claims``, ``quick``, ``started`` (ISO 8601), ``duration_s``, ``usable_cores``,
    ``load_average_start``/``_end`` (which count this run's own workers too),
    ``other_cpu_cores_before``/``_after`` (cores other processes kept busy in a 0.25 s
    sample just before and just after, while this process idled; None off Linux) and
    ``error`` (None here: exceptions propagate;
    ``gilbench claims`` records them with ``failed_experiment``).
    """
    module = get(name)
    started = now_iso()
    load_start = host.load_average()
    # the load average counts our own workers too; what others take is sampled while idle
    others_before = other_cpu_cores()
    t0 = time.perf_counter()
    data = module.run(quick, progress=progress, **params)
    duration = time.perf_counter() - t0
    return {
        **_section(name, quick, started, duration),
        "usable_cores": host.usable_cores(),
        # other tenants of a shared host show here: timings under load are not comparable
        "load_average_start": load_start,
        "load_average_end": host.load_average(),
        "other_cpu_cores_before": others_before,
        "other_cpu_cores_after": other_cpu_cores(),
        "error": None,
        **data,
    }


def _section(name: str, quick: bool, started: str, duration_s: float) -> dict:
    """What every experiment's section starts with, whether it ran or raised."""
    module = get(name)
    return {
        "name": name,
        "title": module.TITLE,
        "measures": module.MEASURES,
        "claims": list(module.CLAIMS),
        "quick": bool(quick),
        "started": started,
        "duration_s": duration_s,
    }


def failed_experiment(name: str, quick: bool, exc: BaseException, started: str,
                      duration_s: float) -> dict:
    """The section recorded for an experiment that raised: metadata and a one-line error."""
    return {
        **_section(name, quick, started, duration_s),
        "error": one_line(exc),
    }


__all__ = ["failed_experiment", "get", "names", "run_experiment"]
