"""`gilbench report FILE --format json|csv`: the machine-readable summaries round-trip: the csv
reads back into the file's cells (their numbers exactly) with the report's verdicts, and the
json loads into the host, the verdict table, its speedup intervals and the claims the report
shows for the same file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gilbench import commands as cli
from gilbench.report import analysis as A
from gilbench.report import claims_of, load_any
from gilbench.report.summary import CSV_FIELDS, HOST_FIELDS, read_csv, summary

DATA = Path(__file__).resolve().parent / "data"
FILES = ["real-primes-sleep.json", "synthetic-gil.json", "synthetic-ft.json", "faulty.json"]


def report(argv: list[str], capsys) -> tuple[int, str, str]:
    status = cli.main(["report", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@pytest.mark.parametrize("name", FILES)
def test_csv_reads_back_as_the_cells_and_the_reports_verdicts(name, capsys):
    doc = load_any(DATA / name)
    status, out, _ = report([str(DATA / name), "--format", "csv"], capsys)
    assert status == 0
    assert out.splitlines()[0] == ",".join(CSV_FIELDS)
    rows = read_csv(out)
    assert len(rows) == len(doc["cells"])
    cores = A.usable_cores(doc)
    for row, cell in zip(rows, doc["cells"]):
        for field in ("kernel", "variant", "executor", "workers", "start_method", "size",
                      "median_s", "efficiency", "cpu_utilization", "error"):
            assert _same(row[field], cell.get(field)), (field, row, cell)
        sp = cell.get("speedup") or {}
        assert (row["speedup"], row["speedup_low"], row["speedup_high"]) == (
            sp.get("median"), sp.get("low"), sp.get("high"))
        if cell["executor"] == "serial" and not A.is_failed(cell):
            assert row["verdict"] is None  # the baseline is not judged
        else:
            v = A.verdict(cell, cores)
            assert (row["verdict"], row["verdict_words"]) == (v.code, v.label)
    # and the verdict table's cells carry the table's verdicts
    by_key = {(r["kernel"], r["variant"], r["executor"], r["workers"], r["start_method"]): r
              for r in rows}
    for j in A.judge(doc):
        row = by_key[(j.kernel, j.variant, j.executor, j.workers, j.cell.get("start_method"))]
        assert row["verdict"] == j.verdict.code


@pytest.mark.parametrize("name", FILES)
def test_json_loads_and_matches_the_report(name, capsys, tmp_path):
    doc = load_any(DATA / name)
    out = tmp_path / "summary.json"
    status, printed, err = report([str(DATA / name), "--format", "json", "-o", str(out)],
                                  capsys)
    assert status == 0 and printed == "" and f"wrote {out}" in err
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["schema"] == "gilbench-summary" and got["schema_version"] == 1
    assert got["host"] == {k: doc["host"].get(k) for k in HOST_FIELDS}
    assert got["cells"] == {"total": len(doc["cells"]),
                            "failed": sum(1 for c in doc["cells"] if A.is_failed(c))}
    judged = A.judge(doc)
    assert len(got["verdicts"]) == len(judged)
    for row, j in zip(got["verdicts"], judged):
        assert (row["kernel"], row["variant"], row["executor"], row["workers"]) == (
            j.kernel, j.variant, j.executor, j.workers)
        assert (row["verdict"], row["words"], row["decided"]) == (
            j.verdict.code, j.verdict.label, j.verdict.decided)
        sp = j.cell.get("speedup") or {}
        assert row["speedup"] == {k: sp.get(k) for k in ("median", "low", "high")}
        assert [p["workers"] for p in row["curve"]] == sorted(p["workers"] for p in row["curve"])
        assert j.workers in [p["workers"] for p in row["curve"]]
    assert [(c["id"], c["verdict"]) for c in got["claims"]] == [
        (c["id"], c["verdict"]) for c in claims_of(doc)]
    # printed to stdout when no file is named: the same document
    status, printed, _ = report([str(DATA / name), "--format", "json"], capsys)
    assert status == 0 and json.loads(printed) == got


def test_json_summary_of_a_held_kernel_names_its_verdict(capsys):
    got = summary(load_any(DATA / "synthetic-gil.json"))
    row = next(r for r in got["verdicts"] if (r["kernel"], r["variant"], r["executor"]) ==
               ("primes", "cython-gil", "threads"))
    assert row["verdict"] in ("concurrent", "slower") and row["speedup"]["high"] < 1.1


def test_unwritable_output_is_a_usage_error(capsys, tmp_path):
    status, _, err = report([str(DATA / "synthetic-gil.json"), "--format", "csv", "-o",
                             str(tmp_path / "no" / "such" / "dir.csv")], capsys)
    assert status == 2 and "cannot write the csv summary to" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", str(DATA / "synthetic-gil.json"), "--format", "xml"])
    assert exc.value.code == 2
    assert "invalid choice: 'xml' (choose from" in capsys.readouterr().err
