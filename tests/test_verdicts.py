"""The verdict rule: regions, undecided, anomalies; words never contradict numbers."""

from __future__ import annotations

import pytest

from gilbench import verdicts


def cell(low: float, high: float, median: float | None = None, workers: int = 2,
         kind: str = "cpu", util: float | None = 1.95, **extra) -> dict:
    med = (low + high) / 2 if median is None else median
    return {"kernel": "k", "variant": "v", "executor": "threads", "family": "threads",
            "kind": kind, "workers": workers, "cpu_utilization": util,
            "speedup": {"median": med, "low": low, "high": high}, "error": None, **extra}


@pytest.mark.parametrize("low,high,code", [
    (0.95, 1.05, "concurrent"), (0.5, 0.8, "slower"), (1.2, 1.4, "partial"),
    (1.6, 2.05, "parallel"), (2.3, 2.5, "above-cores")])
def test_decided_regions(low: float, high: float, code: str) -> None:
    v = verdicts.judge(cell(low, high), usable_cores=2)
    assert v.code == code and v.decided


@pytest.mark.parametrize("low,high,edge", [(0.85, 0.95, "0.90"), (1.05, 1.3, "1.10"),
                                           (1.4, 1.9, "1.50"), (1.9, 2.3, "2.20")])
def test_straddling_interval_is_undecided_with_median(low: float, high: float, edge: str) -> None:
    v = verdicts.judge(cell(low, high, median=1.84), usable_cores=2)
    assert v.code == "undecided" and not v.decided
    assert v.label == "undecided (median 1.84×)"
    assert edge in v.why


def test_issue_examples_are_not_concurrent_only() -> None:
    """1.84x with a 0.9-1.1-reaching interval was called "concurrent only": now undecided."""
    v = verdicts.judge(cell(0.95, 1.9, median=1.84), usable_cores=2)
    assert v.code == "undecided" and "1.84" in v.label


def test_parallel_needs_cpu_use() -> None:
    v = verdicts.judge(cell(1.7, 1.9, util=1.1), usable_cores=2)
    assert v.code == "partial" and "CPU use 1.10" in v.why


def test_above_core_count_is_an_anomaly_with_checks() -> None:
    c = cell(2.25, 2.45, util=1.98, cpu_s=[0.10] * 5, serial_cpu_per_run_s=0.13)
    v = verdicts.judge(c, usable_cores=2)
    assert v.code == "above-cores" and v.label == "above the core count"
    assert "1.30× the CPU time" in v.note


def test_io_has_no_core_ceiling() -> None:
    v = verdicts.judge(cell(3.5, 3.9, workers=4, kind="io", util=0.05), usable_cores=2)
    assert v.code == "parallel" and v.label == "overlaps waits"


def test_io_above_the_overlapped_waits_is_an_anomaly_with_per_unit_times() -> None:
    # echo through a 1-worker process pool at 1.65x [1.15-1.96]: one worker overlaps no wait;
    # its round trips were faster than the serial baseline's (the baseline's waits were longer)
    c = cell(1.15, 1.96, median=1.65, workers=1, kind="io", util=0.3, unit="round trips",
             size=4000, median_s=0.4, serial_median_s=0.66)
    v = verdicts.judge(c, usable_cores=2)
    assert (v.code, v.label, v.decided) == ("above-cores", "above the overlapped waits", True)
    assert "above 1 overlapped wait (" in v.why
    assert "each round trip took 100 µs per worker here against 165 µs in the serial" in v.note
    # two workers at 2.4x [2.3-2.6]: above the 2 waits they can overlap
    v = verdicts.judge(cell(2.3, 2.6, workers=2, kind="io", util=0.3), usable_cores=2)
    assert v.code == "above-cores" and "can overlap at most 2 waits" in v.note
    # a parallel I/O cell whose median exceeds W: the same check as a note
    c = cell(1.6, 2.15, median=2.1, workers=2, kind="io", util=0.3, unit="round trips",
             size=100, median_s=0.01, serial_median_s=0.021)
    v = verdicts.judge(c, usable_cores=2)
    assert v.code == "parallel" and "above the 2 waits 2 workers can overlap" in v.note


def test_one_core_gain_is_above_cores() -> None:
    assert verdicts.judge(cell(1.2, 1.3, workers=1), 2).code == "above-cores"
    assert verdicts.judge(cell(0.97, 1.02, workers=1), 2).code == "concurrent"


def test_failed_and_baseline() -> None:
    assert verdicts.judge({**cell(1, 1), "error": "boom"}, 2).code == "failed"
    assert verdicts.judge({**cell(1, 1), "executor": "serial", "family": "serial"}, 2).code \
        == "baseline"


