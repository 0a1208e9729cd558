"""A busy host: disturbed rounds are kept but never counted, the run waits for quiet within a
budget, a cell short of undisturbed rounds is "undecided — host busy" and the report, headline
and claims say so; counters that cannot be read are said. Fixture counters, no real load: the
tests assert what was counted and said, never a timing."""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import pytest

from gilbench import kernels, noise, verdicts
from gilbench.measure import Budget, CellSpec, measure_group
from gilbench.report import claims_of
from gilbench.report.analysis import busy_banner, noise_line, problems
from gilbench.report.headline import headline
from gilbench.summary import summarize

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import TINY, gilbench  # noqa: E402
from test_honest_report import claim, verdict_doc  # noqa: E402  (its crafted documents)


class ScriptedCounters:
    """Counters in which other processes use ``plan[k]`` cores during round k (measure_group
    takes one snapshot before and one after each round) and gilbench uses none."""

    def __init__(self, plan: list[float]) -> None:
        self.plan = plan
        self.calls = 0
        self.busy_s = 0.0
        self.at = time.perf_counter()

    def host(self) -> tuple[float, float, float]:
        now = time.perf_counter()
        if self.calls % 2:  # the "after" snapshot of round calls // 2
            rate = self.plan[min(self.calls // 2, len(self.plan) - 1)]
            self.busy_s += rate * (now - self.at)
        self.at = now
        self.calls += 1
        return self.busy_s, 0.0, 1e6 + self.busy_s

    def own(self, pid: int) -> tuple[float, int]:
        return 0.0, 0


class Unreadable:
    def host(self) -> tuple[float, float, float]:
        raise OSError("no counters here")

    def own(self, pid: int) -> tuple[float, int]:
        raise OSError("no counters here")


def _specs() -> list[CellSpec]:
    size = kernels.get("primes").verify_size
    return [CellSpec("primes", "python", ex, w, size, 4) for ex, w in
            (("serial", 1), ("threads", 1), ("threads", 2))]


def _measure(plan: list[float], budget: Budget, wait: noise.QuietWait | None = None,
             counters=None):
    specs = _specs()
    with kernels.get("primes").session():
        raws, _ = measure_group(specs, budget, decided=lambda spec, raws: True, wait=wait,
                                counters=counters or ScriptedCounters(plan))
    return specs, raws


def _cells(specs, raws) -> list[dict]:
    kernel = kernels.get("primes")
    serial = raws[specs[0].key]
    return [summarize(s, raws[s.key], serial, kernel, usable_cores=2) for s in specs]


def test_a_disturbed_round_is_kept_but_never_enters_the_interval() -> None:
    # rounds 1 and 4 disturbed (0.9 cores of other work); the rest quiet
    specs, raws = _measure([0.0, 0.9, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0], Budget(5, 30))
    for raw in raws.values():
        assert raw.rounds == [0, 2, 3, 5, 6]  # only undisturbed rounds are counted
        assert [d["round"] for d in raw.disturbed] == [1, 4]
        assert all(d["other_cores"] > verdicts.OTHER_CORES_LIMIT for d in raw.disturbed)
        assert not raw.host_busy
    cells = _cells(specs, raws)
    for c in cells[1:]:
        assert c["speedup"]["n"] == 5 and c["repeats"] == 5
        assert c["disturbed_rounds"] == 2 and len(c["disturbed"]) == 2
        assert set(c["rounds"]).isdisjoint(d["round"] for d in c["disturbed"])
        assert c["verdict"]["code"] != "undecided" or c["verdict"]["cause"] == "boundary"


def test_the_wait_backs_off_and_ends_at_its_budget() -> None:
    clock = [0.0]
    windows: list[float] = []

    def busy(seconds: float) -> noise.Disturbance:
        windows.append(seconds)
        clock[0] += seconds
        return noise.Disturbance(0.95, 0.0, 0, True, "other processes used 0.95 cores")

    told: list[float] = []
    wait = noise.QuietWait(5.0, on_wait=lambda seen, waited: told.append(waited),
                           sample=busy, clock=lambda: clock[0])
    assert wait.wait() is False
    assert windows[:4] == [0.1, 0.2, 0.3, 0.3]  # doubling, up to the longest window
    assert max(windows) == noise.LONGEST_WAIT_WINDOW_S
    assert sum(windows) == pytest.approx(5.0) and wait.spent_s == pytest.approx(5.0)
    assert told == sorted(told) and len(told) == len(windows)
    n = len(windows)
    assert wait.wait() is False and len(windows) == n  # nothing left: no more sampling
    assert wait.summary()["gave_up"] == 2 and wait.summary()["other_cores_max"] == 0.95


def test_the_wait_ends_at_the_first_quiet_window() -> None:
    clock = [0.0]
    seen = iter([0.9, 0.8, 0.05])

    def sample(seconds: float) -> noise.Disturbance:
        clock[0] += seconds
        other = next(seen)
        return noise.Disturbance(other, 0.0, 0, other > verdicts.OTHER_CORES_LIMIT, None)

    wait = noise.QuietWait(60.0, sample=sample, clock=lambda: clock[0])
    assert wait.wait() is True
    assert wait.spent_s == pytest.approx(0.1 + 0.2 + 0.3)


def test_waiting_lets_a_group_gather_its_quiet_rounds() -> None:
    # every other round disturbed; each wait finds a quiet window at once
    quiet = noise.QuietWait(60.0, sample=lambda s: noise.Disturbance(0.0, 0.0, 0, False, None))
    specs, raws = _measure([0.0, 0.9] * 10, Budget(5, 30, max_disturbed=2), wait=quiet)
    assert all(len(r.wall_s) == 5 and not r.host_busy for r in raws.values())
    assert len(quiet.waits) == 4  # one wait after each disturbed round


def test_a_cell_short_of_undisturbed_rounds_is_host_busy() -> None:
    nothing = noise.QuietWait(0.0)  # no waiting left
    specs, raws = _measure([0.0, 0.0, 0.95, 0.95, 0.95], Budget(5, 30, max_disturbed=3),
                           wait=nothing)
    assert all(r.host_busy for r in raws.values())
    assert "the host stayed busy: 3 of 5 rounds disturbed" in raws[specs[1].key].budget_reason
    cells = _cells(specs, raws)
    for c in cells[1:]:
        v = verdicts.Verdict.from_dict(c["verdict"])
        assert v.code == "undecided" and not v.decided and v.host_busy
        assert v.label == "undecided — host busy"
        assert "0.95–0.95 cores in 3 of 5 rounds (2 undisturbed)" in v.why
        assert c["error"] is None and c["speedup"]["n"] == 2


def test_not_one_quiet_round_is_host_busy_not_failed() -> None:
    specs, raws = _measure([0.9] * 10, Budget(5, 30, max_disturbed=2), wait=noise.QuietWait(0))
    cells = _cells(specs, raws)
    assert all(c["error"] is None and c["host_busy"] for c in cells)
    assert all(c["speedup"] is None for c in cells[1:])
    # the serial baseline too: nothing of it failed, the host was busy (it read "failed")
    for c in cells:
        v = verdicts.Verdict.from_dict(c["verdict"])
        assert v.host_busy and v.label == "undecided — host busy", c["executor"]
    doc = {"host": {"usable_cores": 2}, "cells": cells}
    found = {p.cell["executor"] + str(p.cell["workers"]): p for p in problems(doc)}
    assert {p.status for p in found.values()} == {"undecided"}
    assert found["serial1"].why.startswith("host busy: other processes used 0.90–0.90 cores")


def test_unreadable_counters_are_said() -> None:
    assert noise.snapshot(counters=Unreadable()) is None
    specs, raws = _measure([], Budget(5, 5), counters=Unreadable())
    cells = _cells(specs, raws)
    assert all(c["noise"] == {"measured": False} for c in cells)
    line = noise_line({"host": {"usable_cores": 2}, "cells": cells})
    assert line.startswith("**Host noise: not measured.**")


def test_run_says_noise_is_not_measured(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(noise, "COUNTERS", Unreadable())
    status, err = gilbench(["run", *TINY, "--out", str(tmp_path / "r.json")], capsys)
    assert status == 0
    assert "noise is not measured here" in " ".join(err.split())


def _busy_doc() -> dict:
    """synthetic-gil.json with the checksum cells left host busy by a run that waited."""
    doc = verdict_doc()
    for c in doc["cells"]:
        if c["kernel"] == "checksum" and c["executor"] != "serial":
            c["host_busy"] = True
            c["disturbed_rounds"] = 4
            c["disturbed"] = [{"round": 10 + i, "wall_s": 0.1, "cpu_s": 0.1,
                               "other_cores": 0.9 + i / 100, "steal_share": 0.0}
                              for i in range(4)]
            c["verdict"] = verdicts.judge(c, 2).as_dict()
    doc["host"]["busy"] = {"budget_s": 60.0, "waited_s": 60.0, "waits": 9, "gave_up": 3,
                           "other_cores_max": 0.97, "noise_measured": True,
                           "busy_at_start": True, "other_cores_at_start": 0.95,
                           "cells_with_disturbed_rounds": 12, "disturbed_rounds_max": 4,
                           "cells_host_busy": 12}
    return doc


def test_report_and_headline_say_the_host_was_busy() -> None:
    doc = _busy_doc()
    head = headline(doc)
    assert "**Busy host:**" in head["warning"] and "undecided — host busy" in head["warning"]
    assert "gilbench run --resume FILE" in head["warning"]
    assert "undecided — host busy" in head["answer"]
    assert "set aside" in head["noise"]
    assert busy_banner(verdict_doc()) is None  # a quiet run has no banner
    busy = [p for p in problems(doc) if p.why.startswith("host busy")]
    assert busy and all(p.cell["kernel"] == "checksum" for p in busy)


def test_claims_never_turn_on_host_busy_cells() -> None:
    quiet, busy = verdict_doc(), _busy_doc()
    before = {c["id"]: c["verdict"] for c in claims_of(quiet)}
    after = {c["id"]: c["verdict"] for c in claims_of(busy)}
    # the checksum cells now say nothing: every claim keeps the verdict the other kernels give
    without = copy.deepcopy(quiet)
    without["cells"] = [c for c in without["cells"]
                        if c["kernel"] != "checksum" or c["executor"] == "serial"]
    assert after == {c["id"]: c["verdict"] for c in claims_of(without)}
    assert set(before) == set(after)
    # a claim whose every cell is host busy is inconclusive, never refuted or confirmed
    only = _busy_doc()
    only["cells"] = [c for c in only["cells"] if c["kernel"] == "checksum"]
    c = claim(only, "processes-bypass-gil")
    assert c["verdict"] == "inconclusive" and "host busy" in c["evidence"]


def test_report_summary_of_a_cell_without_a_speedup_prints_its_verdict_alone():
    # a cell no quiet round measured (host busy throughout) keeps its verdict and has no
    # speedup; `gilbench report` printed the table of verdicts by reading it as a number
    import io

    from rich.console import Console

    from gilbench.commands.report import print_summary
    from gilbench.report import analysis, load_any

    doc = load_any(Path(__file__).resolve().parent / "data" / "synthetic-gil.json")
    cell = analysis.judge(doc)[0].cell
    cell.update(speedup=None, host_busy=True)
    (judged,) = [j for j in analysis.judge(doc) if j.cell is cell]
    assert judged.verdict.label == "undecided — host busy"
    out = io.StringIO()
    print_summary(doc, Console(file=out, width=250))
    row = next(line for line in out.getvalue().splitlines()
               if line.lstrip("│ ").startswith(judged.kernel) and judged.variant in line)
    assert "undecided — host busy" in row and "×" not in row.split("host busy")[1].split("│")[0]
