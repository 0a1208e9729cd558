"""gilbench.units: the one formatter of durations and of sizes."""

import math

import pytest

from gilbench.units import fmt_bytes, fmt_time, is_number


@pytest.mark.parametrize("value, unit, text", [
    (1.5, "s", "1.5 s"), (0.00042, "s", "420 µs"), (0.0123, "s", "12.3 ms"),
    (2500, "ms", "2.5 s"), (0.48, "ms", "480 µs"), (42, "ms", "42 ms"),
    (480, "us", "480 µs"), (1500, "us", "1.5 ms"), (0, "s", "0 µs"),
])
def test_fmt_time_picks_the_unit_that_reads_best(value, unit, text):
    assert fmt_time(value, unit=unit) == text


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, True, "1"])
def test_fmt_time_and_fmt_bytes_show_missing_for_anything_not_a_finite_number(missing):
    assert fmt_time(missing) == "—"
    assert fmt_time(missing, "n/a", unit="ms") == "n/a"
    assert fmt_bytes(missing) == "—"
    assert fmt_bytes(missing, "n/a") == "n/a"
    assert fmt_time(missing, "-", column=True) == "-"
    assert not is_number(missing)


@pytest.mark.parametrize("n, text", [
    (79, "79 B"), (1 << 10, "1 KiB"), (64 << 10, "64 KiB"), (1 << 20, "1 MiB"),
    (10**7, "9.54 MiB"), (3 << 30, "3 GiB"),
])
def test_fmt_bytes(n, text):
    assert fmt_bytes(n) == text


def test_fmt_time_in_a_column_keeps_one_unit():
    assert [fmt_time(s, column=True) for s in (0.0004, 0.0123, 1.52)] == ["0.4 ms", "12.3 ms",
                                                                          "1520.0 ms"]
