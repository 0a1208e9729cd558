"""One benchmark per cell of gilbench's matrix; ids read ``kernel-variant-executor-workers``.

The cells, sizes and options come from bench/conftest.py (the same plan, calibration, kernels
and executors as ``gilbench run``). What pytest-benchmark times is one warm
``executor.run(chunks)`` per round; the cold first call (pool start-up included) is timed apart
and kept in ``extra_info["cold_wall_s"]``, with everything else a gilbench report needs.
"""

from __future__ import annotations

import pytest


def test_cell(benchmark, gb_cell) -> None:
    if benchmark.enabled:
        # start() and the first run, outside pytest-benchmark's rounds: the cold number, and the
        # warm-up (so warmup_rounds=0 below)
        gb_cell.cold()
    else:
        gb_cell.start()  # --benchmark-disable: a smoke test, the single call below is the run
    benchmark.pedantic(gb_cell.timed, rounds=gb_cell.rounds, iterations=1, warmup_rounds=0)
    gb_cell.close()  # before finish(): a failing shutdown fails the cell, as in `gilbench run`
    info = gb_cell.finish()
    # stored even for a failed cell, so the converted report lists the failure as `gilbench run`
    # would
    benchmark.extra_info.update(info)
    if info["error"] is not None:
        detail = getattr(gb_cell.raw, "traceback", "")
        pytest.fail(f"{gb_cell.spec.label}: {info['error']}\n{detail}".rstrip(), pytrace=False)
