"""`gilbench report`: reports build from recorded results files, their Markdown tables are well
formed, the verdicts follow the rule printed under the table, and nothing failed or unstable is
hidden.

The recorded files live in tests/data: real runs of `gilbench run --quick` on a 2-core box
(``real-*.json``), synthetic runs from ``make_synthetic.py`` (``synthetic-*.json``: a GIL and a
free-threaded build of the same grid) and a hand-made file of failed, timed-out, wrong and
unstable cells (``faulty.json``).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from gilbench import commands as cli
from gilbench import results
from gilbench import stats
from gilbench.report import analysis, headline, load_any, write_report
from gilbench.report import claims as report_claims
from gilbench.report import experiments as report_experiments

DATA = Path(__file__).resolve().parent / "data"
FILES = sorted(p.name for p in DATA.glob("*.json"))
#: files with speedup cells (a `gilbench claims` file holds experiments only)
CELL_FILES = [n for n in FILES if json.loads((DATA / n).read_text(encoding="utf-8"))["cells"]]
CLAIM_IDS = [
    "pure-python-threads-not-parallel", "cython-gil-keeps-gil", "nogil-c-code-parallel", "gil-released-on-sleep-io",
    "numpy-zlib-release-gil", "asyncio-no-cpu-parallelism", "processes-bypass-gil",
    "process-startup-cost", "cpu-threads-hurt-latency", "switch-interval-5ms",
    "pipe-faster-than-queue", "memory-bound-bandwidth-limit", "free-threaded-python-parallel",
]


# --------------------------------------------------------------------------------------------
# helpers: read the Markdown back


def md_tables(text: str) -> list[list[str]]:
    """Every table in a Markdown text, as its list of lines (consecutive lines starting '|')."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def split_row(line: str) -> list[str]:
    """The cells of a GFM table row (outer pipes optional in GFM, required here)."""
    line = line.strip()
    assert line.startswith("|") and line.endswith("|") and not line.endswith("\\|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def section(text: str, heading: str) -> str:
    """The Markdown from ``## heading`` to the next ``## ``."""
    start = text.index(f"## {heading}")
    nxt = text.find("\n## ", start + 3)
    return text[start: nxt if nxt != -1 else len(text)]


# --------------------------------------------------------------------------------------------
# the recorded files themselves


def test_recorded_files_are_valid_and_small():
    assert {"faulty.json"} <= set(FILES)
    assert any(n.startswith("real-") for n in FILES), "no recorded real run in tests/data"
    for name in FILES:
        path = DATA / name
        assert path.stat().st_size < 200_000, f"{name} is larger than 200 KB"
        doc = results.read(path)  # validates
        assert doc["cells"] or doc.get("experiments"), name


def test_faulty_file_has_every_kind_of_problem():
    doc = results.read(DATA / "faulty.json")
    cells = doc["cells"]
    assert any(c["error"] and c["speedup"] is None for c in cells)
    assert any(c.get("timed_out") for c in cells)
    assert any(c.get("result_ok") is False for c in cells)
    assert any(not c["stable"] and not c["error"] for c in cells)
    assert doc["finished"] is None


# --------------------------------------------------------------------------------------------
# files written


@pytest.mark.parametrize("name", FILES)
def test_report_writes_markdown_html_and_pngs(recorded_reports, name):
    doc, paths = recorded_reports[name]
    assert paths["markdown"].name == "report.md" and paths["html"].name == "report.html"
    pngs = [p for k, p in paths.items() if k.startswith("plot:")]
    assert pngs, "no plots"
    kernels_with_parallel_cells = {c["kernel"] for c in doc["cells"] if analysis.family(c) != "serial"}
    assert {f"plot:speedup-{k}" for k in kernels_with_parallel_cells} <= set(paths)
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p
    html = paths["html"].read_text(encoding="utf-8")
    # self-contained: every image inline, nothing fetched, no script
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(pngs)
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html.lower()
    assert "<style>" in html


@pytest.mark.parametrize("name", FILES)
def test_markdown_tables_are_well_formed(recorded_reports, name):
    _, paths = recorded_reports[name]
    text = paths["markdown"].read_text(encoding="utf-8")
    tables = md_tables(text)
    assert len(tables) >= 4  # verdicts, claims, numbers (per kernel), run
    for lines in tables:
        assert len(lines) >= 3, lines  # header, separator, at least one row
        header = split_row(lines[0])
        sep = split_row(lines[1])
        assert all(re.fullmatch(r":?-{3,}:?", s) for s in sep), lines[1]
        assert len(sep) == len(header)
        for row in lines[2:]:
            assert len(split_row(row)) == len(header), row
    # a table must be preceded by a blank line, or Markdown renders it as text
    for match in re.finditer(r"^\|.*\n\|[ :|-]+\|$", text, re.M):
        assert text[: match.start()].endswith("\n\n")
    # and a real Markdown renderer (markdown-it, which rich depends on) makes tables of them all
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").enable("table").render(text)
    html_tables = re.findall(r"<table>.*?</table>", rendered, re.S)
    assert len(html_tables) == len(tables)
    for lines, html in zip(tables, html_tables):
        assert len(re.findall(r"<th[ >]", html)) == len(split_row(lines[0]))
        assert html.count("<tr>") == len(lines) - 1  # header row + body rows
    for src in re.findall(r'<img src="([^"]+)"', rendered):
        assert (paths["markdown"].parent / src).is_file(), src


# --------------------------------------------------------------------------------------------
# verdicts follow the printed rule: recomputed here, independently, from each cell's numbers


def rule_from_text(cell: dict, usable: int) -> str:
    """The rule as printed under the table (regions of the speedup axis; the whole interval
    must fit one), written out again for the test."""
    io = analysis.kind(cell) == "io"
    sp = cell.get("speedup")
    if (cell.get("error") or cell.get("timed_out") or cell.get("result_ok") is False
            or sp is None or None in (sp.get("low"), sp.get("high"))):
        return "timed out" if cell.get("timed_out") else "failed"
    w = cell["workers"]
    n = w if io else max(1, min(w, usable))

    def region(x: float) -> str:
        if x < 0.9:
            return "slower"
        if x <= 1.1:
            return "concurrent"
        if n >= 2 and 0.75 * n > 1.1:
            if x < 0.75 * n:
                return "partial"
            return "parallel" if x < 1.1 * n else "above"
        return "above"

    words = {"slower": "slower", "concurrent": "no overlap" if io else "concurrent only",
             "partial": "partial overlap" if io else "partial",
             "parallel": "overlaps waits" if io else "parallel",
             "above": "above the overlapped waits" if io else "above the core count"}
    # CPU use rules parallel out when the interval of its median lies below 0.75 n
    utils = [c / w for c, w in zip(cell.get("cpu_s") or [], cell.get("wall_s") or [])]
    cpu_high = (stats.median_interval(utils)[1] if utils and len(utils) == len(cell["wall_s"])
                else cell.get("cpu_utilization") or 0)
    short = not io and cpu_high < 0.75 * n
    low, high = region(sp["low"]), region(sp["high"])
    if (low, high) == ("partial", "parallel") and short:
        return words["partial"]
    if low != high:
        # one boundary, and the whole interval within 5% of it: borderline
        edges = [b for b in (0.9, 1.1, 0.75 * n, 1.1 * n) if sp["low"] < b <= sp["high"]
                 or sp["low"] <= b < sp["high"]]
        if len(edges) == 1 and edges[0] / 1.05 <= sp["low"] and sp["high"] <= edges[0] * 1.05:
            return f"borderline ({words[low]} | {words[high]})"
        return f"undecided (median {sp['median']:.2f}×)"
    if low == "parallel" and short:
        low = "partial"
    return words[low]


def test_printed_rule_states_the_thresholds_the_test_uses(recorded_reports):
    _, paths = recorded_reports["faulty.json"]
    rule = section(paths["markdown"].read_text(encoding="utf-8"), "Verdicts")
    for phrase in ("below 0.9", "0.9 to 1.1", "1.1 to 0.75·*n*", "0.75·*n* to 1.1·*n*",
                   "above 1.1·*n*", "**whole** interval", "at least 0.75·*n* cores",
                   "**undecided**", "**borderline**", "overlaps waits", "concurrent only", "above the core count",
                   "a waiting thread needs no core"):
        assert phrase in rule, phrase


@pytest.mark.parametrize("name", CELL_FILES)
def test_verdict_table_follows_the_rule(recorded_reports, name):
    doc, paths = recorded_reports[name]
    usable = doc["host"]["usable_cores"]
    text = section(paths["markdown"].read_text(encoding="utf-8"), "Verdicts")
    lines = md_tables(text)[0]
    header = split_row(lines[0])
    assert header[:3] == ["kernel", "variant", "serial"]
    common = int(re.search(r"judged at \*\*(\d+) workers?\*\*", text).group(1))
    by_key = {(c["kernel"], c["variant"], c["executor"], c["workers"]): c for c in doc["cells"]}
    checked = 0
    for line in lines[2:]:
        row = split_row(line)
        kernel, variant = row[0].strip("*"), row[1]
        for executor, shown in zip(header[3:], row[3:]):
            if shown == "—":
                assert not any(k[:3] == (kernel, variant, executor) for k in by_key)
                continue
            # a Markdown table escapes the pipe between a borderline verdict's two sides
            label = re.match(r"\*\*(.+?)\*\*", shown).group(1).replace("\\|", "|")
            at = re.search(r"@(\d+)$", shown)
            w = int(at.group(1)) if at else common
            measured = sorted(k[3] for k in by_key if k[:3] == (kernel, variant, executor))
            fitting = [x for x in measured if x <= max(usable, 2)]
            assert w == (fitting[-1] if fitting else measured[0])
            cell = by_key[(kernel, variant, executor, w)]
            assert label == rule_from_text(cell, usable), (kernel, variant, executor, w, shown)
            assert ("⚠" in shown) == label.startswith("undecided")
            checked += 1
    non_serial = {k[:3] for k in by_key if analysis.family(by_key[k]) != "serial"}
    assert checked == len(non_serial)


def make_cell(**kw) -> dict:
    cell = {"kernel": "primes", "variant": "python", "executor": "threads", "family": "threads",
            "kind": "cpu", "workers": 2, "speedup": {"median": 1.0, "low": 0.95, "high": 1.05},
            "cpu_utilization": 1.0, "stable": True, "error": None}
    cell.update(kw)
    return cell


@pytest.mark.parametrize("kw, usable, code", [
    ({"speedup": {"median": 1.9, "low": 1.5, "high": 2.0}, "cpu_utilization": 1.5}, 2, "parallel"),
    # the interval's low end exactly at 0.75·n is enough; just below is not
    ({"speedup": {"median": 1.9, "low": 1.49, "high": 2.0}, "cpu_utilization": 1.9}, 2,
     "undecided"),
    ({"speedup": {"median": 1.3, "low": 1.2, "high": 1.49}, "cpu_utilization": 1.9}, 2, "partial"),
    # above the core count: an anomaly, never a plain "parallel"
    ({"speedup": {"median": 2.4, "low": 2.3, "high": 2.5}, "cpu_utilization": 1.9}, 2,
     "above-cores"),
    ({"speedup": {"median": 2.1, "low": 1.9, "high": 2.3}, "cpu_utilization": 1.9}, 2,
     "undecided"),
    # fast but without the CPU time to show for it: not parallel
    ({"speedup": {"median": 1.9, "low": 1.8, "high": 2.0}, "cpu_utilization": 1.2}, 2, "partial"),
    ({"speedup": {"median": 1.9, "low": 1.8, "high": 2.0}, "cpu_utilization": None}, 2, "partial"),
    # 4 workers on 2 cores: judged against 2 cores
    ({"workers": 4, "speedup": {"median": 1.9, "low": 1.6, "high": 2.0}, "cpu_utilization": 1.9},
     2, "parallel"),
    # on one core nothing is parallel
    ({"speedup": {"median": 1.0, "low": 0.97, "high": 1.02}, "cpu_utilization": 1.0}, 1, "concurrent"),
    ({"speedup": {"median": 0.8, "low": 0.75, "high": 0.89}}, 2, "slower"),
    ({"speedup": {"median": 0.93, "low": 0.9, "high": 0.95}}, 2, "concurrent"),
    ({"speedup": {"median": 1.2, "low": 1.11, "high": 1.3}}, 2, "partial"),
    # I/O: CPU utilisation does not matter, the worker count (not the cores) is the ideal
    ({"kind": "io", "workers": 4, "speedup": {"median": 3.9, "low": 3.0, "high": 4.0},
      "cpu_utilization": 0.02}, 2, "parallel"),
    ({"kind": "io", "workers": 4, "speedup": {"median": 2.0, "low": 1.9, "high": 2.1},
      "cpu_utilization": 0.02}, 2, "partial"),
    # ...and the ceiling: W workers overlap at most W waits (one worker: none)
    ({"kind": "io", "workers": 1, "speedup": {"median": 1.65, "low": 1.15, "high": 1.96},
      "cpu_utilization": 0.02}, 2, "above-cores"),
    ({"kind": "io", "workers": 4, "speedup": {"median": 5.0, "low": 4.6, "high": 5.3},
      "cpu_utilization": 0.02}, 2, "above-cores"),
    ({"error": "BrokenProcessPool", "speedup": None}, 2, "failed"),
    ({"result_ok": False, "speedup": {"median": 1.9, "low": 1.8, "high": 2.0}}, 2, "failed"),
    ({"executor": "serial", "family": "serial", "workers": 1}, 2, "baseline"),
])
def test_verdict_rule_boundaries(kw, usable, code):
    cell = make_cell(**kw)
    v = analysis.verdict(cell, usable)
    assert v.code == code, v
    if code not in ("baseline",):
        assert v.label == rule_from_text(cell, usable)


def test_verdict_workers_prefers_largest_within_cores():
    assert analysis.verdict_workers([1, 2, 4], 2) == 2
    assert analysis.verdict_workers([1, 2, 4, 8], 4) == 4
    assert analysis.verdict_workers([1, 2, 4], 1) == 2  # one core: judged at 2 workers
    assert analysis.verdict_workers([4, 8], 2) == 4


# --------------------------------------------------------------------------------------------
# failed and unstable cells are shown, never hidden


def test_failed_and_unstable_cells_are_listed_with_their_reasons(recorded_reports):
    doc, paths = recorded_reports["faulty.json"]
    md = paths["markdown"].read_text(encoding="utf-8")
    problems = section(md, "Problems")
    for cell in doc["cells"]:
        where = f"{cell['kernel']}/{cell['variant']}/{cell['executor']}@{cell['workers']}"
        failed = cell["error"] or cell.get("timed_out") or cell.get("result_ok") is False
        if failed:
            assert where in problems, where
            reason = cell["error"] or "result disagreed with the python reference"
            assert reason.replace("|", "\\|") in problems
        elif not cell["stable"]:
            assert where in problems and cell["unstable_reason"] in problems
    verdicts = section(md, "Verdicts")
    assert "**failed**" in verdicts and "**timed out**" in verdicts and "⚠" in verdicts
    head = md.split("## Verdicts")[0]
    assert "5 failed" in head
    # the unstable cell's interval straddles a boundary: counted as undecided, not as a finding
    assert re.search(r"\*\*1 of \d+\*\* verdicts \*\*undecided", head), head
    assert "did not finish" in head


def test_failed_cells_are_marked_on_the_plots(recorded_reports, tmp_path):
    from gilbench.report import plots

    doc, _ = recorded_reports["faulty.json"]
    # a failed cell is drawn as a red cross: the figure differs from one without the failure
    kept = dict(doc, cells=[c for c in doc["cells"] if not c["error"]])
    a = plots.speedup_plot(doc, "primes", tmp_path / "with.png").read_bytes()
    b = plots.speedup_plot(kept, "primes", tmp_path / "without.png").read_bytes()
    assert a != b


# --------------------------------------------------------------------------------------------
# headline, scaling figures, claims


def test_headline_names_host_and_what_reached_the_cores(recorded_reports):
    doc, paths = recorded_reports["synthetic-gil.json"]
    head = headline.headline(doc)
    assert "2 usable cores" in head["host"] and "GIL on" in head["host"]
    assert "default build" in head["host"] and "Synthetic CPU" in head["host"]
    sentences = {s.split(" reached the 2 cores")[0]: s.split(": ", 1)[1].split("; ")[0]
                 for s in head["answer"].split(". ") if " reached the 2 cores" in s}
    # every variant parallel in a family on every CPU kernel is named in its sentence
    judged = [j for j in analysis.judge(doc) if analysis.kind(j.cell) != "io"]
    names = {"threads": "Threads", "processes": "Process pools"}
    for fam, name in names.items():
        in_family = [j for j in judged if analysis.family(j.cell) == fam]
        for v in {j.variant for j in in_family}:
            js = [j for j in in_family if j.variant == v]
            if all(j.verdict.code == "parallel" for j in js):
                reached = sentences[name]
                assert f"**{v}**" in reached or "every variant" in reached, (fam, v)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert head["answer"] in md
    ft = headline.headline(load_any(DATA / "synthetic-ft.json"))
    assert "free-threaded build" in ft["host"] and "GIL off" in ft["host"]


def test_karp_flatt():
    assert stats.karp_flatt(2.0, 2) == pytest.approx(0.0)
    assert stats.karp_flatt(1.0, 2) == pytest.approx(1.0)
    assert stats.karp_flatt(2.5, 4) == pytest.approx((1 / 2.5 - 1 / 4) / (1 - 1 / 4))
    assert stats.karp_flatt(1.5, 1) is None
    assert stats.karp_flatt(0.0, 4) is None


def test_scaling_table_matches_the_cells(recorded_reports):
    doc, paths = recorded_reports["synthetic-gil.json"]
    text = section(paths["markdown"].read_text(encoding="utf-8"), "Scaling per curve")
    lines = md_tables(text)[0]
    header = split_row(lines[0])
    usable = doc["host"]["usable_cores"]
    cells = {(c["kernel"], c["variant"], c["executor"], c["workers"]): c for c in doc["cells"]}
    for line in lines[2:]:
        row = split_row(line)
        for col, shown in zip(header[3:], row[3:]):
            w = int(col.split("=")[1])
            cell = cells[(row[0], row[1], row[2], w)]
            p = min(w, usable)
            s = cell["speedup"]["median"]
            m = re.fullmatch(r"E (\S+) · e (\S+)", shown)
            assert float(m.group(1)) == pytest.approx(s / p, abs=0.006)
            assert float(m.group(2)) == pytest.approx((1 / s - 1 / p) / (1 - 1 / p), abs=0.006)


def test_claims_table_has_every_claim_and_decides_from_the_cells(recorded_reports):
    gil, paths = recorded_reports["synthetic-gil.json"]
    ft, _ = recorded_reports["synthetic-ft.json"]
    md = section(paths["markdown"].read_text(encoding="utf-8"), "What the article says")
    for cid in CLAIM_IDS:
        assert f"`{cid}`" in md
    g = {c["id"]: c for c in report_claims.claims(gil)}
    f = {c["id"]: c for c in report_claims.claims(ft)}
    assert [c["id"] for c in report_claims.claims(gil)] == CLAIM_IDS
    assert g["pure-python-threads-not-parallel"]["verdict"] == "confirmed"
    assert f["pure-python-threads-not-parallel"]["verdict"] == "refuted"  # no GIL, no claim
    assert g["free-threaded-python-parallel"]["verdict"] == "not measured"
    assert f["free-threaded-python-parallel"]["verdict"] == "confirmed"
    assert g["nogil-c-code-parallel"]["verdict"] == "confirmed"
    assert g["gil-released-on-sleep-io"]["verdict"] == "confirmed"
    assert "control, GIL held" in g["gil-released-on-sleep-io"]["evidence"]
    assert g["switch-interval-5ms"]["verdict"] == "not measured"
    for c in g.values():
        assert c["verdict"] in report_claims.CLAIM_VERDICTS
        assert c["evidence"] and c["decided_by"]
    # an older file has no GIL check: the GIL claims say they fell back on the speedups
    assert g["nogil-c-code-parallel"]["decided_by"] == "speedups"
    assert "no GIL check in this file" in g["nogil-c-code-parallel"]["evidence"]


def test_undecided_cells_make_claims_inconclusive_not_refuted(recorded_reports):
    doc, _ = recorded_reports["faulty.json"]
    claims = {c["id"]: c for c in report_claims.claims(doc)}
    nogil = claims["nogil-c-code-parallel"]  # its one threads cell straddles slower | above
    assert nogil["verdict"] == "inconclusive"
    assert "1 of 1 cells undecided" in nogil["evidence"] and "--max-repeats" in nogil["evidence"]
    assert "failed: primes/python/process-pool@2" in claims["processes-bypass-gil"]["evidence"]


def test_merge_claims_only_replaces_not_measured():
    base = [{"id": "a", "claim": "A", "verdict": "not measured", "evidence": "-"},
            {"id": "b", "claim": "B", "verdict": "confirmed", "evidence": "cells"}]
    merged = report_claims.merge_claims(base, [
        {"id": "a", "claim": "A", "verdict": "refuted", "evidence": "exp"},
        {"id": "b", "claim": "B", "verdict": "refuted", "evidence": "exp"},
        {"id": "c", "claim": "C", "verdict": "confirmed", "evidence": "exp"}])
    assert [(c["id"], c["verdict"]) for c in merged] == [
        ("a", "refuted"), ("b", "confirmed"), ("c", "confirmed")]


# --------------------------------------------------------------------------------------------
# the experiments sections


@pytest.fixture
def no_plots(monkeypatch):
    """Skip drawing (the slow part) where a test looks only at the text."""
    from gilbench.report import plots

    monkeypatch.setattr(plots, "write_plots", lambda doc, outdir: {})


@pytest.mark.usefixtures("no_plots")
def test_experiments_plugin_sections_and_claims_are_merged(monkeypatch, tmp_path):
    doc = load_any(DATA / "faulty.json")
    doc["experiments"] = {"switch-interval": {"median_s": 0.005}}
    def render(d, outdir):
        assert d is doc and outdir == tmp_path
        return ("### Switch interval\n\n| measured | expected |\n| ---: | ---: |\n| 5.0 ms | 5 ms |\n",
                [{"id": "switch-interval-5ms", "claim": "The GIL is handed over about every 5 ms.",
                  "verdict": "confirmed", "evidence": "median hand-over 5.0 ms"}])

    monkeypatch.setattr(report_experiments, "render", render)
    paths = write_report(doc, tmp_path)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "### Switch interval" in md and "median hand-over 5.0 ms" in md
    html = paths["html"].read_text(encoding="utf-8")
    assert "<h3" in html and "Switch interval" in html and "<td class=\"num\">5.0 ms</td>" in html


# --------------------------------------------------------------------------------------------
# loading and the command line


def test_load_any_pytest_benchmark_hook(monkeypatch, tmp_path):
    data = {"machine_info": {"node": "x"}, "benchmarks": []}
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(data))
    with pytest.raises(results.ResultsError, match="cannot convert this pytest-benchmark file"):
        load_any(path)  # the real converter: no gilbench cell in it
    converted = results.read(DATA / "faulty.json")
    from gilbench import bench_convert

    monkeypatch.setattr(bench_convert, "to_results", lambda d: converted if d == data else None)
    assert load_any(path) is converted


