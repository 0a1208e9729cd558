"""The versioned results document: write it as cells finish, read it back, validate it.

A results file is one JSON object::

    {
      "schema": "gilbench-results",
      "schema_version": 1,
      "created": "2026-11-26T08:00:00+00:00",   # ISO 8601, UTC
      "finished": "..." | null,                 # null: the run was interrupted or is running
      "command": ["gilbench", "run", ...],
      "config": {...},                          # what was asked for (kernels, workers, ...)
      "host": {...},                            # gilbench.host.host_info() + load averages
      "cells": [CELL, ...],                     # one per (kernel, variant, executor, workers)
      "experiments": {NAME: {...}}              # optional: `gilbench claims` experiments
    }

A CELL has at least the keys in ``CELL_FIELDS``; times are seconds (``_s``), lists hold one
value per measured repeat. ``speedup`` is ``{"median", "low", "high"}`` (bootstrap 95% interval)
or null for failed cells; ``error`` is null or a one-line explanation.

The file is rewritten atomically (temporary file + ``os.replace``) after every cell, so an
interrupted run leaves a valid document holding every finished cell. Reading never executes
anything from the file: it is parsed as JSON and checked field by field.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = "gilbench-results"
SCHEMA_VERSION = 1

#: key -> accepted types (None allowed where listed)
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

#: families of executors, for grouping in reports
FAMILIES = ("serial", "threads", "asyncio", "processes", "interpreters")


class ResultsError(ValueError):
    """A results file that cannot be used; the message names the first problem and where."""


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_document(config: dict[str, Any], host: dict[str, Any], command: list[str]) -> dict:
    """An empty results document for a run about to start."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": now_iso(),
        "finished": None,
        "command": list(command),
        "config": config,
        "host": host,
        "cells": [],
    }


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null so the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write(doc: dict, path: str | os.PathLike) -> Path:
    """Write ``doc`` to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_clean(doc), fh, indent=1, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class ResultsWriter:
    """Keeps a results document on disk up to date as cells finish."""

    def __init__(self, path: str | os.PathLike, doc: dict):
        self.path = Path(path)
        self.doc = doc
        write(self.doc, self.path)

    def add_cell(self, cell: dict) -> None:
        self.doc["cells"].append(cell)
        write(self.doc, self.path)

    def set(self, key: str, value: Any) -> None:
        self.doc[key] = value
        write(self.doc, self.path)

    def finish(self, **extra_host: Any) -> None:
        self.doc["host"].update(extra_host)
        self.doc["finished"] = now_iso()
        write(self.doc, self.path)


def _check_type(value: Any, types: tuple[type, ...], where: str) -> None:
    # bool is an int in Python; do not let True pass as a worker count
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise ResultsError(f"{where}: expected {names}, got {type(value).__name__} {value!r:.60}")


def validate(doc: Any, source: str = "results") -> dict:
    """Check a parsed document; returns it, or raises ResultsError naming the first problem."""
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: expected a JSON object at the top, got {type(doc).__name__}")
    if doc.get("schema") != SCHEMA:
        raise ResultsError(
            f"{source}: not a gilbench results file (field 'schema' is {doc.get('schema')!r}, "
            f"expected {SCHEMA!r})"
        )
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultsError(f"{source}: 'schema_version' must be an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise ResultsError(
            f"{source}: schema version {version} is newer than this gilbench understands "
            f"({SCHEMA_VERSION}); upgrade gilbench (pip install -U gilbench)"
        )
    if version < SCHEMA_VERSION:
        raise ResultsError(
            f"{source}: schema version {version} is older than this gilbench reads "
            f"({SCHEMA_VERSION}); re-run `gilbench run` to measure again"
        )
    for key, types in (("host", (dict,)), ("config", (dict,)), ("cells", (list,))):
        if key not in doc:
            raise ResultsError(f"{source}: missing field '{key}'")
        _check_type(doc[key], types, f"{source}: field '{key}'")
    for i, cell in enumerate(doc["cells"]):
        where = f"{source}: cells[{i}]"
        _check_type(cell, (dict,), where)
        for key, types in CELL_FIELDS.items():
            if key not in cell:
                raise ResultsError(f"{where}: missing field '{key}'")
            _check_type(cell[key], types, f"{where}.{key}")
        if cell["workers"] < 1:
            raise ResultsError(f"{where}.workers: must be at least 1, got {cell['workers']}")
        for key in ("wall_s", "cpu_s"):
            for j, t in enumerate(cell[key]):
                _check_type(t, (float, int), f"{where}.{key}[{j}]")
        sp = cell["speedup"]
        if sp is not None:
            for key in ("median", "low", "high"):
                if key not in sp:
                    raise ResultsError(f"{where}.speedup: missing field '{key}'")
                _check_type(sp[key], (float, int, type(None)), f"{where}.speedup.{key}")
    return doc


def read(path: str | os.PathLike) -> dict:
    """Read and validate a results file; ResultsError says what is wrong and where."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file ends early: truncated?)" if exc.pos >= len(text.rstrip()) else ""
        raise ResultsError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}{hint}"
        ) from None
    return validate(doc, str(path))
