"""Noise accounting from fixture /proc trees (steal and other processes' CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gilbench import noise

DATA = Path(__file__).parent / "data"


def _proc(tmp: Path, stat_cpu: list[int], procs: dict[int, tuple[int, int, int, int]]) -> Path:
    """A fake /proc: the aggregate cpu line and, per pid, (ppid, utime, stime, cutime)."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "stat").write_text("cpu  " + " ".join(map(str, stat_cpu)) + "\ncpu0 1 2 3\n")
    for pid, (ppid, ut, st, cut) in procs.items():
        d = tmp / str(pid)
        d.mkdir(exist_ok=True)
        # field 2 with a space and a parenthesis, as a real comm can have
        (d / "stat").write_text(f"{pid} (py (w) x) S {ppid} 0 0 0 -1 0 0 0 0 0 {ut} {st} {cut} 0 "
                                "20 0 1 0 0 0 0\n")
    return tmp


def test_tree_ticks_sum_descendants_only(tmp_path: Path) -> None:
    proc = _proc(tmp_path, [0] * 8, {10: (1, 5, 5, 7), 11: (10, 20, 0, 0), 12: (11, 3, 0, 0),
                                     99: (1, 1000, 0, 0)})
    assert noise.read_tree_ticks(10, proc) == 5 + 5 + 7 + 20 + 3


def _snap(proc: Path, at: float, pid: int = 10) -> noise.Snapshot:
    busy, steal, total = noise.read_host_ticks(proc)
    return noise.Snapshot(at, busy, steal, total, noise.read_tree_ticks(pid, proc), 0)


def test_quiet_round_is_not_disturbed(tmp_path: Path) -> None:
    # 1 s on 2 cores (100 ticks/s): gilbench used 190 of the 192 busy ticks
    a = _snap(_proc(tmp_path / "a", [100, 0, 50, 1000, 0, 0, 0, 0], {10: (1, 100, 50, 0)}), 0.0)
    b = _snap(_proc(tmp_path / "b", [250, 0, 92, 1008, 0, 0, 0, 0], {10: (1, 240, 100, 0)}), 1.0)
    d = noise.disturbance(a, b, ticks_per_s=100)
    assert d is not None and not d.disturbed
    assert d.other_cores == pytest.approx(0.02)
    assert d.steal_share == 0


def test_other_process_and_steal_disturb(tmp_path: Path) -> None:
    a = _snap(_proc(tmp_path / "a", [100, 0, 50, 1000, 0, 0, 0, 0], {10: (1, 100, 50, 0),
                                                                      99: (1, 0, 0, 0)}), 0.0)
    # another process (pid 99, not ours) took 60 ticks; the hypervisor stole 20 of 250 ticks
    b = _snap(_proc(tmp_path / "b", [260, 0, 90, 1030, 0, 0, 0, 20], {10: (1, 200, 90, 0),
                                                                       99: (1, 60, 0, 0)}), 1.0)
    d = noise.disturbance(a, b, ticks_per_s=100)
    assert d.disturbed
    assert d.other_cores == pytest.approx(0.6)
    assert d.steal_share == pytest.approx(20 / 250)  # of busy 200 + idle 30 + steal 20
    assert "other processes used 0.60 cores" in d.reason and "stole 8%" in d.reason


def test_fixture_files(tmp_path: Path) -> None:
    """The recorded fixtures of a quiet and a busy window (tests/data/proc-*)."""
    quiet = noise.disturbance(_snap(DATA / "proc-quiet" / "before", 0.0),
                              _snap(DATA / "proc-quiet" / "after", 2.0), ticks_per_s=100)
    busy = noise.disturbance(_snap(DATA / "proc-busy" / "before", 0.0),
                             _snap(DATA / "proc-busy" / "after", 2.0), ticks_per_s=100)
    assert not quiet.disturbed and busy.disturbed


def test_no_proc_means_not_measured(tmp_path: Path) -> None:
    assert noise.snapshot(proc=tmp_path / "nothing") is None
    assert noise.disturbance(None, None) is None


def test_live_snapshot_reads_this_host() -> None:
    if not Path("/proc/stat").exists():
        pytest.skip("no /proc here")
    s = noise.snapshot()
    assert s is not None and s.total_ticks > 0 and s.own_ticks >= 0
    quiet, notes = noise.quietness(0.1, 2, None)
    assert notes and isinstance(quiet, bool)
