"""Words that never contradict the numbers: claims refuted only by decided cells, GIL claims
decided by the GIL check, a headline drawn from the same verdicts as the table, anomalies and
undecided cells named, host noise said, and compare's minimum change.

Every document here is crafted from tests/data/synthetic-gil.json (a GIL build, 2 usable cores):
``verdict_doc`` stores each cell's verdict as the run does, adds the ``kernels`` section with a
``gil_check`` per variant (the shape ``gilbench.gilcheck.check_gil`` gives) and the noise fields.
Nothing here times this host.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from gilbench import commands as cli
from gilbench import kernels, results, verdicts
from gilbench.report import analysis, claims_of, compare, load_any, write_report
from gilbench.report.headline import headline

DATA = Path(__file__).resolve().parent / "data"

#: the GIL checks a textbook host gives: (kernel, variant) -> (verdict, fraction, low, high)
TEXTBOOK = {
    ("primes", "python"): ("holds", 0.50, 0.47, 0.53),
    ("primes", "cython-gil"): ("holds", 0.02, 0.00, 0.05),
    ("primes", "cython-nogil"): ("releases", 0.97, 0.95, 0.99),
    ("checksum", "python"): ("holds", 0.51, 0.48, 0.55),
    ("checksum", "stdlib"): ("releases", 0.96, 0.93, 0.99),
    ("sleep", "python"): ("releases", 0.99, 0.98, 1.00),
    ("sleep", "cython-gil"): ("holds", 0.01, 0.00, 0.02),
}


def gil_check(verdict: str, fraction: float | None = None, low: float | None = None,
              high: float | None = None, reason: str = "") -> dict:
    """A variant's ``gil_check`` as the run records it."""
    return {"verdict": verdict, "fraction": fraction, "low": low, "high": high,
            "reason": reason or f"interval {low}–{high}"}


def cell(doc: dict, kernel: str, variant: str, executor: str, workers: int = 2) -> dict:
    return next(c for c in doc["cells"] if (c["kernel"], c["variant"], c["executor"],
                                            c["workers"]) == (kernel, variant, executor, workers))


def set_speedup(doc: dict, c: dict, median: float, low: float, high: float,
                util: float | None = None, budget_reason: str | None = None) -> dict:
    """Give a cell a speedup and store the verdict the run would have stored for it."""
    c["speedup"] = {"median": median, "low": low, "high": high, "n": 9}
    if util is not None:
        c["cpu_utilization"] = util
    if budget_reason:
        c["budget_reason"] = budget_reason
    c["verdict"] = verdicts.judge(c, doc["host"]["usable_cores"]).as_dict()
    return c


def verdict_doc(checks: dict | None = None) -> dict:
    """synthetic-gil.json as a current run writes it: stored verdicts, the kernels section
    with GIL checks (``checks``, default TEXTBOOK), noise accounting and the run's budget."""
    doc = json.loads((DATA / "synthetic-gil.json").read_text(encoding="utf-8"))
    names = list(dict.fromkeys(c["kernel"] for c in doc["cells"]))
    doc["kernels"] = results.kernel_section(kernels.get(n) for n in names)
    for (k, v), (verdict, f, lo, hi) in (TEXTBOOK if checks is None else checks).items():
        doc["kernels"][k]["variants"][v]["gil_check"] = gil_check(verdict, f, lo, hi)
    doc["config"].update(max_repeats=15, max_time_s=2.5)
    for c in doc["cells"]:
        c["rounds"] = list(range(len(c["wall_s"])))
        c["redone_rounds"] = 0
        c["noise"] = {"other_cores_max": 0.05, "steal_share_max": 0.0, "involuntary_switches": 3}
        c["verdict"] = verdicts.judge(c, doc["host"]["usable_cores"]).as_dict()
    return doc


def claim(doc: dict, cid: str) -> dict:
    return next(c for c in claims_of(doc) if c["id"] == cid)


