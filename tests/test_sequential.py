"""The stopping rule of paired rounds: at least the minimum, more only for undecided cells,
undecided with a reason when the budget runs out. Uses a tiny real kernel; asserts counts,
never timings."""

from __future__ import annotations

from gilbench import kernels
from gilbench.measure import Budget, CellSpec, measure_group
from gilbench.summary import summarize


def _specs() -> list[CellSpec]:
    k = kernels.get("primes")
    size = k.verify_size
    return [CellSpec("primes", "python", ex, w, size, 4) for ex, w in
            (("serial", 1), ("threads", 1), ("threads", 2))]


def test_minimum_rounds_then_stop_when_decided() -> None:
    specs = _specs()
    with kernels.get("primes").session():
        raws, _ = measure_group(specs, Budget(5, 40), decided=lambda spec, raws: True,
                                noise_check=False)
    assert all(len(r.wall_s) == 5 for r in raws.values())
    assert all(r.budget_reason is None for r in raws.values())


def test_undecided_cells_continue_alone_until_cap() -> None:
    specs = _specs()
    undecided = specs[2].key
    with kernels.get("primes").session():
        raws, _ = measure_group(specs, Budget(5, 9),
                                decided=lambda spec, raws: spec.key != undecided,
                                noise_check=False)
    assert len(raws[specs[1].key].wall_s) == 5  # decided at the first look
    assert len(raws[undecided].wall_s) == 9  # went on to the cap
    assert len(raws[specs[0].key].wall_s) == 9  # the baseline is measured with it, paired
    assert raws[undecided].rounds == raws[specs[0].key].rounds
    assert "9 rounds (the cap)" in raws[undecided].budget_reason
    kernel = kernels.get("primes")
    cell = summarize(specs[2], raws[undecided], raws[specs[0].key], kernel)
    assert cell["speedup"]["n"] == 9 and cell["budget_reason"]


def test_time_budget_stops_rounds() -> None:
    specs = _specs()
    with kernels.get("primes").session():
        raws, _ = measure_group(specs, Budget(5, 1000, time_s=0.0),
                                decided=lambda spec, raws: False, noise_check=False)
    assert all(len(r.wall_s) == 5 for r in raws.values())
    assert "time budget" in raws[specs[1].key].budget_reason


def test_the_time_a_group_spent_is_reported_and_the_rest_carries_over() -> None:
    """A group decided at the minimum spends nothing past it; the run banks its budget for the
    next groups, each of which may take at most twice its own budget more."""
    from gilbench.run.matrix import carried, left_over

    specs = _specs()
    with kernels.get("primes").session():
        _, done_s = measure_group(specs, Budget(5, 40, time_s=5.0),
                                  decided=lambda spec, raws: True, noise_check=False)
        _, going_s = measure_group(specs, Budget(5, 7, time_s=60.0),
                                   decided=lambda spec, raws: False, noise_check=False)
    assert done_s < going_s  # two more rounds take longer than one look
    assert left_over(0.0, 5.0, done_s) > 4.9  # nearly all of it banked
    assert carried(Budget(5, 30, time_s=5.0), 4.0, 2.0).time_s == 9.0
    assert carried(Budget(5, 30, time_s=5.0), 40.0, 2.0).time_s == 15.0  # at most 2x more
    assert left_over(4.0, 5.0, 9.0) == 0.0  # a group that took the bank's 4 s leaves none
    assert left_over(1.0, 5.0, 12.0) == 0.0  # never below zero