def test_words_match_numbers_everywhere() -> None:
    """Sweep intervals: a decided verdict's region holds both ends of the interval; a
    borderline one names the two regions its ends are in, and both ends are within 5% of the
    line between them."""
    for w in (1, 2, 4):
        for lo in [x / 20 for x in range(10, 60)]:
            for width in (0.01, 0.04, 0.1, 0.4):
                hi = lo + width
                v = verdicts.judge(cell(lo, hi, workers=w, util=5.0), usable_cores=2)
                cuts = verdicts.regions("cpu", min(w, 2))
                ends = (verdicts.region_of(lo, cuts), verdicts.region_of(hi, cuts))
                if v.code == "borderline":
                    edge = next(h for c, _, h in cuts if c == ends[0])
                    assert v.sides == ends and edge / 1.05 <= lo <= edge <= hi <= edge * 1.05
                elif v.decided:
                    assert ends[0] == ends[1] == v.code
                else:
                    assert v.code == "undecided" and ends[0] != ends[1]


@pytest.mark.parametrize("low,high,sides", [
    (0.88, 0.93, ("slower", "concurrent")), (1.47, 1.56, ("partial", "parallel")),
    (1.08, 1.13, ("concurrent", "partial"))])
def test_narrow_interval_on_a_boundary_is_borderline(low: float, high: float, sides) -> None:
    """Known to sit within 5% of the line: decided, both neighbours named, stored with them."""
    v = verdicts.judge(cell(low, high), usable_cores=2)
    assert v.code == "borderline" and v.decided and v.sides == sides
    assert verdicts.Verdict.from_dict(v.as_dict()) == v
    assert "straddles" in v.why and "within 5%" in v.why


def test_borderline_needs_the_whole_interval_within_the_margin() -> None:
    # 1.42 is below 1.5 / 1.05 = 1.4286: the speedup may be well inside "partial"
    assert verdicts.judge(cell(1.42, 1.56), usable_cores=2).code == "undecided"
    assert verdicts.judge(cell(1.45, 1.58), usable_cores=2).code == "undecided"  # > 1.575
    # across two boundaries is never borderline
    assert verdicts.judge(cell(0.89, 1.11), usable_cores=2).code == "undecided"


def test_borderline_is_compatible_with_its_sides_only() -> None:
    line = verdicts.judge(cell(1.47, 1.56), usable_cores=2)
    par = verdicts.judge(cell(1.6, 1.9), usable_cores=2)
    part = verdicts.judge(cell(1.2, 1.4), usable_cores=2)
    slow = verdicts.judge(cell(0.5, 0.8), usable_cores=2)
    assert line.compatible(par) and par.compatible(line) and line.compatible(part)
    assert not line.compatible(slow) and not par.compatible(part)
    other = verdicts.judge(cell(0.88, 0.93), usable_cores=2)
    assert other.code == line.code and not other.compatible(line)  # a different line


def test_parallel_ruled_out_by_cpu_decides_partial_across_the_line() -> None:
    """An interval from partial into parallel with too little CPU time is partial either way."""
    v = verdicts.judge(cell(1.3, 1.8, util=1.2), usable_cores=2)
    assert v.code == "partial" and v.decided and "CPU use 1.20" in v.why
    assert verdicts.judge(cell(1.3, 1.8, util=1.9), usable_cores=2).code == "undecided"


def test_the_printed_rule_states_the_borderline_margin() -> None:
    assert "borderline" in verdicts.RULE_MARKDOWN and "1.05" in verdicts.RULE_MARKDOWN


def rounds(utils: list[float]) -> dict:
    """Per-round wall and CPU times whose CPU utilisations are ``utils``."""
    return {"wall_s": [0.1] * len(utils), "cpu_s": [0.1 * u for u in utils]}


def test_cpu_time_rules_parallel_out_only_by_its_interval() -> None:
    """One slow round drags the median CPU use under 1.5 now and then: that alone must not
    flip parallel to partial. Only an interval wholly under 0.75 n does."""
    noisy = rounds([1.77, 1.78, 1.27, 1.15, 1.32])  # median 1.32, interval 1.15-1.78
    v = verdicts.judge(cell(1.6, 1.9, util=1.32, **noisy), usable_cores=2)
    assert v.code == "parallel"
    short = rounds([1.2, 1.25, 1.3, 1.22, 1.28])
    v = verdicts.judge(cell(1.6, 1.9, util=1.25, **short), usable_cores=2)
    assert v.code == "partial" and "1.25 [1.20–1.30]" in v.why
    # across the partial | parallel line: partial only when the CPU interval is short
    assert verdicts.judge(cell(1.3, 1.8, util=1.25, **short), 2).code == "partial"
    assert verdicts.judge(cell(1.3, 1.8, util=1.32, **noisy), 2).code == "undecided"


def test_one_worker_undecided_names_every_line_and_region_it_crosses() -> None:
    # at one worker 0.90 and 1.10 are the only lines: an interval 0.85-1.20 crosses both
    v = verdicts.judge(cell(0.85, 1.2, 1.0, workers=1), usable_cores=2)
    assert v.code == "undecided"
    assert v.why == ("interval 0.85–1.20 straddles 0.90 and 1.10 "
                     "(slower | concurrent only | above the core count)")
    v = verdicts.judge(cell(0.8, 1.0, 0.9, workers=1), usable_cores=2)
    assert v.why.endswith("straddles 0.90 (slower | concurrent only)")