# --------------------------------------------------------------------------------------------
# claims: refuted only by decided cells


def test_claims_from_undecided_cells_are_inconclusive_with_what_would_decide_them():
    doc = verdict_doc()
    pool = [c for c in doc["cells"] if c["variant"] == "python" and c["family"] == "processes"
            and c["kind"] == "cpu" and c["workers"] == 2]
    assert len(pool) >= 2
    for c in pool:  # straddles partial | parallel: neither for nor against, yet
        set_speedup(doc, c, 1.45, 1.2, 1.8, util=1.9,
                    budget_reason="15 rounds (the cap)")
        assert c["verdict"]["code"] == "undecided"
    got = claim(doc, "processes-bypass-gil")
    assert got["verdict"] == "inconclusive"
    assert f"{len(pool)} of {len(pool)} cells undecided" in got["evidence"]
    assert "--max-repeats 30" in got["evidence"]  # twice the cap that ran out

    # one decided cell against it does not refute while the others could still agree
    set_speedup(doc, pool[0], 0.8, 0.75, 0.85)
    assert pool[0]["verdict"]["code"] == "slower"
    assert claim(doc, "processes-bypass-gil")["verdict"] == "inconclusive"

    # decided cells, all against it: refuted
    for c in pool:
        set_speedup(doc, c, 0.8, 0.75, 0.85)
    assert claim(doc, "processes-bypass-gil")["verdict"] == "refuted"


def test_a_mixed_outcome_does_not_wait_for_undecided_cells():
    doc = verdict_doc()
    # asyncio gives no CPU parallelism: the other asyncio cells agree (concurrent only)
    set_speedup(doc, cell(doc, "primes", "python", "asyncio"), 1.8, 1.6, 1.9, util=1.9)
    set_speedup(doc, cell(doc, "primes", "cython-gil", "asyncio"), 1.15, 1.0, 1.3)
    assert cell(doc, "primes", "cython-gil", "asyncio")["verdict"]["code"] == "undecided"
    assert claim(doc, "asyncio-no-cpu-parallelism")["verdict"] == "mixed"


def test_asyncio_claim_applies_the_cpu_rule_to_undecided_cells():
    """A cell on 1.00 cores cannot have run CPU work in parallel, whatever its speedup
    interval reaches: it agrees with 'asyncio gives no CPU parallelism'."""
    doc = verdict_doc()
    c = cell(doc, "primes", "cython-gil", "asyncio")
    c["cpu_s"] = list(c["wall_s"])  # 1.00 cores in every round
    set_speedup(doc, c, 1.15, 1.0, 1.3, util=1.0)
    assert c["verdict"]["code"] == "undecided"
    assert claim(doc, "asyncio-no-cpu-parallelism")["verdict"] == "confirmed"
    c["cpu_s"] = [1.9 * w for w in c["wall_s"]]  # two cores: a gain is possible, still open
    set_speedup(doc, c, 1.15, 1.0, 1.3, util=1.9)
    assert claim(doc, "asyncio-no-cpu-parallelism")["verdict"] == "inconclusive"


def test_startup_claim_is_not_confirmed_without_pickling():
    doc = verdict_doc()
    got = claim(doc, "process-startup-cost")
    assert got["verdict"] != "confirmed", got
    if got["verdict"] == "inconclusive":
        assert "pickling is not measured" in got["evidence"]


def test_an_interval_wholly_on_one_side_counts_for_the_claim():
    """slower | concurrent only still says 'no gain': with a decided cell beside it, the claim
    that asyncio gives no CPU parallelism is confirmed."""
    doc = verdict_doc()
    c = cell(doc, "primes", "python", "asyncio")
    set_speedup(doc, c, 0.9, 0.85, 0.97)
    assert c["verdict"]["code"] == "undecided"
    assert claim(doc, "asyncio-no-cpu-parallelism")["verdict"] == "confirmed"


