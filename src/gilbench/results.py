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
      "kernels": {NAME: {...}},                 # optional: kernel_section(), the report's facts
      "experiments": {NAME: {...}}              # optional: `gilbench claims` experiments
    }

A CELL (``gilbench.cell.Cell``, which checks it) has at least the keys in ``CELL_FIELDS``;
times are seconds (``_s``), lists hold one value per measured repeat. ``speedup`` is
``{"median", "low", "high"}`` (paired rounds: Hodges–Lehmann with Wilcoxon's 95% interval;
cells timed one at a time: a bootstrap 95% interval) or null for failed cells; ``error`` is
null or a one-line explanation.

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
from typing import Any, Iterable

# the cell's part of the schema lives with its record (gilbench.cell); named here as before
from gilbench.cell import (CELL_CHOICES, CELL_FIELDS, FAMILIES,  # noqa: F401
                           OPTIONAL_CELL_FIELDS, SPEEDUP_SLACK, Cell)
from gilbench.cell import check_fields
from gilbench.cell import json_type as _json_type
from gilbench.cell import short as _short
from gilbench.errors import ResultsError

SCHEMA = "gilbench-results"
SCHEMA_VERSION = 1

#: every variant name any kernel may have, in display order
VARIANT_ORDER = ("python", "cython-gil", "cython-nogil", "numpy", "stdlib")


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


