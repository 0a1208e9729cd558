"""The results cell as a record: one measured (kernel, variant, executor, workers), typed.

A results file stores each cell as a JSON object (``results.py`` describes the document);
``Cell.from_dict`` reads one, checking it field by field (the schema check: a ResultsError
names the field, what was expected and what is there), and ``Cell.as_dict`` writes it back
exactly: the keys it was read with, in their order, then any field set since, so an old file
reads and writes unchanged. Code above reads ``cell.speedup.median``, never ``cell["..."]``.

``CellKey`` is the one key of a cell, shared with ``measure.CellSpec.key``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from gilbench.errors import ResultsError

#: families of executors, in display order (each executor class declares its own family)
FAMILIES = ("serial", "threads", "asyncio", "processes", "interpreters")

#: key -> accepted types (None allowed where listed): every cell has these
CELL_FIELDS: dict[str, tuple[type, ...]] = {
    "kernel": (str,),
    "variant": (str,),
    "executor": (str,),
    "family": (str,),
    "workers": (int,),
    "start_method": (str, type(None)),
    "scaling": (str,),
    "size": (int,),
    "n_chunks": (int,),
    "wall_s": (list,),
    "cpu_s": (list,),
    "median_s": (float, int, type(None)),
    "speedup": (dict, type(None)),
    "efficiency": (float, int, type(None)),
    "cpu_utilization": (float, int, type(None)),
    "stable": (bool,),
    "error": (str, type(None)),
}

#: cell fields of the contract that older or converted files may lack: checked when present
OPTIONAL_CELL_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "unit": (str,),
    "repeats": (int,),
    "iqr_s": (float, int, type(None)),
    "cold_wall_s": (float, int, type(None)),
    "startup_s": (float, int, type(None)),
    "startup_note": (str, type(None)),
    "serial_median_s": (float, int, type(None)),
    "throughput": (float, int, type(None)),
    "unstable_reason": (str, type(None)),
    "timed_out": (bool,),
    "result_ok": (bool, type(None)),
}

#: closed vocabularies of the contract: field -> accepted values
CELL_CHOICES: dict[str, tuple[Any, ...]] = {
    "family": FAMILIES,
    "scaling": ("strong", "weak"),
    "kind": ("cpu", "memory", "io"),
}

#: how far (as a factor beyond its interval) a speedup may be from serial_median_s / median_s:
#: the speedup is the median of per-round ratios, not the ratio of the medians, so the two
#: differ a little on noisy hosts; a factor of 2 past the interval is not noise
SPEEDUP_SLACK = 2.0


class CellKey(NamedTuple):
    """What names a cell in a run (a run measures each once per start method)."""

    kernel: str
    variant: str
    executor: str
    workers: int


@dataclass(frozen=True)
class Speedup:
    """T(serial) / T(cell) with its 95% interval; ``extra`` keeps what the method adds
    (``n``, ``method``). Bounds are None where a file wrote NaN as null."""

    median: float | None
    low: float | None
    high: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the stored keys, in their order (``as_dict`` writes them so; empty: median, low, high)
    keys: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Speedup":
        return cls(d.get("median"), d.get("low"), d.get("high"),
                   {k: v for k, v in d.items() if k not in ("median", "low", "high")},
                   tuple(d))

    def as_dict(self) -> dict[str, Any]:
        """The stored object: the keys it was read with, in their order (made in code:
        median, low, high, then ``extra``)."""
        own = {"median": self.median, "low": self.low, "high": self.high, **self.extra}
        return {k: own[k] for k in self.keys if k in own} if self.keys else own


#: Cell attributes that are not fields of the stored object
_NOT_STORED = ("extra", "keys")


class Keyed:
    """What names a cell, for the record and for ``measure.CellSpec`` (the configuration to
    measure) alike: a class with ``kernel``, ``variant``, ``executor`` and ``workers``."""

    kernel: str
    variant: str
    executor: str
    workers: int

    @property
    def key(self) -> CellKey:
        return CellKey(self.kernel, self.variant, self.executor, self.workers)

    @property
    def label(self) -> str:
        return f"{self.kernel}/{self.variant}/{self.executor}/{self.workers}"


@dataclass(eq=False)
class Cell(Keyed):
    """One results cell. Fields are the stored object's keys (``results.py``); a field a file
    lacks reads as its default here and stays absent when written back."""

    kernel: str
    variant: str
    executor: str
    workers: int
    family: str = ""
    kind: str | None = None
    unit: str | None = None
    start_method: str | None = None
    scaling: str = "strong"
    #: the CPUs each worker was pinned to, or the ones all may use, or why none
    placement: dict[str, Any] | None = None
    size: int = 0
    n_chunks: int = 0
    repeats: int | None = None
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    cold_wall_s: float | None = None
    startup_s: float | None = None
    median_s: float | None = None
    iqr_s: float | None = None
    serial_median_s: float | None = None
    speedup: Speedup | None = None
    efficiency: float | None = None
    cpu_utilization: float | None = None
    throughput: float | None = None
    #: a cell without it counts as stable (its verdict rests on the interval)
    stable: bool = True
    unstable_reason: str | None = None
    error: str | None = None
    timed_out: bool = False
    result_ok: bool | None = None
    #: what the executor said of itself and its workers (``Executor.facts``: GIL state, pids)
    engine: dict[str, Any] | None = None
    #: the runs of disturbed rounds, kept aside, never counted
    disturbed: list[dict[str, Any]] | None = None
    disturbed_rounds: int | None = None
    host_busy: bool = False
    budget_reason: str | None = None
    startup_note: str | None = None
    #: the paired round of each wall time
    rounds: list[int] | None = None
    noise: dict[str, Any] | None = None
    serial_cpu_per_run_s: float | None = None
    #: ``verdicts.Verdict.as_dict()`` as judged when measured
    verdict: dict[str, Any] | None = None
    #: stored keys this record has no field for, kept as they were
    extra: dict[str, Any] = field(default_factory=dict)
    #: the stored keys, in their order (``as_dict`` writes these, then fields set since)
    keys: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Any, where: str = "cell") -> "Cell":
        """The record of a stored cell, checked against the schema; ResultsError naming the
        first problem (``where.field``: what was expected, what is there)."""
        check(d, where)
        return cls.read(d)

    @classmethod
    def read(cls, d: "dict[str, Any] | Cell") -> "Cell":
        """The record of a cell object without the schema check (a cell made in code or
        read before); a Cell is returned as it is. Missing fields take their defaults."""
        if isinstance(d, Cell):
            return d
        known = {k: v for k, v in d.items() if k in _FIELDS}
        if isinstance(known.get("speedup"), dict):
            known["speedup"] = Speedup.from_dict(known["speedup"])
        known.setdefault("kernel", "")
        known.setdefault("variant", "")
        known.setdefault("executor", "")
        known.setdefault("workers", 0)
        return cls(**known, extra={k: v for k, v in d.items() if k not in _FIELDS},
                   keys=tuple(d))

    def as_dict(self) -> dict[str, Any]:
        """The stored object: the keys it was read with, in their order, then the fields set
        since (not None), in the record's order."""
        out: dict[str, Any] = {}
        for k in self.keys:
            out[k] = self.extra[k] if k in self.extra else self._stored(k)
        for k in _FIELDS:
            if k not in out:
                value = self._stored(k)
                if value is not None and value != _DEFAULTS.get(k, None):
                    out[k] = value
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    def _stored(self, name: str) -> Any:
        value = getattr(self, name)
        return value.as_dict() if isinstance(value, Speedup) else value

    def replace(self, **changes: Any) -> "Cell":
        """A copy with ``changes``; the stored keys are kept."""
        return dataclasses.replace(self, **changes)