def test_borderline_cells_count_where_both_sides_agree_and_are_partly_otherwise():
    """On the slower | concurrent-only line, asyncio still gave no gain: confirmed. On the
    partial | parallel line, processes are partly parallel: mixed, not inconclusive (more
    rounds would not move the cell off the line)."""
    doc = verdict_doc()
    c = cell(doc, "primes", "python", "asyncio")
    set_speedup(doc, c, 0.9, 0.88, 0.93)
    assert c["verdict"]["code"] == "borderline"
    assert claim(doc, "asyncio-no-cpu-parallelism")["verdict"] == "confirmed"

    pool = [c for c in doc["cells"] if c["variant"] == "python" and c["family"] == "processes"
            and c["kind"] == "cpu" and c["workers"] == 2]
    for c in pool:
        set_speedup(doc, c, 1.9, 1.8, 1.95, util=1.9)
    assert claim(doc, "processes-bypass-gil")["verdict"] == "confirmed"
    set_speedup(doc, pool[0], 1.5, 1.46, 1.55, util=1.9)
    assert pool[0]["verdict"]["code"] == "borderline"
    assert claim(doc, "processes-bypass-gil")["verdict"] == "mixed"


def test_bandwidth_claim_counts_an_undecided_cell_that_reached_the_cores_either_way():
    """A memory cell undecided only between parallel and above the core count scaled either
    way: with the others decided parallel, bandwidth was not the limit (refuted); a memory cell
    whose interval still reaches partial leaves the claim open."""
    doc = verdict_doc()
    free = [c for c in doc["cells"] if c["kernel"] in ("stream", "primes") and c["workers"] == 2
            and c["variant"] in ("cython-nogil", "numpy") and c["family"] == "threads"]
    assert any(c["kernel"] == "stream" for c in free)
    for c in free:
        set_speedup(doc, c, 1.9, 1.8, 1.98, util=1.9)
    assert claim(doc, "memory-bound-bandwidth-limit")["verdict"] == "refuted"
    mem = next(c for c in free if c["kernel"] == "stream")
    set_speedup(doc, mem, 1.95, 1.68, 2.37, util=1.95)
    assert mem["verdict"]["code"] == "undecided"
    assert claim(doc, "memory-bound-bandwidth-limit")["verdict"] == "refuted"
    set_speedup(doc, mem, 1.6, 1.3, 1.9, util=1.6)
    assert claim(doc, "memory-bound-bandwidth-limit")["verdict"] == "inconclusive"


def test_bandwidth_claim_is_not_refuted_with_a_memory_cell_left_host_busy():
    """"Every memory cell scaled" needs every memory cell: with one left undecided — host busy
    (a busy neighbour, as seen beside a bursty load) the rest scaling refutes nothing."""
    doc = verdict_doc()
    free = [c for c in doc["cells"] if c["kernel"] in ("stream", "primes") and c["workers"] == 2
            and c["variant"] in ("cython-nogil", "numpy") and c["family"] == "threads"]
    for c in free:
        set_speedup(doc, c, 1.9, 1.8, 1.98, util=1.9)
    assert claim(doc, "memory-bound-bandwidth-limit")["verdict"] == "refuted"
    mem = [c for c in free if c["kernel"] == "stream"]
    assert len(mem) >= 2
    mem[-1]["host_busy"] = True
    mem[-1]["verdict"] = verdicts.judge(mem[-1], doc["host"]["usable_cores"]).as_dict()
    assert mem[-1]["verdict"]["cause"] == "host-busy"
    found = claim(doc, "memory-bound-bandwidth-limit")
    assert found["verdict"] == "inconclusive"
    assert "host busy" in found["evidence"]


# --------------------------------------------------------------------------------------------
# GIL claims: decided by the GIL check


