"""Noise accounting: other processes' CPU and steal from the counters (psutil), as arithmetic
on fixture snapshots and as a live read of this host's process tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gilbench import noise


def _snap(at: float, busy: float, steal: float, total: float, own: float) -> noise.Snapshot:
    return noise.Snapshot(at, busy, steal, total, own, 0)


def test_quiet_round_is_not_disturbed() -> None:
    # 1 s on 2 cores: gilbench used 1.90 of the 1.92 busy CPU seconds
    d = noise.disturbance(_snap(0.0, 10.0, 0.0, 100.0, 5.0), _snap(1.0, 11.92, 0.0, 102.0, 6.9))
    assert d is not None and not d.disturbed and d.reason is None
    assert d.other_cores == pytest.approx(0.02)
    assert d.steal_share == 0


def test_other_process_and_steal_disturb() -> None:
    # another process took 0.6 CPU seconds in 1 s; the hypervisor stole 0.2 of 2.5 s
    d = noise.disturbance(_snap(0.0, 10.0, 1.0, 100.0, 5.0), _snap(1.0, 12.0, 1.2, 102.5, 6.4))
    assert d.disturbed
    assert d.other_cores == pytest.approx(0.6)
    assert d.steal_share == pytest.approx(0.2 / 2.5)
    assert "other processes used 0.60 cores" in d.reason and "stole 8%" in d.reason
    assert d.what() == "other processes use 0.60 cores"


def test_other_cores_never_exceed_the_cpus() -> None:
    # whole ticks in a short window: 0.05 s on every CPU read as 0.06 s of busy time, none ours
    cpus = os.cpu_count() or 1
    d = noise.disturbance(_ticked(0.0, 10.0, 5.0), _ticked(0.05, 10.0 + 0.06 * cpus, 5.0))
    assert d is not None and d.disturbed
    assert d.other_cores == cpus


def _ticked(at: float, busy: float, own: float, n: int = 8, tick: float = 0.01) -> noise.Snapshot:
    return noise.Snapshot(at, busy, 0.0, 100.0 + at, own, 0, n, tick)


def test_the_counters_rounding_is_not_a_disturbance() -> None:
    # 2 CPUs and 3 processes counted in 10 ms ticks (n = 2 + 2*3): 3 ticks of "other" CPU in
    # a 0.15 s window read 0.2 cores, but rounding alone can give that (bound 3*10ms*sqrt(8/6))
    assert noise.resolution_s(_ticked(0, 0, 0), _ticked(1, 0, 0)) == pytest.approx(0.0346, abs=1e-4)
    d = noise.disturbance(_ticked(0.0, 10.0, 5.0), _ticked(0.15, 10.33, 5.30))
    assert d.other_cores == pytest.approx(0.2) and not d.disturbed
    # a steady 0.2 cores of other work over a 1 s round is beyond it
    d = noise.disturbance(_ticked(0.0, 10.0, 5.0), _ticked(1.0, 12.0, 6.8))
    assert d.disturbed and "rounding" in d.reason
    # exact counters (a fixture, or a tick of 0) get no allowance
    assert noise.disturbance(_snap(0.0, 10.0, 0.0, 100.0, 5.0),
                             _snap(0.15, 10.33, 0.0, 100.3, 5.30)).disturbed


def test_a_steady_load_within_rounding_shows_over_the_longer_window() -> None:
    # each 0.15 s round sees 0.2 cores of other work: within rounding alone, but a second of
    # such rounds is 0.2 s of other CPU, beyond the limit and its rounding (0.1 s + 0.035 s)
    starts = [_ticked(0.15 * i, 10.0 + 0.33 * i, 5.0 + 0.30 * i) for i in range(8)]
    before, after = starts[-1], _ticked(1.2, 10.0 + 0.33 * 8, 5.0 + 0.30 * 8)
    assert not noise.disturbance(before, after).disturbed
    since = noise.window_start(starts[:-1], after)
    assert since is starts[1]  # the latest start at least a second before the round's end
    d = noise.disturbance(before, after, since=since)
    assert d.disturbed and d.other_cores == pytest.approx(0.2)
    # rounding (other work only in this round) is not: the longer window is quiet
    quiet = [_ticked(0.15 * i, 10.0 + 0.30 * i, 5.0 + 0.30 * i) for i in range(8)]
    after = _ticked(1.2, 10.0 + 0.30 * 7 + 0.33, 5.0 + 0.30 * 8)
    assert not noise.disturbance(quiet[-1], after,
                                 since=noise.window_start(quiet[:-1], after)).disturbed
    assert noise.window_start([], after) is None


def test_steal_alone_is_said_as_steal() -> None:
    d = noise.disturbance(_snap(0.0, 10.0, 1.0, 100.0, 10.0), _snap(1.0, 11.0, 1.5, 102.0, 11.0))
    assert d.disturbed and d.what() == "the hypervisor steals 25% of the CPU time"


def test_missing_snapshots_mean_not_measured() -> None:
    assert noise.disturbance(None, None) is None
    assert noise.disturbance(_snap(0, 0, 0, 1, 0), None) is None


def test_live_counters_read_this_host_and_count_our_children() -> None:
    counters = noise.PsutilCounters()
    busy, steal, total = counters.host()
    assert 0 <= steal <= total and 0 < busy <= total
    own_before, _, procs_before = counters.own(os.getpid())
    # a child burns about 0.4 s of CPU and stays alive: a living descendant counts as ours
    child = subprocess.Popen([sys.executable, "-c",
                              "import time, sys\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.4: pass\n"
                              "print('done', flush=True)\nsys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"
        own_after, _, procs_after = counters.own(os.getpid())
    finally:
        child.communicate("")
    assert own_after - own_before >= 0.3
    assert procs_after == procs_before + 1  # the child is one more process summed
    quiet, notes = noise.quietness(0.1, 2, None)
    assert notes and isinstance(quiet, bool)
    assert noise.measured()


def test_sample_is_a_window_of_the_live_host() -> None:
    started = time.perf_counter()
    d = noise.sample(0.05)
    assert time.perf_counter() - started >= 0.05
    assert d is not None and d.other_cores >= 0 and 0 <= d.steal_share <= 1


def test_an_engines_processes_outside_our_tree_count_as_ours_when_named() -> None:
    """An existing Dask cluster's workers are no descendants of gilbench, but their CPU is the
    cell's work: named in ``also``, they are counted as ours, once."""
    spawn = ("import subprocess, sys\n"
             "p = subprocess.Popen([sys.executable, '-c', sys.argv[1]], start_new_session=True,"
             " stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
             "print(p.pid, flush=True)")
    burn = ("import time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.4: pass\ntime.sleep(30)")
    out = subprocess.run([sys.executable, "-c", spawn, burn], capture_output=True, text=True,
                         check=True)
    worker = int(out.stdout.split()[0])
    try:
        time.sleep(0.8)  # it has burnt its CPU by now
        counters = noise.PsutilCounters()
        alone, _, _ = counters.own(os.getpid())
        with_worker, _, _ = counters.own(os.getpid(), (worker,))
        twice, _, _ = counters.own(os.getpid(), (worker, worker, os.getpid()))
    finally:
        os.kill(worker, 9)
    assert with_worker - alone >= 0.3
    assert twice == pytest.approx(with_worker, abs=0.05)  # each process counted once
    assert noise.snapshot(also=(worker,)) is not None  # an ended engine process is skipped