_FIELDS = tuple(f.name for f in dataclasses.fields(Cell) if f.name not in _NOT_STORED)
#: defaults a field set since reading must differ from to be written (False, [], "")
_DEFAULTS = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
             for f in dataclasses.fields(Cell)
             if f.name in _FIELDS and (f.default is not dataclasses.MISSING
                                       or f.default_factory is not dataclasses.MISSING)}


def cells_of(doc: dict[str, Any]) -> list[Cell]:
    """The cells of a results document as records (a document already validated)."""
    return [Cell.read(c) for c in doc["cells"]]


# -- the schema check --------------------------------------------------------------------

def type_names(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "integer", float: "number", str: "string", list: "array",
             dict: "object", type(None): "null"}
    if float in types:  # every integer is a number too
        types = tuple(t for t in types if t is not int)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def json_type(value: Any) -> str:
    return type_names((type(value),)) if value is None or isinstance(
        value, (bool, int, float, str, list, dict)) else type(value).__name__


def check_type(value: Any, types: tuple[type, ...], where: str) -> None:
    # bool is an int in Python; do not let True pass as a worker count
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if ok and isinstance(value, float) and not math.isfinite(value):
        ok = False  # 1e999 parses as inf
    if not ok:
        raise ResultsError(f"{where}: expected {type_names(types)}, got {json_type(value)} "
                           f"{short(value)}")