def test_gil_claims_follow_the_gil_check_and_quote_the_speedups_as_support():
    doc = verdict_doc()
    numpy = claim(doc, "numpy-zlib-release-gil")
    assert numpy["verdict"] == "confirmed" and numpy["decided_by"] == "GIL check"
    assert numpy["evidence"].startswith("GIL check: checksum/stdlib 0.96 [0.93–0.99] releases")
    assert "speedups support it" in numpy["evidence"]
    assert claim(doc, "nogil-c-code-parallel")["verdict"] == "confirmed"
    assert claim(doc, "gil-released-on-sleep-io")["verdict"] == "confirmed"
    for cid in ("pure-python-threads-not-parallel", "cython-gil-keeps-gil"):
        got = claim(doc, cid)
        assert got["verdict"] == "confirmed" and got["decided_by"] == "GIL check", got

    # the speedups disagree (a loaded host, say): the GIL check still decides
    for c in doc["cells"]:
        if (c["kernel"], c["variant"], c["family"]) == ("checksum", "stdlib", "threads"):
            set_speedup(doc, c, 1.0, 0.95, 1.05)
    numpy = claim(doc, "numpy-zlib-release-gil")
    assert numpy["verdict"] == "confirmed" and "speedups say refuted" in numpy["evidence"]


def test_gil_claims_are_refuted_by_a_decided_check_and_inconclusive_on_undecided_ones():
    holds = dict(TEXTBOOK)
    holds[("checksum", "stdlib")] = ("holds", 0.3, 0.25, 0.35)
    assert claim(verdict_doc(holds), "numpy-zlib-release-gil")["verdict"] == "refuted"
    partly = dict(TEXTBOOK)
    partly[("checksum", "stdlib")] = ("partly", 0.68, 0.62, 0.72)
    assert claim(verdict_doc(partly), "numpy-zlib-release-gil")["verdict"] == "mixed"
    unsure = dict(TEXTBOOK)
    unsure[("primes", "cython-nogil")] = ("undecided", 0.7, 0.5, 0.9)
    got = claim(verdict_doc(unsure), "nogil-c-code-parallel")
    assert got["verdict"] == "inconclusive" and "1 of 1 checks undecided" in got["evidence"]


def test_without_gil_checks_the_claims_fall_back_on_speedups_and_say_so():
    got = claim(verdict_doc({}), "nogil-c-code-parallel")
    assert got["decided_by"] == "speedups" and "no GIL check in this file" in got["evidence"]
    assert got["verdict"] == "confirmed"  # primes/cython-nogil threads is parallel


# --------------------------------------------------------------------------------------------
# the headline agrees with the table


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"(\d+\.\d+)×", text)]


def crafted_headline_doc() -> dict:
    doc = verdict_doc()
    # one pair parallel on one kernel, short of it on another
    set_speedup(doc, cell(doc, "checksum", "python", "process-pool"), 1.3, 1.2, 1.4, util=1.3)
    # an anomaly: above the usable cores
    set_speedup(doc, cell(doc, "checksum", "stdlib", "threads"), 2.6, 2.5, 2.7, util=1.95)
    # an undecided cell
    set_speedup(doc, cell(doc, "primes", "cython-nogil", "thread-pool"), 1.4, 1.0, 1.8,
                util=1.5, budget_reason="the group's time budget of 2.5 s ran out after 9 rounds")
    c = cell(doc, "primes", "python", "threads")
    c["redone_rounds"] = 2
    c["noise"]["redone_reasons"] = ["other processes used 0.90 cores (limit 0.2)"]
    c["noise"]["other_cores_max"] = 0.31
    return doc