def test_load_any_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    with pytest.raises(results.ResultsError, match="not a gilbench results file"):
        load_any(bad)
    with pytest.raises(results.ResultsError, match="no such file"):
        load_any(tmp_path / "missing.json")


def test_cli_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert cli.main(["report", str(DATA / "faulty.json"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "verdicts" in printed and "report.html" in printed
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert list(out.glob("*.png"))


def test_cli_report_bad_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "trunc.json"
    bad.write_text((DATA / "faulty.json").read_text()[:200])
    assert cli.main(["report", str(bad), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gilbench report: error:") and "not valid JSON" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_experiments_only_file_reports_claims_and_experiments(recorded_reports):
    """A `gilbench claims` file (experiments, no cells): the claims table takes the
    experiments' verdicts."""
    doc, paths = recorded_reports["real-claims-quick.json"]
    assert not doc["cells"] and doc["experiments"]
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "## Verdicts" not in md and "## All numbers" not in md  # no cell sections
    assert "experiments only" in md.split("\n## ")[0]
    claims = section(md, "What the article says")
    decided = {c["id"]: c for c in report_experiments.render(doc, paths["markdown"].parent)[1]}
    assert decided, "the plug-in decided no claim from a file of experiments"
    for cid, c in decided.items():
        row = next(line for line in claims.splitlines() if f"`{cid}`" in line)
        assert f"**{c['verdict']}**" in row, row


def test_busy_host_is_said_from_the_serial_cells(recorded_reports):
    quiet, _ = recorded_reports["synthetic-gil.json"]
    assert analysis.contention(quiet) is None
    busy = json.loads(json.dumps(quiet))
    for c in busy["cells"]:
        if c["executor"] == "serial" and c["kind"] != "io":
            # the serial run waited for a CPU half the time: Σ CPU / wall = 0.5
            c["cpu_utilization"] = 0.5
    busy["host"]["load_average_start"] = [5.6, 5.8, 3.7]
    warning = analysis.contention(busy)
    assert warning and "0.50 of a core" in warning and "5.6" in warning
    assert headline.headline(busy)["warning"] == warning
    assert headline.headline(quiet)["warning"] == ""


def test_kernel_facts_travel_in_the_document(tmp_path):
    """The report reads kernel facts from the document: a cell without ``kind`` takes it from
    the ``kernels`` section (results.kernel_section), whose order is the kernel order."""
    from gilbench import kernels

    doc = json.loads((DATA / "faulty.json").read_text(encoding="utf-8"))
    names = list(dict.fromkeys(c["kernel"] for c in doc["cells"]))
    doc["kernels"] = results.kernel_section(kernels.get(n) for n in reversed(names))
    for c in doc["cells"]:
        c.pop("kind", None)
    path = tmp_path / "facts.json"
    results.write(doc, path)
    loaded = load_any(path)
    assert analysis.kernel_names(loaded) == list(reversed(names))
    sleep = [c for c in loaded["cells"] if c["kernel"] == "sleep"]
    assert sleep and all(c["kind"] == "io" for c in sleep)
    assert loaded["kernels"]["sleep"]["unit"] == kernels.get("sleep").unit
    without = json.loads((DATA / "faulty.json").read_text(encoding="utf-8"))
    for c in without["cells"]:
        c.pop("kind", None)
    results.write(without, path)
    old = load_any(path)  # an older file without the section still reads, as CPU work
    assert all(analysis.kind(c) == "cpu" for c in old["cells"])


#: a time with a minus sign, as the report would print one ("-6.98e+03 µs", "−351 µs")
NEGATIVE_TIME = re.compile(r"(?<![\w-])[-−]\d[\d.]*(?:e[+-]?\d+)?\s?(?:µs|ms|s)\b")


def test_start_up_lost_in_the_noise_is_not_measurable_never_negative(tmp_path: Path) -> None:
    doc = load_any(DATA / "real-primes-sleep.json")
    pools = [c for c in doc["cells"] if c.get("startup_s") is not None]
    assert len(pools) >= 2
    # an older file: a cold run faster than the warm median gave a negative start-up
    for cell in pools[:2]:
        cell["startup_s"] = -6.98e-3
        cell["cold_wall_s"] = cell["median_s"] - 6.98e-3 if cell["median_s"] > 7e-3 else None
    md = (write_report(doc, tmp_path)["markdown"]).read_text(encoding="utf-8")
    assert not NEGATIVE_TIME.search(md), NEGATIVE_TIME.search(md).group(0)
    assert "not measurable" in md


def test_every_recorded_report_shows_no_negative_time(recorded_reports) -> None:
    for name in FILES:
        doc, paths = recorded_reports[name]
        md = paths["markdown"].read_text(encoding="utf-8")
        assert not NEGATIVE_TIME.search(md), (name, NEGATIVE_TIME.search(md).group(0))


def test_startup_excess_needs_a_cold_run_above_every_warm_one() -> None:
    assert stats.startup_excess(0.020, [0.010, 0.011, 0.012]) == pytest.approx((0.009, None))
    value, why = stats.startup_excess(0.011, [0.010, 0.0125, 0.012])
    assert value is None and why.startswith("not measurable: the cold run (11 ms) lies within")
    assert stats.startup_excess(None, [0.01]) == (None, None)


def test_unstable_says_the_measured_cause_or_none() -> None:
    legacy = "IQR is 47% of the median (limit 20%): the machine was noisy"
    quiet = {"stable": False, "unstable_reason": legacy, "redone_rounds": 0,
             "noise": {"other_cores_max": 0.01, "steal_share_max": 0.0}}
    text = analysis.unstable_text(quiet)
    assert "noisy" not in text
    assert text.startswith("IQR is 47% of the median (limit 20%): no measured noise explains it")
    busy = {**quiet, "redone_rounds": 5, "noise": {"other_cores_max": 0.65,
                                                    "steal_share_max": 0.002}}
    assert analysis.unstable_text(busy) == (
        "IQR is 47% of the median (limit 20%): in its kept rounds other processes used at most "
        "0.65 cores and the hypervisor stole at most 0.2%; 5 disturbed rounds were measured "
        "again")
    assert stats.stability([1.0, 2.0, 1.0, 2.0, 1.5])[1] == "IQR is 67% of the median (limit 20%)"


def test_no_report_blames_noise_it_did_not_measure(recorded_reports) -> None:
    for name in FILES:
        doc, paths = recorded_reports[name]
        assert "the machine was noisy" not in paths["markdown"].read_text(encoding="utf-8"), name
