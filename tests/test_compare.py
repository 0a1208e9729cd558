"""`gilbench compare`: cells matched by kernel/variant/executor/workers; a non-serial cell with
paired rounds in both files judged on its speedup (two-sample shift of per-round log speedups,
scales better / worse), the others on the ratio b/a of the median times with a bootstrap
interval widened by the drift between runs (faster / slower); the stated test, and a summary
line whose counts add up."""

from __future__ import annotations

import copy
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from gilbench import commands as cli
from gilbench import stats
from gilbench.report import load_any
from gilbench.report.compare import TEST_TEXT, compare, write_compare
from gilbench.stats import bootstrap_ratio

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def gil() -> dict:
    return load_any(DATA / "synthetic-gil.json")


@pytest.fixture(scope="module")
def ft() -> dict:
    return load_any(DATA / "synthetic-ft.json")


def _key(c: dict) -> tuple:
    return (c["kernel"], c["variant"], c["executor"], c["workers"])


def split_row(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip()[2:-2])]


def test_summary_counts_add_up_and_match_the_table(gil, tmp_path):
    faulty = load_any(DATA / "faulty.json")
    comp, paths = write_compare(gil, faulty, tmp_path, ("gil", "faulty"))
    keys = {_key(c) for c in gil["cells"]} | {_key(c) for c in faulty["cells"]}
    assert len(comp.rows) == len(keys)
    n = {s: comp.count(s) for s in ("faster", "slower", "not significant")}
    assert sum(n.values()) + comp.not_compared == len(comp.rows)
    assert comp.not_compared > 0  # failed and one-sided cells are counted, not dropped
    md = paths["markdown"].read_text(encoding="utf-8")
    m = re.search(r"faulty is faster in (\d+) cells?, slower in (\d+), not significant in (\d+); "
                  r"(\d+) not compared .* (\d+) cells in all", md)
    assert m, md[:2000]
    faster, slower, ns, other, total = map(int, m.groups())
    assert faster + slower + ns + other == total == len(keys)
    # recount from the rendered rows
    shown = [split_row(line) for line in md.splitlines()
             if line.startswith("| ") and not line.startswith("| kernel") and "---" not in line
             and len(split_row(line)) == 11]  # a speedup b/a column since the speedup test
    assert len(shown) == total
    verdicts = [row[8] for row in shown]
    assert sum("faster**" in v for v in verdicts) == faster
    assert sum("slower**" in v for v in verdicts) == slower
    assert sum(v == "**not significant**" for v in verdicts) == ns
    statuses = {r.status for r in comp.rows}
    assert {"failed in faulty", "only in gil"} <= statuses


def test_verdicts_follow_the_stated_test(gil, ft):
    comp = compare(gil, ft, ("gil", "ft"))
    a = {_key(c): c for c in gil["cells"]}
    b = {_key(c): c for c in ft["cells"]}
    assert comp.count("faster") > 0  # pure-Python threads on the free-threaded build
    cuts = {}
    for basis in ("speedup", "time"):
        ps = [r.p for r in comp.rows if r.compared and r.basis == basis]
        found = stats.benjamini_hochberg(ps, 0.05)
        assert comp.selected[basis] == (found, len(ps))
        cuts[basis] = sorted(ps)[found - 1] if found else -1
    assert comp.discoveries > 0
    for r in comp.rows:
        cut = cuts[r.basis]
        assert r.compared
        ca, cb = a[r.key], b[r.key]
        ratio = (np.median(cb["wall_s"]) / cb["size"]) / (np.median(ca["wall_s"]) / ca["size"])
        assert r.ratio == pytest.approx(ratio)
        assert r.low <= r.ratio <= r.high
        # selected by the false discovery rate, then: the interval (at the false-coverage-rate
        # level) excludes 1 and the ratio moved by the minimum change (5%)
        expected = ("not significant" if r.p > cut else
                    "faster" if r.high < 1 and r.ratio <= 1 / 1.05 else
                    "slower" if r.low > 1 and r.ratio >= 1.05 else "not significant")
        assert r.status == expected
    # the free-threaded build's pure-Python threads at 2 workers are faster, as the data says
    row = next(r for r in comp.rows if r.key == ("primes", "python", "threads", 2))
    assert row.status == "faster" and row.ratio < 0.7


def test_a_file_against_itself_shows_no_difference(gil):
    comp = compare(gil, gil)
    assert comp.count("faster") == comp.count("slower") == 0
    assert all(r.ratio == pytest.approx(1.0) for r in comp.rows if r.compared)