def headline_parts(answer: str) -> dict[str, str]:
    """The answer's parts by what they say: "threads parallel", "threads short of it",
    "processes no gain", "processes depends on the kernel", "anomaly", "line", ... (a family's
    sentence is split at its semicolons)."""
    parts = {}
    for sentence in re.split(r"(?<=\.) (?=[A-Z*])", answer):
        head = re.match(r"(Threads|Process pools|asyncio)\b[^:]*?(reached the \d+ cores[^:]*)?: ",
                        sentence)
        if head is None:
            key = ("anomaly" if sentence.startswith("Not a finding") else
                   "line" if sentence.startswith("On a line") else sentence.split()[0])
            parts[key] = sentence
            continue
        family = {"Threads": "threads", "Process pools": "processes"}.get(head[1], head[1])
        for i, part in enumerate(sentence[head.end():].rstrip(".").split("; ")):
            what = re.match(r"(short of it|no gain|depends on the kernel): ", part)
            if what is None and i == 0 and head[2]:
                parts[f"{family} parallel"] = part
            elif what is not None:
                parts[f"{family} {what[1]}"] = part[what.end():]
    return parts


def test_headline_never_contradicts_the_verdict_table():
    doc = crafted_headline_doc()
    answer = headline(doc)["answer"]
    judged = analysis.judge(doc)
    codes = {j.verdict.code for j in judged}
    assert "parallel" in codes and "No cell ran in parallel" not in answer
    parts = headline_parts(answer)
    # threads first, with the rule the run shows; then processes; the host's own core count
    assert answer.startswith("Threads reached the 2 cores when the code released the GIL: ")
    assert answer.index("Process pools") < answer.index("asyncio")
    assert "several cores" not in answer
    findings = {k: v for k, v in parts.items() if k.split()[0] in ("threads", "processes",
                                                                   "asyncio")}
    for key, text in findings.items():
        if key.endswith("parallel"):
            assert all(x >= 1.5 for x in _numbers(text)), (key, text)
        elif key.endswith("short of it"):
            assert all(x >= 1.1 for x in _numbers(text)), (key, text)
        elif key.endswith("no gain"):
            assert all(x <= 1.1 for x in _numbers(text)), (key, text)
    assert "python" in parts["processes depends on the kernel"]
    assert "**python**" not in parts["processes parallel"]
    # the anomaly is named as one, never as a finding
    assert "checksum/stdlib/threads@2 2.60×" in parts["anomaly"]
    assert all("2.60" not in text for text in findings.values())
    undecided = sum(1 for j in judged if j.verdict.code == "undecided")
    assert f"**{undecided} of {len(judged)}** verdicts **undecided — on a boundary**" in answer
    # a borderline cell is named on its line, with both sides, and in no finding
    line = [j for j in judged if j.verdict.code == "borderline"]
    assert line, "the crafted document has a cell on a line"
    for j in line:
        name = f"{j.kernel}/{j.variant}/{j.executor}@{j.workers}"
        sides = j.verdict.label.removeprefix("borderline ").strip("()")
        assert f"{name} {j.cell['speedup']['median']:.2f}× ({sides})" in parts["line"]
        assert all(name not in text for text in findings.values())


def test_headline_answer_is_short_and_leads_with_threads():
    """At most ~80 words: threads (and the GIL rule), processes, then what was undecided; the
    number of cores said, never "several"."""
    for name in ("synthetic-gil.json", "real-primes-sleep.json"):
        answer = headline(load_any(Path(__file__).parent / "data" / name))["answer"]
        assert len(answer.split()) <= 90, (name, len(answer.split()), answer)
        assert answer.startswith("Threads reached the 2 cores when the code released the GIL")
        assert "several cores" not in answer
    answer = headline(load_any(Path(__file__).parent / "data" / "synthetic-gil.json"))["answer"]
    order = [answer.index(w) for w in ("Threads", "Process pools", "undecided — on a boundary")]
    assert order == sorted(order)


