"""Turn the pytest-benchmark JSON of gilbench's ``bench/`` suite into a gilbench results document.

``pytest bench/ --benchmark-json out.json`` stores, for every cell, the complete results cell in
the benchmark's ``extra_info`` (built by ``gilbench.summary.summarize`` in bench/conftest.py, as
``gilbench run`` builds its cells), and a top-level ``"gilbench"`` header (host, config,
command). ``to_results`` only copies the cells out under that header.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from gilbench import results
from gilbench.cell import Cell

#: extra_info keys without which a benchmark is not a gilbench cell
REQUIRED = tuple(results.CELL_FIELDS)


def is_pytest_benchmark(data: Any) -> bool:
    """Whether ``data`` looks like a pytest-benchmark JSON (rather than a results document)."""
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def _is_cell(bench: Any) -> bool:
    info = bench.get("extra_info") if isinstance(bench, dict) else None
    return isinstance(info, dict) and all(key in info for key in REQUIRED)


def _header_from_machine_info(data: dict, infos: list[dict]) -> dict:
    """A results header for a JSON written without bench/conftest.py's "gilbench" header."""
    machine = data.get("machine_info") or {}
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    usable = next((i["usable_cores"] for i in infos if isinstance(i.get("usable_cores"), int)), None)
    host = {
        "hostname": machine.get("node"),
        "machine": machine.get("machine"),
        "cpu_model": cpu.get("brand_raw"),
        "logical_cores": cpu.get("count"),
        "usable_cores": usable,
        "python_version": machine.get("python_version"),
        "python_implementation": machine.get("python_implementation"),
        "load_average_start": None,
        "load_average_end": None,
    }

    def unique(key: str) -> list:
        return list(dict.fromkeys(i[key] for i in infos))

    config = {
        "kernels": unique("kernel"),
        "variants": unique("variant"),
        "executors": unique("executor"),
        "workers": sorted({c.workers for c in map(Cell.read, infos) if c.executor != "serial"}
                          or {1}),
        "repeats": max((len(i.get("wall_s") or []) for i in infos), default=0),
        "target_time_s": next((i["target_time_s"] for i in infos if "target_time_s" in i), None),
        "quick": None,
        "scaling": infos[0].get("scaling", "strong") if infos else "strong",
        "start_method": next((i["start_method"] for i in infos if i.get("start_method")), None),
    }
    return results.new_document(config, host, ["pytest", "bench/"])


def _seconds(stamp: Any) -> str | None:
    """pytest-benchmark's ISO time, to the second like gilbench's own (None if unreadable)."""
    try:
        return _dt.datetime.fromisoformat(stamp).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return None


def to_results(data: dict) -> dict:
    """A validated gilbench results document from a pytest-benchmark JSON of ``bench/``.

    Raises ``gilbench.results.ResultsError`` (a ValueError) naming the problem when the JSON is
    not a pytest-benchmark file or holds no gilbench cells.
    """
    source = "pytest-benchmark JSON"
    if not is_pytest_benchmark(data) or not isinstance(data["benchmarks"], list):
        raise results.ResultsError(f"{source}: expected an object with 'benchmarks' and "
                                   "'machine_info' (written by pytest --benchmark-json)")
    benches = [b for b in data["benchmarks"] if _is_cell(b)]
    if not benches:
        raise results.ResultsError(
            f"{source}: none of its {len(data['benchmarks'])} benchmarks is a gilbench cell "
            f"(extra_info lacks {', '.join(REQUIRED)}); was it written by `pytest bench/`?")
    infos = [b["extra_info"] for b in benches]
    cells = [dict(info) for info in infos]

    header = data.get("gilbench")
    if isinstance(header, dict) and header.get("schema") == results.SCHEMA:
        doc = {k: v for k, v in header.items() if k != "cells"}
        doc["host"] = dict(doc.get("host") or {})
        # the header describes the kernels the session ran: a cell of another is not its own
        described = doc.get("kernels")
        strays = (sorted({c["kernel"] for c in cells} - set(described))
                  if isinstance(described, dict) else [])
        if strays:
            raise results.ResultsError(
                f"{source}: cells of kernel {', '.join(map(repr, strays))}, which its "
                f"'gilbench' header does not describe (it has {', '.join(described)}); "
                "was it edited, or merged from two runs?")
    else:
        doc = _header_from_machine_info(data, infos)
        doc["created"] = _seconds(data.get("datetime")) or doc["created"]
    # the JSON is written when the pytest session ends: the run is complete
    doc["finished"] = _seconds(data.get("datetime")) or results.now_iso()
    doc["host"]["pytest_benchmark_version"] = data.get("version")
    doc["cells"] = cells
    try:
        return results.validate(doc, source)
    except results.ResultsError as exc:
        raise results.ResultsError(f"{source}: unreadable extra_info ({exc})") from None