def test_a_run_twice_as_fast_is_faster_everywhere(gil, scaled):
    comp = compare(gil, scaled(gil, 0.5))
    compared = [r for r in comp.rows if r.compared]
    assert compared and all(r.status == "faster" for r in compared)
    assert all(r.ratio == pytest.approx(0.5) for r in compared)
    # and sizes are honoured: twice the work in the same time is also twice as fast per unit
    bigger = copy.deepcopy(gil)
    for c in bigger["cells"]:
        c["size"] *= 2
    assert all(r.status == "faster" for r in compare(gil, bigger).rows if r.compared)


def test_too_few_repeats_are_not_compared(gil):
    short = copy.deepcopy(gil)
    for c in short["cells"]:
        c["wall_s"] = c["wall_s"][:2]
    comp = compare(gil, short)
    assert comp.not_compared == len(comp.rows)
    assert {r.status for r in comp.rows} == {"too few repeats"}


def test_bootstrap_ratio_is_deterministic_and_brackets_the_point():
    a, b = [1.0, 1.1, 0.9, 1.05, 0.95], [2.0, 2.1, 1.9, 2.05, 1.95]
    r1, r2 = bootstrap_ratio(b, a), bootstrap_ratio(b, a)  # the ratio b/a, as compare takes it
    assert r1 == r2
    point, low, high = r1["median"], r1["low"], r1["high"]
    assert point == pytest.approx(2.0) and low <= point <= high and low > 1.5


def test_header_shows_each_build_and_the_test(gil, ft, tmp_path):
    _, paths = write_compare(gil, ft, tmp_path, ("gil", "ft"))
    md = paths["markdown"].read_text(encoding="utf-8")
    header = md.split("\n\n")[1]
    assert "3.11.7" in header and "3.13.1" in header
    assert "default, GIL on" in header and "free-threaded, GIL off" in header
    assert TEST_TEXT in md
    html = paths["html"].read_text(encoding="utf-8")
    assert "<table" in html and "badge v-faster" in html and "<script" not in html