def test_report_shows_noise_anomalies_undecided_and_gil_checks(tmp_path):
    doc = crafted_headline_doc()
    path = tmp_path / "crafted.json"
    results.write(doc, path)
    md = write_report(load_any(path), tmp_path / "r")["markdown"].read_text(encoding="utf-8")
    head = md.split("## Verdicts")[0]
    assert "**Host noise:** 1 of" in head and "up to 2 per cell" in head
    assert "other processes used at most 0.31 cores" in head
    verdict_table = md.split("## Verdicts")[1].split("**How a verdict")[0]
    assert "↻2" in verdict_table and "anomaly, see *Problems*" in verdict_table
    problems = md.split("## Problems")[1].split("\n## ")[0]
    assert re.search(r"checksum/stdlib/threads@2 \| \*\*anomaly\*\* \| above the core count", problems)
    assert re.search(r"primes/cython-nogil/thread-pool@2 \| \*\*undecided\*\* \| interval "
                     r"1\.00–1\.80 straddles .*time budget of 2\.5 s ran out", problems)
    claims = md.split("## What the article says")[1].split("\n## ")[0]
    assert "| GIL check | GIL check: checksum/stdlib 0.96 [0.93–0.99] releases" in claims


def test_old_files_still_render_without_the_new_fields(recorded_reports):
    md = recorded_reports["real-primes-sleep.json"][1]["markdown"].read_text(encoding="utf-8")
    assert "Host noise" not in md and "no GIL check in this file" in md


# --------------------------------------------------------------------------------------------
# compare: a minimum change, sizes that differ, nothing comparable


def test_compare_needs_a_minimum_change(scaled):
    gil = load_any(DATA / "synthetic-gil.json")
    small = compare(gil, scaled(gil, 1.03))
    rows = [r for r in small.rows if r.compared and r.low > 1]  # intervals excluding 1 ...
    assert len(rows) > 10
    assert {r.status for r in small.rows if r.compared} == {"not significant"}  # ... only 3%
    assert {r.status for r in compare(gil, scaled(gil, 1.10)).rows if r.compared} == {"slower"}
    assert {r.status for r in compare(gil, scaled(gil, 1 / 1.10)).rows if r.compared} == {
        "faster"}
    # the threshold is an option: with none, the 3% changes the false discovery rate selects
    # are slower
    bare = compare(gil, scaled(gil, 1.03), min_change=0)
    assert bare.count("slower") > 10 and bare.count("slower") == bare.discoveries


def _paired_doc(cell_factor: float) -> dict:
    """One group measured in 7 paired rounds with 0.1% steps between rounds (a tight interval):
    serial 100 ms, threads@2 50 ms times ``cell_factor``."""
    def cell(executor: str, workers: int, base_s: float, step: int) -> dict:
        return {"kernel": "primes", "variant": "python", "executor": executor,
                "workers": workers, "size": 1000, "rounds": list(range(7)),
                "wall_s": [base_s * (1 + 0.001 * ((step * i) % 7)) for i in range(7)]}
    return {"cells": [cell("serial", 1, 0.1, 3), cell("threads", 2, 0.05 * cell_factor, 5)]}


def test_compare_needs_a_minimum_change_of_a_speedup_too():
    key = ("primes", "python", "threads", 2)
    small = next(r for r in compare(_paired_doc(1), _paired_doc(1 / 1.03)).rows if r.key == key)
    assert small.basis == "speedup" and 1 < small.low < small.high  # excludes 1 ...
    assert small.status == "not significant"  # ... but the speedup moved only 3%
    bare = compare(_paired_doc(1), _paired_doc(1 / 1.03), min_change=0)
    assert next(r for r in bare.rows if r.key == key).status == "scales better"
    worse = compare(_paired_doc(1), _paired_doc(1.10))
    assert next(r for r in worse.rows if r.key == key).status == "scales worse"
    assert worse.changed == 1 and "scales worse in 1" in worse.summary()


