"""`gilbench compare`: cells matched by kernel/variant/executor/workers, the ratio b/a of the
median times with a bootstrap interval, faster/slower/not significant by the stated test, and a
summary line whose counts add up."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from gilbench import commands as cli
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
             and len(split_row(line)) == 10]
    assert len(shown) == total
    verdicts = [row[7] for row in shown]
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
    for r in comp.rows:
        assert r.compared
        ca, cb = a[r.key], b[r.key]
        ratio = (np.median(cb["wall_s"]) / cb["size"]) / (np.median(ca["wall_s"]) / ca["size"])
        assert r.ratio == pytest.approx(ratio)
        assert r.low <= r.ratio <= r.high
        # the interval excludes 1 and the ratio moved by the minimum change (5%)
        expected = ("faster" if r.high < 1 and r.ratio <= 1 / 1.05 else
                    "slower" if r.low > 1 and r.ratio >= 1.05 else "not significant")
        assert r.status == expected
    # the free-threaded build's pure-Python threads at 2 workers are faster, as the data says
    row = next(r for r in comp.rows if r.key == ("primes", "python", "threads", 2))
    assert row.status == "faster" and row.ratio < 0.7


def test_a_file_against_itself_shows_no_difference(gil):
    comp = compare(gil, gil)
    assert comp.count("faster") == comp.count("slower") == 0
    assert all(r.ratio == pytest.approx(1.0) for r in comp.rows if r.compared)


def test_a_run_twice_as_fast_is_faster_everywhere(gil):
    fast = copy.deepcopy(gil)
    for c in fast["cells"]:
        c["wall_s"] = [t / 2 for t in c["wall_s"]]
    comp = compare(gil, fast)
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
    assert "synthetic-ft is faster in" in printed and "interval excludes 1" in printed
    assert (out / "compare.md").is_file() and (out / "compare.html").is_file()
    assert cli.main(["compare", str(DATA / "faulty.json"), str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