def test_cli_compare(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = cli.main(["compare", str(DATA / "synthetic-gil.json"), str(DATA / "synthetic-ft.json"),
                   "-o", str(out)])
    assert rc == 0
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert "synthetic-ft is faster in" in printed and "excludes 1" in printed
    assert (out / "compare.md").is_file() and (out / "compare.html").is_file()
    assert cli.main(["compare", str(DATA / "faulty.json"), str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# the two-sample shift (stats.shift_interval) behind the speedup test


def _u_by_enumeration(m: int, n: int) -> list[int]:
    """U's null distribution by listing every placement of m x values among m + n ranks."""
    counts = [0] * (m * n + 1)
    for xs in itertools.combinations(range(m + n), m):
        chosen = set(xs)
        ys_before = u = 0
        for rank in range(m + n):
            if rank in chosen:
                u += ys_before  # pairs (x, y) with y below x
            else:
                ys_before += 1
        counts[u] += 1
    return counts


@pytest.mark.parametrize("m,n", [(1, 1), (1, 5), (2, 7), (3, 3), (4, 6), (5, 5), (6, 6), (7, 4)])
def test_mann_whitney_distribution_is_exact(m, n):
    counts = stats._mann_whitney_counts(m, n)
    assert counts == _u_by_enumeration(m, n)
    assert sum(counts) == math.comb(m + n, m)


def test_shift_interval_cut_matches_the_tables_and_the_normal_approximation(monkeypatch):
    # the classical two-sided 5% critical values of U (P(U <= c) <= 2.5%): k = c + 1
    assert stats._u_cut(5, 5, 0.95) == 3  # c = 2
    assert stats._u_cut(10, 10, 0.95) == 24  # c = 23
    assert stats._u_cut(8, 12, 0.95) == 23  # c = 22
    exact = {size: stats._u_cut(*size, 0.95) for size in [(20, 20), (30, 30), (25, 40)]}
    monkeypatch.setattr(stats, "EXACT_U_STEPS", 0)
    stats._u_cut.cache_clear()
    try:
        for size, k in exact.items():
            assert abs(stats._u_cut(*size, 0.95) - k) <= 1
    finally:
        stats._u_cut.cache_clear()


def test_shift_interval_of_shifted_samples():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    estimate, low, high = stats.shift_interval(x, [v + 10 for v in x])
    assert estimate == 10.0 and low < 10 < high
    # with 5 + 5 values the interval is the 3rd lowest and highest of the 25 differences
    diffs = sorted(b - a for a in x for b in [v + 10 for v in x])
    assert (low, high) == (diffs[2], diffs[22])


def _paired_run(rng, rounds: int, log_speedup: float, group: float, p_out: float, side: str):
    """Serial and cell wall times of one run's paired rounds: the whole group scaled by
    ``group``, a slow drift within the run over both measurements of a round, 2% jitter, and
    slow repeats (x1.2-2.5) with probability ``p_out`` on the cell, the serial or either."""
    drift = np.exp(np.cumsum(rng.normal(0, 0.03, rounds)))
    serial = 0.05 * group * drift * np.exp(rng.normal(0, 0.02, rounds))
    cell = 0.05 * group * drift * np.exp(-log_speedup + rng.normal(0, 0.02, rounds))
    for side_name, times in (("cell", cell), ("serial", serial)):
        if side in (side_name, "either"):
            slow = rng.random(rounds) < (p_out if side != "either" else p_out / 2)
            times[slow] *= rng.uniform(1.2, 2.5, slow.sum())
    return list(serial), list(cell)


@pytest.mark.slow
@pytest.mark.parametrize("side", ["cell", "serial", "either"])
def test_speedup_change_interval_covers_the_truth(side):
    """Coverage on synthetic runs of known truth: 5-30 rounds each, b's group 0.7-1.4x slower
    or faster as a whole, drift within each run, 10-20% one-sided outliers (slow repeats)."""
    rng = np.random.default_rng(1)
    trials, covered = 3000, 0
    for _ in range(trials):
        m, n = rng.integers(5, 31, size=2)
        log_a = rng.uniform(-0.5, 1.0)
        shift = rng.choice([0.0, rng.uniform(-0.3, 0.3)])
        p_out = rng.uniform(0.10, 0.20)
        sa, ca = _paired_run(rng, m, log_a, 1.0, p_out, side)
        sb, cb = _paired_run(rng, n, log_a + shift, rng.uniform(0.7, 1.4), p_out, side)
        change = stats.speedup_change(sa, ca, sb, cb)
        assert change["n"] == (m, n)
        covered += change["low"] <= math.exp(shift) <= change["high"]
    assert covered / trials >= 0.93, covered / trials


# --------------------------------------------------------------------------------------------
# the speedup test and the drift between runs, on whole synthetic runs with paired rounds


@pytest.mark.parametrize("factor", [1.25, 1.5])
def test_a_group_that_drifted_as_a_whole_is_not_a_change_but_its_serial_time_is(factor,
                                                                                paired_run):
    group = ("stream", "numpy")
    comp = compare(paired_run(1), paired_run(2, group_factor={group: factor}))
    rows = [r for r in comp.rows if r.key[:2] == group]
    moved = [r for r in rows if r.key[2] != "serial"]
    assert moved and all(r.basis == "speedup" for r in moved)
    # their times did move (the old test called them slower) ...
    assert all(r.time[0] > 1.15 for r in moved)
    # ... their speedups did not: not a change
    assert {r.status for r in moved} == {"not significant"}
    serial = next(r for r in rows if r.key[2] == "serial")
    assert serial.basis == "time" and serial.status == "slower"  # among others ~1.00
    # the drift estimate is robust: the one group that moved barely changes it
    plain = compare(paired_run(1), paired_run(2)).drift.scale
    assert plain < comp.drift.scale < 1.3 * plain
    assert comp.changed <= 0.05 * comp.comparable


def test_a_real_speedup_change_scales_better(paired_run):
    # one cell changed among 120: 12 rounds a side give it a p-value small enough for the false
    # discovery rate (7 and 7 rounds cannot: the smallest exact p is 2 / C(14, 7) = 0.0006)
    key = ("primes", "cython-nogil", "threads", 2)
    comp = compare(paired_run(1, rounds=12), paired_run(2, cell_factor={key: 0.7}, rounds=12))
    row = next(r for r in comp.rows if r.key == key)
    assert row.basis == "speedup" and row.status == "scales better"
    assert row.low > 1 and row.ratio == pytest.approx(1 / 0.7, rel=0.1)
    assert comp.count("scales better") >= 1
    assert f"scales better in {comp.count('scales better')}" in comp.summary()
    assert f"changed: {comp.changed} of {comp.comparable} compared" in comp.summary()
    # and it is listed among the significant differences with its speedup ratio
    from gilbench.report.compare import build, row_cells

    cells = row_cells(row)
    assert cells[8].text.startswith("scales 1.") and cells[7].startswith(f"{row.ratio:.3f}")
    assert any(getattr(b, "text", "").startswith("1 cells") or "best change first" in
               getattr(b, "text", "") for b in build(comp))


def test_a_resumed_run_whose_rounds_do_not_pair_is_judged_on_time(paired_run):
    a, b = paired_run(1), paired_run(2)
    key = ("primes", "python", "threads", 2)
    cell = next(c for c in b["cells"] if _key(c) == key)
    cell["speedup"] = {"median": 0.5, "low": 0.45, "high": 0.55, "method": stats.PAIRED_METHOD}
    row = next(r for r in compare(a, b).rows if r.key == key)
    assert row.basis == "time"


def test_the_drift_widens_time_intervals_and_is_said():
    gil = load_any(DATA / "synthetic-gil.json")  # no rounds: every cell judged on its time
    other = copy.deepcopy(gil)
    factors = {}
    for i, c in enumerate(other["cells"]):
        f = factors.setdefault((c["kernel"], c["variant"]), 1 + 0.04 * ((i % 5) - 2))
        c["wall_s"] = [t * f for t in c["wall_s"]]
    comp = compare(gil, other)
    assert {r.basis for r in comp.rows if r.compared} == {"time"}
    logs = [math.log(r.ratio) for r in comp.rows if r.key[2] == "serial"]
    assert len(logs) == comp.drift.n_serial == 10
    s = 1.4826 * np.median(np.abs(np.array(logs) - np.median(logs)))
    assert comp.drift.scale == pytest.approx(s) and s > 0
    row = next(r for r in comp.rows if r.compared)
    a, b = row.a, row.b
    raw = stats.bootstrap_ratio(b["wall_s"], a["wall_s"], a["size"] / b["size"])
    down = math.log(raw["median"] / min(raw["low"], raw["median"]))
    ratio, low, _ = row.time  # the 95% interval, widened (a selected cell shows another level)
    assert math.log(ratio / low) == pytest.approx(math.hypot(down, 1.96 * s), rel=1e-4)
    assert f"s = {100 * s:.1f}%" in comp.test_text()
    assert f"1.96 s = {100 * 1.96 * s:.1f}%" in comp.test_text()


def test_fewer_than_four_serial_cells_leave_the_drift_unestimated(scaled):
    gil = load_any(DATA / "synthetic-gil.json")
    three = {("primes", "python"), ("primes", "cython-gil"), ("stream", "numpy")}
    small = {**gil, "cells": [c for c in gil["cells"] if (c["kernel"], c["variant"]) in three]}
    comp = compare(small, scaled(small, 1.5))
    assert comp.drift.scale is None and comp.drift.n_serial == 3
    assert "drift between runs was **not estimated**" in comp.test_text()
    row = next(r for r in comp.rows if r.compared)
    raw = stats.bootstrap_ratio(row.b["wall_s"], row.a["wall_s"])
    assert row.time[2] == pytest.approx(max(raw["high"], raw["median"]))  # not widened


def test_serial_drift_between_runs_rarely_reads_as_a_change():
    """Many groups, each drifting by its own factor (5% sd between runs), nothing changed: the
    widened intervals call few serial cells changed (the old test called most of them)."""
    rng = np.random.default_rng(7)
    called = total = 0
    for _ in range(20):
        cells_a, cells_b = [], []
        for g in range(20):
            base = {"kernel": "primes", "variant": f"v{g}", "executor": "serial", "workers": 1,
                    "size": 1000}
            ta = 0.05 * np.exp(rng.normal(0, 0.01, 7))
            tb = 0.05 * math.exp(rng.normal(0, 0.05)) * np.exp(rng.normal(0, 0.01, 7))
            cells_a.append({**base, "wall_s": list(ta)})
            cells_b.append({**base, "wall_s": list(tb)})
        comp = compare({"cells": cells_a}, {"cells": cells_b})
        called += comp.changed
        total += comp.comparable
    assert called / total <= 0.10, called / total


# --------------------------------------------------------------------------------------------
# many cells at once: the false discovery rate


def test_benjamini_hochberg_counts_the_discoveries():
    # m = 5, q = 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05
    assert stats.benjamini_hochberg([0.001, 0.015, 0.9, 0.5, 0.2]) == 2
    assert stats.benjamini_hochberg([0.2, 0.3, 0.04, 0.5, 0.9]) == 0  # 0.04 > 0.01
    assert stats.benjamini_hochberg([0.04] * 5) == 5  # the step-up: all at the last threshold
    assert stats.benjamini_hochberg([]) == 0
    assert stats.benjamini_hochberg([math.nan, 0.001]) == 1


@pytest.mark.parametrize("m,n", [(5, 5), (5, 9), (7, 7), (12, 6)])
def test_shift_p_value_agrees_with_the_interval_it_inverts(m, n):
    """p <= 0.05 exactly when the 95% shift interval excludes 0 (the same U distribution)."""
    rng = np.random.default_rng(m * 100 + n)
    for _ in range(300):
        xs, ys = rng.normal(0, 1, m), rng.normal(rng.uniform(-2, 2), 1, n)
        _, low, high = stats.shift_interval(xs, ys)
        p = stats.shift_p_value(xs, ys)
        assert (p <= 0.05) == (low > 0 or high < 0), (p, low, high)


def test_with_few_rounds_one_changed_cell_among_many_is_not_selected(paired_run):
    """The price of holding the false discovery rate, stated in the test text: 7 rounds a side
    cannot single out one changed speedup among 120 cells, though many changes together can."""
    key = ("primes", "cython-nogil", "threads", 2)
    comp = compare(paired_run(1), paired_run(2, cell_factor={key: 0.7}))
    assert next(r for r in comp.rows if r.key == key).status == "not significant"
    threads = {_key(c): 0.6 for c in paired_run(2)["cells"] if c["executor"] == "threads"}
    comp = compare(paired_run(1), paired_run(2, cell_factor=threads))
    assert comp.count("scales better") >= len(threads) // 2


@pytest.mark.slow
def test_the_false_discovery_rate_keeps_nothing_changed_quiet(paired_run):
    """Twenty pairs of identical synthetic runs (same speedups, 2% jitter, slow repeats, group
    drift): with hundreds of cells, 95% intervals alone call some changed; held at a 5% false
    discovery rate almost none are, while a real change among them is still found."""
    called = total = 0
    for seed in range(0, 40, 2):
        comp = compare(paired_run(seed), paired_run(seed + 1))
        called += comp.changed
        total += comp.comparable
        raw = sum(1 for r in comp.rows if r.compared and r.p is not None and r.p <= 0.05)
        assert comp.changed <= raw
    assert called / total <= 0.01, (called, total)
    key = ("primes", "cython-nogil", "threads", 2)
    comp = compare(paired_run(40, rounds=12), paired_run(41, cell_factor={key: 0.7}, rounds=12))
    row = next(r for r in comp.rows if r.key == key)
    assert row.status == "scales better" and comp.discoveries >= 1
    found, tests = comp.selected["speedup"]
    assert found >= 1 and f"Of the {tests} speedup tests the false discovery rate selected " \
        f"**{found}**" in comp.test_text()


def test_cli_compare_says_its_test_in_two_lines_and_why_a_selected_cell_is_not_changed(
        tmp_path, capsys, monkeypatch):
    """The terminal gets the test in two sentences (the full method stays in compare.md), and
    cells the false discovery rate selected but that moved less than --min-change are said to
    be under it."""
    monkeypatch.setenv("COLUMNS", "200")
    argv = ["compare", str(DATA / "synthetic-gil.json"), str(DATA / "synthetic-ft.json"),
            "-o", str(tmp_path)]
    assert cli.main([*argv, "--min-change", "0.5"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Test: "))
    second = next(i for i, line in enumerate(lines) if line.startswith("Selected "))
    test = " ".join(lines[first:second + 1])  # two sentences (rich wraps the long path)
    assert first < second and len(test.split()) <= 80, test
    assert lines[second].startswith("Selected 12 of 130 tests")
    assert "2 of them are not counted as changed: 2 under the 50% minimum change" in out
    assert "Benjamini" not in out and "Benjamini" in (tmp_path / "compare.md").read_text()
    comp = compare(load_any(DATA / "synthetic-gil.json"), load_any(DATA / "synthetic-ft.json"),
                   min_change=0.5)
    assert comp.discoveries - comp.changed == 2  # what the line says, from the comparison