def test_compare_warns_when_sizes_differ(tmp_path, capsys):
    gil = load_any(DATA / "synthetic-gil.json")
    assert not compare(gil, gil).sizes_differ
    bigger = copy.deepcopy(gil)
    for c in bigger["cells"][:5]:
        c["size"] *= 2
    path = tmp_path / "bigger.json"
    results.write(bigger, path)
    assert cli.main(["compare", str(DATA / "synthetic-gil.json"), str(path),
                     "-o", str(tmp_path / "cmp")]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "Sizes differ in 5 of" in printed and "gilbench run --like" in printed
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "**Sizes differ** in 5 of" in md
    assert md.split("## All cells")[1].count("≠size") == 5


def test_compare_with_nothing_comparable_is_an_error(tmp_path, capsys):
    rc = cli.main(["compare", str(DATA / "synthetic-gil.json"),
                   str(DATA / "real-claims-quick.json"), "-o", str(tmp_path / "cmp")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing to compare" in err and "--like" in err
    assert not (tmp_path / "cmp").exists()


def test_compare_rejects_a_bad_min_change(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["compare", str(DATA / "synthetic-gil.json"), str(DATA / "synthetic-gil.json"),
                  "--min-change", "5"])
    assert exc.value.code == 2 and "fraction" in capsys.readouterr().err


def _releasing_threads_cell(median: float, low: float, high: float, util: float):
    """A document and its checksum/stdlib/threads@2 cell (its GIL check reads 'releases') at
    this speedup, its threads having spent 1.6x the serial run's CPU time on the work."""
    doc = verdict_doc()
    slow = cell(doc, "checksum", "stdlib", "threads", 2)
    slow["cpu_s"] = [0.16] * len(slow["wall_s"])
    slow["serial_cpu_per_run_s"] = 0.10
    set_speedup(doc, slow, median, low, high, util=util)
    return doc, slow


def test_a_releasing_variant_slower_under_threads_is_an_anomaly_with_its_cpu_check():
    # mandelbrot/numpy: GIL check 'releases' (0.94), threads@2 0.73x: said, with the CPU time
    # the threads spent on the serial run's work (here 1.6x: lost between them)
    doc, slow = _releasing_threads_cell(0.73, 0.68, 0.78, util=1.2)
    held = cell(doc, "checksum", "python", "threads", 2)  # holds the GIL: slower is no surprise
    set_speedup(doc, held, 0.8, 0.75, 0.85, util=1.0)
    found = {(p.cell["variant"], p.cell["workers"]): p for p in analysis.problems(doc)
             if p.cell["kernel"] == "checksum" and p.cell["executor"] == "threads"}
    p = found[("stdlib", 2)]
    assert p.status == "anomaly"
    assert "slower although its GIL check reads 'releases' (another thread kept 96%" in p.why
    assert "the threads spent 1.60× the serial run's CPU time on the same work" in p.why
    assert "hand the GIL to each other" in p.why
    assert ("python", 2) not in found or found[("python", 2)].status != "anomaly"
    # the same cell without the CPU figures still says what contradicts what
    del slow["serial_cpu_per_run_s"]
    p = next(p for p in analysis.problems(doc) if p.cell is slow)
    assert p.status == "anomaly" and "Check:" not in p.why


def test_an_undecided_releasing_variant_below_any_gain_gets_the_same_check():
    # mandelbrot/numpy threads@2 0.88x [0.82-0.94]: undecided between slower and no gain, but
    # below any gain either way: the undecided row says so, with the threads' CPU time
    doc, slow = _releasing_threads_cell(0.88, 0.82, 0.94, util=1.0)
    p = next(p for p in analysis.problems(doc) if p.cell is slow)
    assert p.status == "undecided" and "straddles 0.90" in p.why
    assert "Either way, no gain although its GIL check reads 'releases'" in p.why
    assert "the threads spent 1.60× the serial run's CPU time" in p.why
    # one that could still gain (its interval reaches past 1.1) is only undecided
    set_speedup(doc, slow, 1.05, 0.95, 1.2, util=1.1)
    p = next(p for p in analysis.problems(doc) if p.cell is slow)
    assert "GIL check" not in p.why
