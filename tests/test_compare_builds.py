"""The comparison of builds (``report.compare_builds``) judges by ``gilbench compare``'s rule:
a clearly changed serial time is called changed, identical runs are not, and the drift between
the runs (from the serial cells) is written and printed."""

from __future__ import annotations

import copy
import io
from pathlib import Path

from rich.console import Console

from gilbench.report import compare_builds
from gilbench.run import builds

# seven repeats around each median, a spread of about 1%
JITTER = [1.0, 1.004, 0.996, 1.01, 0.99, 1.002, 0.998]
SERIALS = [("primes", "python", 0.5), ("primes", "cython-nogil", 0.05),
           ("mandelbrot", "python", 0.8), ("checksum", "stdlib", 0.1), ("sleep", "python", 0.2)]


def _cell(kernel: str, variant: str, executor: str, workers: int, median: float) -> dict:
    walls = [median * j for j in JITTER]
    return {"kernel": kernel, "variant": variant, "executor": executor, "workers": workers,
            "size": 1000, "wall_s": walls, "median_s": median, "error": None,
            "speedup": None if executor != "serial" else {"median": 1.0, "low": 1.0, "high": 1.0}}


#: how a second run on a shared host moves the other serial times (a drift of a few %)
DRIFT = [1.0, 1.01, 0.99, 1.02, 0.995]


def _doc(version: str, free_threaded: bool, slow: float | None = None) -> dict:
    """Five serial cells and one threads cell; with ``slow``, primes/python's serial time
    times ``slow`` and the others moved by ``DRIFT``."""
    factors = [slow, *DRIFT[1:]] if slow else [1.0] * len(SERIALS)
    cells = [_cell(k, v, "serial", 1, t * f) for (k, v, t), f in zip(SERIALS, factors)]
    cells.append(_cell("primes", "python", "threads", 2, 0.5))
    return {"host": {"python_version": version, "py_gil_disabled": free_threaded,
                     "build": "free-threaded" if free_threaded else "default",
                     "gil_enabled": not free_threaded, "python_gil_env": None,
                     "python_executable": f"/x/{version}", "usable_cores": 2},
            "cells": cells}


def _row(comparison: dict, kernel: str, variant: str) -> dict:
    return next(r for r in comparison["rows"] if (r["kernel"], r["variant"]) == (kernel, variant))


def _printed(combined: dict) -> str:
    out = io.StringIO()
    builds.print_comparisons(combined, Console(file=out, width=250, color_system=None))
    return out.getvalue()


def test_a_clearly_slower_serial_time_is_called_slower(tmp_path: Path) -> None:
    _, md_path, combined = compare_builds.write_combined(
        [_doc("3.13.0", False), _doc("3.13.5", True, slow=2.0)], ["a.json", "b.json"],
        tmp_path / "r.json")
    (comp,) = combined["comparisons"]
    changed = _row(comp, "primes", "python")
    assert changed["serial_status"] == "slower"
    assert changed["serial_ratio"]["low"] > 1.8
    for k, v, _ in SERIALS[1:]:
        assert _row(comp, k, v)["serial_status"] == "not significant"
    # the drift was estimated from the five serial cells: the changed one is an outlier of
    # their median absolute deviation, so it is the other four's spread
    assert comp["drift"]["n_serial"] == 5
    assert comp["selected"]["time"][0] >= 1
    assert "is faster in 0 cells, slower in 1" in comp["summary"]
    assert 0.01 < comp["drift"]["scale"] < 0.05
    header, rows = compare_builds.table(comp)
    assert rows[0][:2] == ["primes", "python"] and rows[0][4].endswith("2.00× slower")
    printed = _printed(combined)
    assert "the drift between runs, from 5 serial cells, is s = 2.2%" in printed
    assert "the drift between runs, from 5 serial cells" in md_path.read_text()


def test_identical_runs_are_not_significant() -> None:
    base = _doc("3.13.0", False)
    combined = compare_builds.combined_document([base, copy.deepcopy(base)], ["a", "b"],
                                                ["3.13.0", "3.13.0-2"])
    (comp,) = combined["comparisons"]
    assert {r["serial_status"] for r in comp["rows"]} == {"not significant"}
    assert all(r["serial_ratio"]["median"] == 1.0 for r in comp["rows"])
    (threads,) = _row(comp, "primes", "python")["cells"]
    assert threads["change"]["status"] == "not significant"
    assert comp["drift"] == {"n_serial": 5, "scale": 0.0}
    assert comp["selected"]["time"][0] == 0
    printed = _printed(combined)
    assert "slower" not in printed.replace("slower in 0", "")
    assert "s = 0.0%" in printed
