"""Turn the pytest-benchmark JSON of gilbench's ``bench/`` suite into a gilbench results document.

``pytest bench/ --benchmark-json out.json`` writes, for every cell, the raw numbers in the
benchmark's ``extra_info`` (wall and Σ task CPU seconds per round, the cold first call, size,
chunks, ...; see bench/conftest.py), and a top-level ``"gilbench"`` header (host, config,
command). ``to_results`` rebuilds each cell with ``gilbench.measure.summarize`` — the function
``gilbench run`` uses — against the serial benchmark of the same kernel and variant in the same
file, so speedups, intervals, CPU utilisation and stability follow exactly the same rules.

Round times come from ``extra_info["wall_s"]`` (``perf_counter`` around ``executor.run``, as in
``gilbench run``), which is present whatever pytest-benchmark options were used; a JSON without
it falls back on pytest-benchmark's own ``stats["data"]`` (written by ``--benchmark-json``, and by
``--benchmark-save`` with ``--benchmark-save-data``).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from gilbench import kernels, results
from gilbench.measure import CellSpec, Raw, summarize

#: extra_info keys without which a benchmark cannot become a cell
REQUIRED = ("kernel", "variant", "executor", "workers", "size", "n_chunks", "cpu_s")


def is_pytest_benchmark(data: Any) -> bool:
    """Whether ``data`` looks like a pytest-benchmark JSON (rather than a results document)."""
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def _is_cell(bench: Any) -> bool:
    info = bench.get("extra_info") if isinstance(bench, dict) else None
    return isinstance(info, dict) and all(key in info for key in REQUIRED)


def _raw(bench: dict, where: str) -> Raw:
    info = bench["extra_info"]
    wall = info.get("wall_s")
    if wall is None:
        wall = (bench.get("stats") or {}).get("data")
    if wall is None:
        raise results.ResultsError(
            f"{where}: no round times (extra_info has no 'wall_s' and stats no 'data'; "
            "write the file with --benchmark-json)")
    raw = Raw(wall_s=[float(t) for t in wall], cpu_s=[float(t) for t in info["cpu_s"]],
              cold_wall_s=info.get("cold_wall_s"), cold_cpu_s=info.get("cold_cpu_s"),
              error=info.get("raw_error"), timed_out=bool(info.get("timed_out", False)),
              result=info.get("result"))
    if raw.error is None and len(raw.wall_s) != len(raw.cpu_s):
        raw.error = (f"{len(raw.wall_s)} wall times but {len(raw.cpu_s)} CPU times: "
                     "the file mixes rounds of different runs")
    return raw


def _spec(info: dict) -> CellSpec:
    return CellSpec(info["kernel"], info["variant"], info["executor"], int(info["workers"]),
                    int(info["size"]), int(info["n_chunks"]), info.get("start_method"),
                    info.get("scaling", "strong"))


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
        "workers": sorted({i["workers"] for i in infos if i["executor"] != "serial"} or {1}),
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

    cells_in: list[tuple[CellSpec, Raw]] = []
    for i, bench in enumerate(benches):
        where = f"{source}: benchmark {bench.get('name', i)!r}"
        try:
            cells_in.append((_spec(bench["extra_info"]), _raw(bench, where)))
        except results.ResultsError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. a size that is not a number
            raise results.ResultsError(f"{where}: unreadable extra_info ({exc})") from None

    # the baseline of each group: its serial cell, when it ran and did not fail
    serial: dict[tuple, Raw] = {}
    for spec, raw in cells_in:
        if spec.executor == "serial" and raw.error is None and raw.wall_s:
            serial.setdefault((spec.kernel, spec.variant, spec.scaling), raw)

    cells = []
    for spec, raw in cells_in:
        try:
            kernel = kernels.get(spec.kernel)
        except kernels.UnknownNameError as exc:
            raise results.ResultsError(f"{source}: {exc} (written by another gilbench version?)"
                                       ) from None
        baseline = serial.get((spec.kernel, spec.variant, spec.scaling))
        if spec.executor == "serial":
            baseline, reference = raw, None
        else:
            reference = baseline.result if baseline is not None else None
        cells.append(summarize(spec, raw, baseline, kernel, reference))

    header = data.get("gilbench")
    if isinstance(header, dict) and header.get("schema") == results.SCHEMA:
        doc = {k: v for k, v in header.items() if k != "cells"}
        doc["host"] = dict(doc.get("host") or {})
    else:
        doc = _header_from_machine_info(data, infos)
        doc["created"] = _seconds(data.get("datetime")) or doc["created"]
    # the JSON is written when the pytest session ends: the run is complete
    doc["finished"] = _seconds(data.get("datetime")) or results.now_iso()
    doc["host"]["pytest_benchmark_version"] = data.get("version")
    doc["cells"] = cells
    return results.validate(doc, source)
