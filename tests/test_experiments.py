"""The experiments (gilbench.experiments), their report sections and `gilbench claims`.

Every experiment runs once, in a tiny mode, in module-scoped fixtures (those whose timings are
asserted first, with the host to themselves: ``timed``); the tests then check
the shape of its data, that it left no thread or child process behind, and that the report
renders it. The rules that turn numbers into verdicts are checked on synthetic data, so each
verdict is shown to be able to come out either way. Timing claims are asserted only with at
least two usable cores, as ratios from one run with generous bounds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import threading

import pytest

from gilbench import experiments, host, results
from gilbench.experiments import _common, break_even, contention, startup, switch_interval
from gilbench.errors import UnknownNameError
from gilbench.report import experiments as report_experiments

needs_cores = pytest.mark.skipif(host.usable_cores() < 2, reason="needs at least 2 usable cores")
# the convoy and contention effects are the GIL's: with the GIL off there is none to wait for
needs_gil = pytest.mark.skipif(not host.gil_enabled(),
                               reason="the GIL is disabled in this interpreter: no convoy to measure")

#: parameters that make each experiment run in well under a few seconds
TINY: dict[str, dict] = {
    "convoy": {"window_s": 0.06, "workers": (0, 1), "variants": ("python", "cython-nogil"),
               "process_variants": ("python",), "echo_runs": 1, "chunk_s": 0.01},
    "switch-interval": {"intervals_ms": (1, 5), "window_s": 0.05, "min_samples": 5,
                        "chunk_s": 0.01},
    "contention": {"window_s": 0.05, "workers": (1,), "thread_variants": ("python",),
                   "process_variants": ("python",), "chunk_s": 0.01},
    "queue-pipe": {"sizes": (64, 1 << 16), "target_s": 0.01, "repeats": 1,
                   "latency_window_s": 0.01},
    "startup": {"repeats": 2, "pool_workers": 1},
    "pickle": {"sizes": (1024, 1 << 16), "repeats": 1},
    "break-even": {"task_us": (10, 300), "kinds": ("python",), "total_s": 0.005,
                   "max_tasks": 40, "repeats": 1, "engines": False},  # engines: test_engines
}

VERDICTS = {"confirmed", "refuted", "mixed", "not measured"}


def _json_roundtrip(data: dict) -> dict:
    """What a results file would hold: standard JSON (no NaN), plain types only."""
    return json.loads(json.dumps(results.json_safe(data), allow_nan=False))


#: seconds of the other-processes samples taken before and after each experiment, instead of
#: 0.25 (two per experiment): the window's length is not under test, the sample's shape is
SAMPLE_S = 0.02


def short_samples(mp: pytest.MonkeyPatch) -> None:
    """``run_experiment`` samples what other processes take over ``SAMPLE_S``, for real."""
    real = _common.other_cpu_cores
    # run_experiment imports other_cpu_cores from _common when it runs
    mp.setattr(_common, "other_cpu_cores", lambda window_s=SAMPLE_S: real(window_s))


def run_tiny(names: list[str]) -> dict[str, dict]:
    """These experiments run once each with TINY parameters: name -> its results section."""
    threads_before = threading.active_count()
    interval = sys.getswitchinterval()
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        short_samples(mp)
        for name in names:
            out[name] = experiments.run_experiment(name, quick=True, **TINY[name])
            # nothing left running after each experiment
            assert multiprocessing.active_children() == [], name
            assert threading.active_count() == threads_before, name
            assert sys.getswitchinterval() == interval, name
    return out


#: the experiments whose timings tests assert: run first, by the first test that asks for them,
#: a quiet one (the host to itself), while the rest run beside other tests
TIMED = ["convoy", "contention"]


@pytest.fixture(scope="module")
def timed() -> dict[str, dict]:
    return run_tiny(TIMED)


@pytest.fixture(scope="module")
def tiny(timed: dict[str, dict]) -> dict[str, dict]:
    """Every experiment run once with TINY parameters: name -> its results section."""
    rest = run_tiny([name for name in experiments.names() if name not in TIMED])
    return {name: timed.get(name) or rest[name] for name in experiments.names()}


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_experiment_with_its_metadata():
    assert experiments.names() == ["convoy", "switch-interval", "contention", "queue-pipe",
                                   "startup", "pickle", "break-even"]
    assert set(TINY) == set(experiments.names())
    for name in experiments.names():
        module = experiments.get(name)
        assert module.TITLE and module.MEASURES
        assert set(module.CLAIMS) <= set(report_experiments.CLAIM_TEXT)
        assert callable(module.run)


def test_unknown_experiment_lists_the_valid_names():
    with pytest.raises(UnknownNameError) as info:
        experiments.get("nope")
    assert "convoy" in str(info.value) and "break-even" in str(info.value)


# --------------------------------------------------------------------------- experiments


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TINY))
def test_experiment_returns_well_formed_json(tiny, name):
    data = tiny[name]
    assert data["name"] == name and data["error"] is None and data["quick"] is True
    assert data["duration_s"] > 0 and data["usable_cores"] >= 1
    for key in ("other_cpu_cores_before", "other_cpu_cores_after"):
        assert data[key] is None or data[key] >= 0
    assert isinstance(data["params"], dict)
    back = _json_roundtrip(data)
    assert back["name"] == name


@pytest.mark.slow
def test_convoy_cases_and_probes(tiny):
    data = tiny["convoy"]
    got = [(c["executor"], c["variant"], c["workers"]) for c in data["cases"]]
    assert got == [("none", None, 0), ("threads", "python", 1), ("threads", "cython-nogil", 1),
                   ("processes", "python", 1)]
    for case in data["cases"]:
        if case["error"]:  # only an unavailable variant may fail
            assert case["error"].startswith("variant unavailable")
            continue
        for probe in ("thread-sleep", "asyncio-sleep"):
            lateness = case["probes"][probe]["lateness"]
            assert lateness["n"] > 0
            assert lateness["p50_ms"] <= lateness["p99_ms"] <= lateness["max_ms"]
        echo = case["probes"]["echo"]
        assert echo["error"] is None and echo["requests"] > 0
        assert echo["requests_per_s"] > 0 and 0 <= echo["slow_share"] <= 1
        if case["workers"]:
            assert case["load"]["chunks_done"] >= 0


@pytest.mark.slow
@needs_gil
@needs_cores
@pytest.mark.needs_cores
def test_pure_python_thread_makes_the_sleep_probe_late(timed):
    """The convoy effect itself: beside a pure-Python thread a 1 ms sleep ends about a switch
    interval late; alone, well under one. Generous: 2x between medians."""
    cases = {(c["executor"], c["variant"]): c for c in timed["convoy"]["cases"]}
    alone = cases[("none", None)]["probes"]["thread-sleep"]["lateness"]["p50_ms"]
    beside = cases[("threads", "python")]["probes"]["thread-sleep"]["lateness"]["p50_ms"]
    assert beside > 2 * alone
    assert beside > 0.5 * sys.getswitchinterval() * 1e3


@pytest.mark.slow
def test_switch_interval_points_and_restore(tiny):
    data = tiny["switch-interval"]
    assert [p["interval_ms"] for p in data["points"]] == [1, 5]
    for p in data["points"]:
        assert p["interval_set_s"] == pytest.approx(p["interval_ms"] / 1e3)
        assert p["lateness"]["n"] >= 1
        assert p["echo"]["requests"] > 0
    assert data["original_interval_s"] == sys.getswitchinterval()


def test_switch_interval_is_restored_when_the_experiment_fails(monkeypatch):
    original = sys.getswitchinterval()

    class Boom(_common.CpuLoad):
        def __enter__(self):
            raise RuntimeError("boom")

    monkeypatch.setattr(switch_interval, "CpuLoad", Boom)
    with pytest.raises(RuntimeError, match="boom"):
        switch_interval.run(True, intervals_ms=(2,), window_s=0.01, echo=False, chunk_s=0.005)
    assert sys.getswitchinterval() == original


@pytest.mark.slow
def test_contention_cases(tiny):
    data = tiny["contention"]
    assert set(data["baseline_s"]) == {"spin", "nap"}
    assert [(c["executor"], c["workers"]) for c in data["cases"]] == [
        ("none", 0), ("threads", 1), ("processes", 1)]
    for case in data["cases"]:
        for summary in case["samplers"].values():
            assert summary["calls"] > 0
            assert 0 <= summary["wait_share"] <= 1.05  # a last call may overrun the window


@pytest.mark.slow
@needs_gil
@needs_cores
@pytest.mark.needs_cores
def test_pure_python_thread_takes_the_gil_from_the_sampler(timed):
    """Against the process case, not the sampler alone: both compete for cores the same way
    (on a busy shared host the sampler also waits for a core), only the thread for the GIL."""
    cases = {c["executor"]: c for c in timed["contention"]["cases"]}
    beside_thread = cases["threads"]["samplers"]["nap"]["wait_share"]
    beside_process = cases["processes"]["samplers"]["nap"]["wait_share"]
    assert beside_thread > 0.5
    assert beside_thread > beside_process


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_cpu_load_rejects_a_bad_variant_before_starting_workers(executor):
    with pytest.raises(UnknownNameError):
        with _common.CpuLoad(executor, "no-such-variant", 1, (3, 5, 2)):
            pass
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_cpu_load_runs_and_stops_its_workers(executor):
    threads_before = threading.active_count()
    load = _common.CpuLoad(executor, "python", 2, (3, 2_000, 2))
    with load:
        _common.sleep_probe(0.05)
    stats = load.stats()
    assert stats["workers"] == 2 and stats["chunks_done"] > 0 and stats["chunks_per_s"] > 0
    assert multiprocessing.active_children() == []
    assert threading.active_count() == threads_before


def test_wait_summary_counts_only_handovers():
    durations = [1e-6] * 1000 + [5e-3] * 10
    s = contention.wait_summary(durations, elapsed_s=0.1, baseline_s=1e-6)
    assert s["calls"] == 1010
    assert s["wait_share"] == pytest.approx(10 * (5e-3 - 1e-6) / 0.1)
    assert s["handovers_per_s"] == pytest.approx(100)
    jitter = contention.wait_summary([1e-6, 2e-6] * 500, elapsed_s=0.01, baseline_s=1e-6)
    assert jitter["wait_share"] == 0


@pytest.mark.slow
def test_queue_pipe_rows_and_ratios(tiny):
    data = tiny["queue-pipe"]
    assert {(r["kind"], r["size_bytes"]) for r in data["throughput"]} == {
        (k, s) for k in ("queue", "pipe", "pipe-simplex") for s in (64, 1 << 16)}
    for r in data["throughput"]:
        assert r["messages"] > 0 and r["messages_per_s"] > 0 and r["mb_per_s"] > 0
    assert {(r["kind"], r["size_bytes"]) for r in data["latency"]} == {
        (k, s) for k in ("queue", "pipe") for s in (64, 1 << 16)}
    for r in data["ratios"]:
        assert r["throughput_pipe_over_queue"] > 0 and r["latency_queue_over_pipe"] > 0


@pytest.mark.slow
def test_startup_methods(tiny):
    data = tiny["startup"]
    methods = {m["method"]: m for m in data["methods"]}
    assert set(methods) <= {"fork", "forkserver", "spawn"} and methods
    for m in methods.values():
        if m["skipped"]:
            continue
        assert len(m["ready_s"]) == 2
        assert 0 < m["ready_median_s"] <= m["total_median_s"]
    assert data["thread"]["ready_median_s"] > 0
    assert {p["pool"] for p in data["pools"]} == {"process-pool", "thread-pool"}


def test_startup_does_not_fork_a_multithreaded_process():
    release = threading.Event()
    helper = threading.Thread(target=release.wait, args=(10,))
    helper.start()
    try:
        data = startup.run(True, repeats=1, methods=("fork",), pool_workers=1)
    finally:
        release.set()
        helper.join()
    if "fork" in multiprocessing.get_all_start_methods():
        (row,) = data["methods"]
        assert row["skipped"] and "threads" in row["skipped"] and row["ready_s"] == []
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_pickle_points_check_results(tiny):
    points = tiny["pickle"]["points"]
    assert [p["size_bytes"] for p in points] == [1024, 1 << 16]
    for p in points:
        assert p["crc_ok"] is True
        for method in ("empty", "local", "pickle", "shm", "shm-reuse"):
            assert p[f"{method}_s"] > 0


@pytest.mark.slow
def test_break_even_sweep(tiny):
    sweep = tiny["break-even"]["sweeps"]["python"]
    assert sweep["error"] is None and sweep["per_number_s"] > 0
    assert len(sweep["points"]) == 2
    for p in sweep["points"]:
        assert p["results_agree"] is True
        assert p["tasks"] >= 1 and p["task_us"] > 0
        assert p["serial_s"] > 0 and p["thread-pool_s"] > 0 and p["process-pool_s"] > 0
    assert set(sweep["break_even"]) == {"thread-pool", "process-pool"}


def _points(ratios: list[tuple[float, float]]) -> list[dict]:
    return [{"task_us": x, "serial_s": 1.0, "thread-pool_s": r} for x, r in ratios]


def test_break_even_rule():
    never = break_even.break_even(_points([(10, 5.0), (100, 1.0), (1000, 0.95)]),
                                  "thread-pool")
    assert never["task_us"] is None and "never" in never["note"]
    already = break_even.break_even(_points([(10, 0.5), (100, 0.5)]), "thread-pool")
    assert already["task_us"] is None and already["between_us"] == [None, 10]
    # crosses 0.9 between 10 us (ratio 2) and 1000 us (ratio 0.5); a dip that does not
    # last (100 us) does not count
    crossing = break_even.break_even(_points([(1, 0.5), (10, 2.0), (1000, 0.5)]),
                                     "thread-pool")
    assert crossing["between_us"] == [10, 1000]
    assert 10 < crossing["task_us"] < 1000


def test_statistics_helpers():
    assert _common.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert _common.percentile([7.0], 99) == 7.0
    stats = _common.latency_stats([0.001, 0.002, 0.003])
    assert stats["n"] == 3 and stats["p50_ms"] == pytest.approx(2.0)
    assert _common.latency_stats([])["p99_ms"] is None


# --------------------------------------------------------------------------- report


def _doc(experiments_data: dict) -> dict:
    doc = results.new_document({"experiments": list(experiments_data)}, {}, ["test"])
    doc["experiments"] = experiments_data
    return doc


@pytest.mark.slow
def test_render_writes_markdown_and_png_for_every_experiment(tiny, tmp_path):
    markdown, claims = report_experiments.render(_doc(tiny), tmp_path)
    for name in experiments.names():
        assert f"### {tiny[name]['title']}" in markdown
        png = tmp_path / f"experiment-{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png.name})" in markdown
    assert "**Conclusion.**" in markdown
    assert {c["id"] for c in claims} == {"cpu-threads-hurt-latency", "switch-interval-5ms",
                                         "pipe-faster-than-queue", "process-startup-cost"}
    for c in claims:
        assert c["verdict"] in VERDICTS and c["evidence"] and c["rule"] and c["claim"]


def test_render_reports_a_failed_experiment(tmp_path):
    failed = {"name": "convoy", "title": "Convoy", "error": "RuntimeError: boom"}
    markdown, claims = report_experiments.render(_doc({"convoy": failed}), tmp_path)
    assert "RuntimeError: boom" in markdown and claims == []


def _convoy_case(executor, variant, workers, p99_ms, rps):
    return {"executor": executor, "variant": variant, "workers": workers, "error": None,
            "load": None,
            "probes": {"thread-sleep": {"lateness": {"p50_ms": p99_ms / 2, "p99_ms": p99_ms}},
                       "echo": {"requests_per_s": rps}}}


@pytest.mark.parametrize("python_p99, python_rps, verdict", [
    (10.0, 200.0, "confirmed"),
    (0.15, 25_000.0, "refuted"),
    (10.0, 25_000.0, "mixed"),
])
def test_convoy_rule(tmp_path, python_p99, python_rps, verdict):
    data = {"title": "Convoy", "measures": "", "params": {}, "cases": [
        _convoy_case("none", None, 0, 0.1, 30_000.0),
        _convoy_case("threads", "python", 1, python_p99, python_rps),
        _convoy_case("threads", "cython-nogil", 1, 0.12, 29_000.0),
    ]}
    _, claims = report_experiments.render(_doc({"convoy": data}), tmp_path)
    (claim,) = claims
    assert claim["id"] == "cpu-threads-hurt-latency" and claim["verdict"] == verdict


@pytest.mark.parametrize("p50_ms, verdict", [
    ([1.1, 5.2, 10.3], "confirmed"),
    ([0.1, 0.1, 0.1], "refuted"),
    ([1.0, 2.0, 4.0], "mixed"),
])
def test_switch_interval_rule(tmp_path, p50_ms, verdict):
    points = [{"interval_ms": i, "lateness": {"p50_ms": p, "p99_ms": 2 * p, "n": 50},
               "echo": None} for i, p in zip((1, 5, 10), p50_ms)]
    data = {"title": "Switch", "measures": "", "points": points, "original_interval_s": 0.005,
            "alone": {"lateness": {"p50_ms": 0.07, "p99_ms": 0.1, "n": 100}, "echo": None}}
    _, claims = report_experiments.render(_doc({"switch-interval": data}), tmp_path)
    assert claims[0]["verdict"] == verdict


@pytest.mark.parametrize("ratios, verdict", [
    ((1.5, 2.0), "confirmed"), ((0.9, 1.0), "refuted"), ((1.5, 0.8), "mixed")])
def test_pipe_rule(tmp_path, ratios, verdict):
    data = {"title": "QP", "measures": "", "params": {"sizes": [64], "kinds": ["queue", "pipe"]},
            "throughput": [], "latency": [],
            "ratios": [{"size_bytes": 64, "throughput_pipe_over_queue": ratios[0],
                        "latency_queue_over_pipe": ratios[1]}]}
    _, claims = report_experiments.render(_doc({"queue-pipe": data}), tmp_path)
    assert claims[0]["verdict"] == verdict


def test_busy_host_caution():
    quiet = {"usable_cores": 2, "other_cpu_cores_before": 0.05, "other_cpu_cores_after": 0.1,
             "load_average_start": [3.0, 3.0, 3.0]}  # our own workers: not a caution
    assert report_experiments.busy_host(quiet) is None
    busy = dict(quiet, other_cpu_cores_after=1.5)
    assert "kept 1.5 of this host's 2 usable cores busy" in report_experiments.busy_host(busy)
    assert report_experiments.busy_host({"usable_cores": 2}) is None  # not recorded


def test_other_cpu_cores_is_a_share_of_the_cpus():
    cores = _common.other_cpu_cores(0.05)
    if cores is None:
        pytest.skip("no /proc/stat here")
    assert 0 <= cores <= host.logical_cores() + 1e-9


def test_claims_from_several_experiments_are_merged():
    parts = [{"id": "process-startup-cost", "claim": "c", "verdict": v, "evidence": f"e{i}",
              "rule": "r", "source": f"s{i}"} for i, v in enumerate(("confirmed", "refuted"))]
    (merged,) = report_experiments.merge_claims(parts)
    assert merged["verdict"] == "mixed"
    assert "e0" in merged["evidence"] and "e1" in merged["evidence"]
    (same,) = report_experiments.merge_claims([dict(parts[0]), dict(parts[0], source="x")])
    assert same["verdict"] == "confirmed"


# --------------------------------------------------------------------------- command


def _claims_args(*argv: str) -> argparse.Namespace:
    from gilbench.commands import claims

    parser = argparse.ArgumentParser()
    claims.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.slow
def test_claims_command_writes_a_valid_results_file(tmp_path, capsys, monkeypatch):
    from gilbench.commands import claims

    short_samples(monkeypatch)
    out = tmp_path / "claims.json"
    report = tmp_path / "report"
    args = _claims_args("--quick", "--experiments", "startup,pickle", "--out", str(out),
                        "--report", str(report))
    assert claims.main(args) == 0
    doc = results.read(out)
    assert doc["cells"] == [] and doc["finished"] is not None
    assert doc["config"]["experiments"] == ["startup", "pickle"] and doc["config"]["quick"]
    assert set(doc["experiments"]) == {"startup", "pickle"}
    assert all(e["error"] is None for e in doc["experiments"].values())
    assert "load_average_start" in doc["host"]
    assert (report / "experiment-startup.png").exists()
    assert (report / "report.md").exists()
    printed = capsys.readouterr().out
    assert "key figures" in printed and "forkserver" in printed
    assert multiprocessing.active_children() == []


def test_claims_command_rejects_unknown_experiments(tmp_path):
    from gilbench.errors import UsageError
    from gilbench.commands import claims

    args = _claims_args("--experiments", "convoy,nope", "--out", str(tmp_path / "x.json"))
    with pytest.raises(UsageError, match="valid experiments: convoy, switch-interval"):
        claims.main(args)
    assert not (tmp_path / "x.json").exists()


def test_claims_command_records_a_failing_experiment(tmp_path, monkeypatch):
    from gilbench.commands import claims

    def boom(quick, progress=None, **params):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(experiments.get("pickle"), "run", boom)
    out = tmp_path / "claims.json"
    assert claims.main(_claims_args("--quick", "--experiments", "pickle", "--out",
                                    str(out))) == 1
    doc = results.read(out)
    assert doc["experiments"]["pickle"]["error"] == "RuntimeError: boom"