def short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else (
        f"{'{...}' if isinstance(value, dict) else '[...]'} of {len(value)} items")
    return text if len(text) <= 60 else text[:57] + "..."


def _check_at_least(value: Any, minimum: float, where: str) -> None:
    if value is not None and value < minimum:
        raise ResultsError(f"{where}: must be at least {minimum:g}, got {value!r}")


def _check_positive(value: float, where: str) -> None:
    if not value > 0:
        raise ResultsError(f"{where}: must be positive, got {value!r}")


def check_fields(obj: dict, required: dict[str, tuple[type, ...]],
                 optional: dict[str, tuple[type, ...]], where: str,
                 named: Callable[[str], str]) -> None:
    """Every ``required`` key present and of its types, every ``optional`` one of its types
    where present (a cell's fields, a document's top level); ResultsError at ``where``, the
    key said as ``named(key)``."""
    for key, types in required.items():
        if key not in obj:
            raise ResultsError(f"{where}: missing field '{key}'")
        check_type(obj[key], types, named(key))
    for key, types in optional.items():
        if key in obj:
            check_type(obj[key], types, named(key))


def check(cell: Any, where: str) -> None:
    """Check a stored cell against the schema; ResultsError naming the first problem."""
    check_type(cell, (dict,), where)
    check_fields(cell, CELL_FIELDS, OPTIONAL_CELL_FIELDS, where, lambda key: f"{where}.{key}")
    for key, choices in CELL_CHOICES.items():
        if key in cell and cell[key] not in choices:
            raise ResultsError(f"{where}.{key}: expected one of {', '.join(choices)}, "
                               f"got {short(cell[key])}")
    _check_at_least(cell["workers"], 1, f"{where}.workers")
    for key in ("size", "n_chunks", "repeats"):  # 0 for cells that could not be measured
        if key in cell:
            _check_at_least(cell[key], 0, f"{where}.{key}")
    for j, t in enumerate(cell["wall_s"]):
        check_type(t, (float, int), f"{where}.wall_s[{j}]")
        _check_positive(t, f"{where}.wall_s[{j}]")
    for j, t in enumerate(cell["cpu_s"]):
        # a task that only waits may use no measurable CPU time: 0 is possible, < 0 is not
        check_type(t, (float, int), f"{where}.cpu_s[{j}]")
        _check_at_least(t, 0, f"{where}.cpu_s[{j}]")
    for key in ("median_s", "cold_wall_s", "serial_median_s", "throughput"):
        if cell.get(key) is not None:
            _check_positive(cell[key], f"{where}.{key}")
    for key in ("iqr_s", "efficiency", "cpu_utilization"):
        _check_at_least(cell.get(key), 0, f"{where}.{key}")
    _check_startup(cell, where)
    sp = cell["speedup"]
    if sp is not None:
        for key in ("median", "low", "high"):
            if key not in sp:
                raise ResultsError(f"{where}.speedup: missing field '{key}'")
            check_type(sp[key], (float, int, type(None)), f"{where}.speedup.{key}")
            if sp[key] is not None:
                _check_positive(sp[key], f"{where}.speedup.{key}")
        _check_speedup(cell, sp, where)


def _check_speedup(cell: dict, sp: dict, where: str) -> None:
    """The interval holds its median, and agrees with the cell's own times."""
    low, median, high = sp["low"], sp["median"], sp["high"]
    if None not in (low, median, high) and not low * (1 - 1e-9) <= median <= high * (1 + 1e-9):
        raise ResultsError(f"{where}.speedup: median {median!r} is outside its interval "
                           f"[{low!r}, {high!r}]")
    serial, own = cell.get("serial_median_s"), cell.get("median_s")
    if None in (low, high, serial, own) or cell.get("scaling", "strong") != "strong":
        return
    implied = serial / own
    if not low / SPEEDUP_SLACK <= implied <= high * SPEEDUP_SLACK:
        raise ResultsError(
            f"{where}.speedup: [{low:.3g}, {high:.3g}] cannot come from its own times "
            f"(serial_median_s / median_s = {implied:.3g})")


def _check_startup(cell: dict, where: str) -> None:
    """Start-up is the cold run minus the warm median: noise can make it a little negative,
    but never below minus the median (a cold run that took no time at all)."""
    startup, median = cell.get("startup_s"), cell.get("median_s")
    if startup is None or median is None:
        return
    if startup <= -median:
        raise ResultsError(f"{where}.startup_s: {startup!r} s would make the cold run take "
                           f"no time (median_s is {median!r} s)")
