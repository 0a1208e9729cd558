"""The report's break-even section with the engines: one row per executor (per-task overhead,
break-even per task kind), the engines that did not run with their reason, and the published
rules of thumb beside this host's figures. Built from a crafted experiment result, so every
figure checked here is known in advance."""

from __future__ import annotations

from pathlib import Path

import pytest

from gilbench.experiments.break_even import RULES_OF_THUMB
from gilbench.report import experiments as report_experiments
from gilbench.report.experiments import break_even as section_module

EXECUTORS = ("thread-pool", "process-pool", "dask-processes", "joblib-loky")
#: (pool time / serial time) per task duration (us) and executor: every one loses at 10 us
RATIOS = {
    "thread-pool": (3.0, 0.95, 0.6),
    "process-pool": (40.0, 4.0, 0.7),
    "dask-processes": (200.0, 20.0, 2.0),
    "joblib-loky": (60.0, 6.0, 0.8),
}
TASK_US = (10.0, 100.0, 1000.0)


def _sweep(kind: str) -> dict:
    from gilbench.experiments import break_even as experiment

    points = []
    for i, us in enumerate(TASK_US):
        serial = us * 1e-6 * 100
        point = {"target_us": us, "k": 1, "tasks": 100, "task_us": us, "serial_s": serial,
                 "serial_times_s": [serial], "results_agree": True}
        for e in EXECUTORS:
            ratio = RATIOS[e][i] if kind == "cython-nogil" or e != "thread-pool" else 1.5
            point[f"{e}_s"] = serial * ratio
            point[f"{e}_times_s"] = [serial * ratio]
        points.append(point)
    return {"per_number_s": 1e-7, "points": points, "error": None,
            "break_even": {e: experiment.break_even(points, e) for e in EXECUTORS}}


@pytest.fixture
def data() -> dict:
    return {
        "title": "Break-even task size", "measures": "crafted",
        "overhead_us": {"serial": 0.1, "thread-pool": 45.0, "process-pool": 310.0,
                        "dask-processes": 1250.0, "joblib-loky": 480.0},
        "engines": {"ran": ["dask-processes", "joblib-loky"],
                    "unavailable": {"interpreter-pool": "this Python has no subinterpreter API",
                                    "dask-threads": 'distributed is not installed; install it '
                                                    'with: pip install "gilbench[dask]"'}},
        "rules_of_thumb": RULES_OF_THUMB,
        "params": {"win_ratio": 0.9, "task_us": list(TASK_US)},
        "sweeps": {"python": _sweep("python"), "cython-nogil": _sweep("cython-nogil")},
    }


def _row(md: str, first: str) -> list[str]:
    line = next(line for line in md.splitlines() if line.startswith(f"| {first} |"))
    return [c.strip() for c in line.strip("|").split(" | ")]


def test_one_row_per_executor_with_overhead_and_break_even(data, tmp_path: Path) -> None:
    md, claims = section_module.section(data, tmp_path)
    assert (tmp_path / "experiment-break-even.png").is_file()
    assert "| executor | per-task overhead | break-even, python tasks | " \
           "break-even, cython-nogil tasks |" in md
    expected = {}
    for e in EXECUTORS:
        row = _row(md, e)
        expected[e] = row
        assert row[1] == section_module._us(data["overhead_us"][e])
        for column, kind in ((2, "python"), (3, "cython-nogil")):
            be = data["sweeps"][kind]["break_even"][e]
            if be["task_us"] is not None:
                assert row[column] == f"~{section_module._us(be['task_us'])}"
                assert 10 < be["task_us"] < 1000
            else:
                assert row[column] == be["note"]
    # the thread pool never wins with GIL-holding tasks; the dask processes never within 1 ms
    assert expected["thread-pool"][2].startswith("never 10% faster")
    assert expected["dask-processes"][3].startswith("never 10% faster")
    assert expected["thread-pool"][3].startswith("~")
    # the stdlib pools first, then the engines
    order = [md.index(f"| {e} |") for e in ("thread-pool", "process-pool", "dask-processes",
                                            "joblib-loky")]
    assert order == sorted(order)
    # engines that did not run: listed with their reason (and the install command)
    assert _row(md, "interpreter-pool")[1:3] == ["not run", "this Python has no subinterpreter API"]
    assert 'pip install "gilbench[dask]"' in " ".join(_row(md, "dask-threads"))
    assert [c["id"] for c in claims] == ["process-startup-cost"]
    assert claims[0]["verdict"] == "confirmed"  # process pool 40x serial at 10 us tasks


def test_rules_of_thumb_are_quoted_beside_this_hosts_figures(data, tmp_path: Path) -> None:
    md, _ = section_module.section(data, tmp_path)
    assert "| engine | rule of thumb | source | on this host |" in md
    rules = [line for line in md.splitlines()
             if line.startswith(("| dask |", "| ray |", "| joblib |"))]
    assert len(rules) == len(RULES_OF_THUMB)
    dask = next(r for r in rules if r.startswith("| dask |"))
    assert "0.2-1 ms" in dask and "dask-processes: 1.25 ms per task" in dask
    assert "never 10% faster" in dask  # its break-even on this host, beside the 100 ms rule
    assert "dask-threads" not in dask  # the ones that ran; the others are in the table above
    ray = next(r for r in rules if r.startswith("| ray |"))
    assert "not measured here" in ray
    issue = next(r for r in rules if "1830" in r)
    assert "joblib-loky: 480 µs per task" in issue and "thread-pool: 45 µs per task" in issue


def test_an_engine_that_did_not_run_is_named_in_its_rule(data, tmp_path: Path) -> None:
    del data["overhead_us"]["dask-processes"]
    for sweep in data["sweeps"].values():
        del sweep["break_even"]["dask-processes"]
    data["engines"]["unavailable"]["dask-processes"] = "distributed is not installed"
    md, _ = section_module.section(data, tmp_path)
    dask = next(line for line in md.splitlines() if line.startswith("| dask |"))
    assert "not run here (" in dask and "distributed is not installed" in dask


def test_break_even_renders_in_the_full_report(data, tmp_path: Path) -> None:
    from gilbench.report import write_report

    doc = {"schema": 1, "host": {"usable_cores": 2}, "config": {}, "cells": [],
           "experiments": {"break-even": {**data, "duration_s": 1.0, "usable_cores": 2}}}
    paths = write_report(doc, tmp_path)
    md = paths["markdown"].read_text()
    html = paths["html"].read_text()
    for text in ("per-task overhead", "dask-processes", "rule of thumb", "interpreter-pool"):
        assert text in md and text in html
    figures = dict(((e, f), v) for e, f, v in report_experiments.figures(doc))
    assert figures[("break-even", "dask-processes, per-task overhead")] == "1.25 ms"
