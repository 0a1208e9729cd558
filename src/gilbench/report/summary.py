"""Machine-readable summaries of a results document, for CI logs and dashboards
(``gilbench report FILE --format json|csv``).

- ``summary(doc)``: one small JSON-ready document: the host, the verdict table (each
  (kernel, variant, executor) judged at its verdict worker count, with its speedup interval
  and the speedup curve over the worker counts), the claims, and counts of cells.
- ``to_csv(doc)``: one row per cell (``CSV_FIELDS``), floats written exactly (``repr``), so
  ``read_csv`` gives back the file's numbers; the verdict is the report's (``analysis.verdict``).

Both read only the results document, like the rest of the report; the fields are documented
in README.md ("Machine-readable summaries").
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from gilbench.cell import Cell
from gilbench.results import json_safe

from . import analysis as A
from .claims import claims_of

SCHEMA = "gilbench-summary"
SCHEMA_VERSION = 1
#: what of the results file's host section the summary keeps
HOST_FIELDS = ("hostname", "platform", "cpu_model", "logical_cores", "usable_cores",
               "python_implementation", "python_version", "build", "gil_enabled")
#: the columns of ``to_csv``, in order
CSV_FIELDS = ("kernel", "variant", "executor", "workers", "start_method", "scaling", "size",
              "repeats", "median_s", "speedup", "speedup_low", "speedup_high", "efficiency",
              "cpu_utilization", "verdict", "verdict_words", "error")
_INTS = frozenset({"workers", "size", "repeats"})
_FLOATS = frozenset({"median_s", "speedup", "speedup_low", "speedup_high", "efficiency",
                     "cpu_utilization"})


def _interval(cell: Cell | dict) -> dict[str, float | None]:
    sp = Cell.read(cell).speedup
    return ({"median": sp.median, "low": sp.low, "high": sp.high} if sp
            else {"median": None, "low": None, "high": None})


def _verdict(cell: dict, cores: int) -> tuple[str, str]:
    """(code, words) by the report's rule; ("", "") for a serial cell (the baseline)."""
    if A.family(cell) == "serial" and not A.is_failed(cell):
        return "", ""
    v = A.verdict(cell, cores)
    return v.code, v.label


def summary(doc: dict) -> dict[str, Any]:
    """The summary document (see the module doc and README)."""
    host = doc.get("host", {})
    curves = A.curves(doc["cells"])
    verdicts = []
    for j in A.judge(doc):
        verdicts.append({
            "kernel": j.kernel, "variant": j.variant, "executor": j.executor,
            "workers": j.workers, "verdict": j.verdict.code, "words": j.verdict.label,
            "decided": j.verdict.decided, "speedup": _interval(j.cell),
            "cpu_utilization": j.cell.get("cpu_utilization"),
            "curve": [{"workers": Cell.read(c).workers, **_interval(c)}
                      for c in curves[(j.kernel, j.variant, j.executor)]],
        })
    failed = sum(1 for c in doc["cells"] if A.is_failed(c))
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "source": {k: doc.get(k) for k in ("schema", "schema_version", "created", "finished",
                                           "command")},
        "host": {k: host.get(k) for k in HOST_FIELDS},
        "cells": {"total": len(doc["cells"]), "failed": failed},
        "verdicts": verdicts,
        "claims": [{k: c[k] for k in ("id", "verdict", "evidence", "decided_by")}
                   for c in claims_of(doc)],
    }


def cell_row(cell: dict, cores: int) -> dict[str, Any]:
    """One cell as a row of ``CSV_FIELDS`` (None where the cell has no value)."""
    code, words = _verdict(cell, cores)
    sp = _interval(cell)
    row = {k: cell.get(k) for k in CSV_FIELDS}
    row.update(speedup=sp["median"], speedup_low=sp["low"], speedup_high=sp["high"],
               verdict=code, verdict_words=words)
    return row


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def to_csv(doc: dict) -> str:
    """Every cell as one CSV row (header ``CSV_FIELDS``); an empty field is a missing value."""
    cores = A.usable_cores(doc)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for cell in doc["cells"]:
        row = cell_row(cell, cores)
        writer.writerow([_text(row[k]) for k in CSV_FIELDS])
    return out.getvalue()


def read_csv(text: str) -> list[dict[str, Any]]:
    """``to_csv``'s rows back, typed: integers, floats, None for empty fields."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for k, v in raw.items():
            if v == "":
                row[k] = None
            elif k in _INTS:
                row[k] = int(v)
            elif k in _FLOATS:
                row[k] = float(v)
            else:
                row[k] = v
        rows.append(row)
    return rows


def to_json(doc: dict) -> str:
    """``summary(doc)`` as standard JSON text (NaN and infinity written as null)."""
    return json.dumps(json_safe(summary(doc)), indent=2, ensure_ascii=False) + "\n"


__all__ = ["CSV_FIELDS", "HOST_FIELDS", "SCHEMA", "SCHEMA_VERSION", "cell_row", "read_csv",
           "summary", "to_csv", "to_json"]