def kernel_section(kernels: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The document's ``kernels`` section: what the report needs to know about each kernel
    measured (so it never asks the kernel registry), in the order given (the registry's).

    ``kernels`` are kernel declarations (``gilbench.kernels.Kernel``: ``name``, ``kind``,
    ``unit``, ``description`` and ``variants`` with ``name``, ``releases_gil``,
    ``description``). Returns ``{name: {"kind", "unit", "description", "variants": {...}}}``.
    """
    return {
        k.name: {
            "kind": k.kind,
            "unit": k.unit,
            "description": k.description,
            "variants": {v.name: {"releases_gil": v.releases_gil, "description": v.description}
                         for v in k.variants},
        }
        for k in kernels
    }


def json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null so the file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class OutputError(ResultsError):
    """The results file could not be written (no space left, read-only, no such directory);
    ``path`` is the file, ``cause`` the OSError."""

    def __init__(self, path: str | os.PathLike, cause: OSError):
        self.path, self.cause = Path(path), cause
        reason = cause.strerror or str(cause)
        where = f" ({cause.filename})" if cause.filename and str(cause.filename) != str(path) else ""
        super().__init__(f"cannot write {path}: {reason}{where}")


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it straight back
    os.umask(mask)
    return mask


def write(doc: dict, path: str | os.PathLike) -> Path:
    """Write ``doc`` to ``path`` atomically, with the permissions the user's umask gives a new
    file (as a report's are); returns the path. OutputError if the file cannot be written:
    the file on disk is then the previous complete version (or absent), never a partial one."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # mkstemp creates the file 0600; a results file is shared like any other output
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(json_safe(doc), fh, indent=1, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise OutputError(path, exc) from exc
        raise
    return path


class ResultsLock:
    """One writer per results file: an advisory lock (``flock``) on ``FILE.lock`` holding the
    writer's pid. The kernel drops the lock when its holder dies, however it dies, so the lock
    file of a killed run does not block the next one."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> "ResultsLock":
        """Take the lock; ResultsError naming the other run's pid if it holds it."""
        import fcntl

        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputError(self.lock_path, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise ResultsError(
                    f"{self.path} is being written by another gilbench run (pid {pid}); wait "
                    "for it to finish, or write this run elsewhere with --out FILE") from None
            except OSError as exc:
                os.close(fd)
                raise OutputError(self.lock_path, exc) from None
            # the holder we waited on may have removed the lock file as we opened it: then
            # we locked a file nobody else can see; start again with the current one
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.lock_path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "ResultsLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class ResultsWriter:
    """Keeps a results document on disk up to date as cells finish."""

    def __init__(self, path: str | os.PathLike, doc: dict):
        self.path = Path(path)
        self.doc = doc
        write(self.doc, self.path)

    def add_cell(self, cell: "Cell | dict") -> None:
        self.doc["cells"].append(cell.as_dict() if isinstance(cell, Cell) else cell)
        write(self.doc, self.path)

    def set(self, key: str, value: Any) -> None:
        self.doc[key] = value
        write(self.doc, self.path)

    def finish(self, **extra_host: Any) -> None:
        self.doc["host"].update(extra_host)
        self.doc["finished"] = now_iso()
        write(self.doc, self.path)


#: top-level fields checked when present
OPTIONAL_TOP_FIELDS: dict[str, tuple[type, ...]] = {
    "created": (str,),
    "finished": (str, type(None)),
    "command": (list,),
    "experiments": (dict,),
    "kernels": (dict,),
    "interpreters": (dict,),  # `gilbench try --python`: every interpreter's run, side by side
}


def validate(doc: Any, source: str = "results") -> dict:
    """Check a parsed document; returns it, or raises ResultsError naming the first problem
    (its path in the document, what was expected and what is there)."""
    if not isinstance(doc, dict):
        raise ResultsError(f"{source}: expected a JSON object at the top, got {_json_type(doc)}")
    if doc.get("schema") != SCHEMA:
        raise ResultsError(
            f"{source}: not a gilbench results file (field 'schema' is "
            f"{_short(doc.get('schema'))}, expected {SCHEMA!r})"
        )
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultsError(f"{source}: 'schema_version' must be an integer, got "
                           f"{_short(version)}")
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
    check_fields(doc, {"host": (dict,), "config": (dict,), "cells": (list,)}, OPTIONAL_TOP_FIELDS,
                 source, lambda key: f"{source}: field '{key}'")
    seen: dict[tuple, int] = {}
    for i, stored in enumerate(doc["cells"]):
        cell = Cell.from_dict(stored, f"{source}: cells[{i}]")
        key = (*cell.key, cell.start_method)
        if key in seen:
            raise ResultsError(
                f"{source}: cells[{i}]: the same cell as cells[{seen[key]}] ({key[0]}/{key[1]} "
                f"with {key[2]} at {key[3]} workers): a run measures each cell once")
        seen[key] = i
    return doc


def _no_constants(name: str) -> Any:
    raise ResultsError(f"{name} is not a JSON value (a results file writes null instead)")


def loads(text: str, source: str = "results") -> dict:
    """Parse and validate the text of a results file; ResultsError says what is wrong and where.

    Only JSON is parsed (nothing in the text is ever executed or imported).
    """
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        # a results file ends with the "}" of its top-level object; one that stops before it,
        # or breaks off at its very end, was most likely cut short (a full disk, a copy)
        stripped = text.rstrip()
        truncated = exc.pos >= len(stripped) or not stripped.endswith("}")
        hint = " (the file ends early: truncated?)" if truncated else ""
        # some messages end in "at", the place following in str(exc) ("Unterminated string
        # starting at"): the place is said first here, so the phrase ends on "there"
        msg = exc.msg[:-len(" at")] + " there" if exc.msg.endswith(" at") else exc.msg
        raise ResultsError(
            f"{source}: not valid JSON at line {exc.lineno}, column {exc.colno}: {msg}{hint}"
        ) from None
    except ResultsError as exc:
        raise ResultsError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ResultsError(f"{source}: not a results file: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ResultsError(f"{source}: not valid JSON: {exc}") from None
    return validate(doc, source)


def read(path: str | os.PathLike) -> dict:
    """Read and validate a results file; ResultsError says what is wrong and where."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, not a results file") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: not a results file: byte {exc.start} is not UTF-8 text"
                           ) from None
    if not text.strip():
        raise ResultsError(f"{path}: the file is empty")
    return loads(text, str(path))
