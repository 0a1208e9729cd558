"""Fixtures of general use for gilbench's tests (all against the installed ``gilbench``).

Fixtures
--------
``kernel``
    Every registered kernel, one test per kernel (ids: the kernel's name), with its
    ``session()`` open (see ``kernel_sessions``).
``kernel_variant``
    Every (kernel, variant) pair as a ``KernelVariant``, ids like ``primes-cython-nogil``;
    a variant that is unavailable here (extension not compiled, NumPy missing) is skipped
    with its ``reason``. Pick a subset with indirect parametrisation::

        @pytest.mark.parametrize("kernel_variant", ["checksum-stdlib"], indirect=True)

    Like aio-libs/propcache's fixture over its two implementations: every behaviour test
    runs against each copy.
``kernel_sessions``
    ``open(kernel)``: enters ``kernel.session()`` at most once per test module and keeps it
    open until the module ends (the echo kernel's server is started once, not per test).
``usable_cores``
    ``gilbench.host.usable_cores()``: min(affinity mask, cgroup CPU quota).
``skip_if_one_core``
    Skips the test when fewer than 2 cores are usable; use as
    ``@pytest.mark.usefixtures("skip_if_one_core")``.
``recorded_reports``
    ``recorded_reports["faulty.json"] -> (doc, paths)``: the report of a file in tests/data,
    written by ``write_report`` once per session, on first use (every module reads the same
    one: a report with its plots takes about a second to draw).

Marker
------
``@pytest.mark.needs_cores`` (declared in pyproject.toml) skips a test when fewer than 2 cores
are usable; ``@pytest.mark.needs_cores(4)`` asks for 4. This is the marker form of
``skip_if_one_core`` (test modules cannot import conftest under ``--import-mode=importlib``,
so the helper is a marker and a fixture rather than an importable object).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: no lock, so -n auto gives one worker (the tests one at a time)
    fcntl = None  # type: ignore[assignment]

import numpy as np
import pytest

from gilbench import host, kernels, noise
from gilbench.kernels import Kernel, Variant
from gilbench.report import load_any, write_report
from gilbench.run.config import MAX_WAIT_ENV

DATA = Path(__file__).resolve().parent / "data"

# The suite's runs (in this process and in subprocesses) wait at most a few seconds in all for
# a busy host to settle: a user's run should wait out a build beside it, a test should not;
# tests of the waiting itself give their own budget (tests/test_busy_host.py).
os.environ.setdefault(MAX_WAIT_ENV, "5")


class KernelVariant(NamedTuple):
    """One variant of one kernel; unpacks as ``kernel, variant = kernel_variant``."""

    kernel: Kernel
    variant: Variant

    @property
    def id(self) -> str:
        return f"{self.kernel.name}-{self.variant.name}"


def _all_pair_ids() -> list[str]:
    """``kernel-variant`` ids of every variant of every registered kernel, in display order."""
    return [f"{k.name}-{v.name}" for k in kernels.all_kernels() for v in k.variants]


def _resolve(pair_id: str) -> KernelVariant:
    """The pair named ``kernel-variant`` (kernel names have no '-'; variant names may)."""
    kernel_name, _, variant_name = pair_id.partition("-")
    kernel = kernels.get(kernel_name)  # UnknownNameError on a typo in a parametrisation
    return KernelVariant(kernel, kernel.variant(variant_name))


def _needed_cores(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("needs_cores")
    if marker is None:
        return None
    return int(marker.args[0]) if marker.args else 2


# --- beside other tests (pytest-xdist) -------------------------------------------------------
#
# README's test command runs the tests in several workers (-n auto). A test that measures
# (GIL checks, speedups, timings) must not run beside another test: it would measure that
# test, skip as "host busy", or pass or fail by chance. Such tests are marked ``quiet`` (by
# hand, or here when they use a measuring fixture or marker) and run alone: every test takes a
# lock, shared for the others, exclusive for a quiet one, through a gate that a waiting quiet
# test holds, so tests that start later cannot keep it out forever (a fair readers-writer lock
# on flock(2)).

#: fixtures and markers that measure: a test that uses one is ``quiet``
MEASURING_FIXTURES = frozenset({"timed_quietly", "others_cores", "two_full_cores",
                                "parallel_speedup",
                                "skip_if_one_core", "gil_check"})
MEASURING_MARKERS = ("quiet", "needs_cores", "releases_gil", "holds_gil")


def is_quiet(item: pytest.Item) -> bool:
    return not _skipped_by_a_marker(item) and (
        not MEASURING_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        or any(item.get_closest_marker(m) for m in MEASURING_MARKERS))


def _skipped_by_a_marker(item: pytest.Item) -> bool:
    """Whether a ``skip`` marker, or a ``skipif`` whose condition is already a true value,
    skips the test (e.g. no free-threaded build here): such a test measures nothing, and
    taking the host to itself would only make the other workers wait for their running tests
    to end."""
    return item.get_closest_marker("skip") is not None or any(
        m.args and not isinstance(m.args[0], str) and bool(m.args[0])
        for m in item.iter_markers("skipif"))


#: modules that take 20-40 s here without a quiet test; started right after the quiet ones, so
#: that the end of the run is short modules that keep every worker busy
LONG_MODULES = ("test_packaging.py", "test_faults.py", "test_engines.py", "test_executors.py",
                "test_workload.py", "test_run_output.py", "test_experiments.py")


#: where a pytest -n run's workers list its quiet tests for the scheduler (the controller sets
#: it before they start; they inherit it)
QUIET_LIST_ENV = "GILBENCH_TESTS_QUIET_LIST"
_QUIET_LIST = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if (fcntl is not None and config.getoption("numprocesses", None)
            and "PYTEST_XDIST_WORKER" not in os.environ):
        fd, path = tempfile.mkstemp(prefix="gilbench-tests-quiet-", suffix=".txt")
        os.close(fd)
        os.environ[QUIET_LIST_ENV] = path
        config.stash[_QUIET_LIST] = Path(path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that measure ``quiet``; order the modules for pytest -n: those with quiet
    tests first (so that the quiet tests' work unit is the scheduler's first), then
    LONG_MODULES, then the rest as collected; within a module, its quiet tests first. Under
    pytest -n, list the quiet tests for the scheduler (``pytest_xdist_make_scheduler``)."""
    quiet_in: dict[str, int] = {}
    for item in items:
        if is_quiet(item):
            if not item.get_closest_marker("quiet"):
                item.add_marker(pytest.mark.quiet)
            quiet_in[item.path.name] = quiet_in.get(item.path.name, 0) + 1
    listing = os.environ.get(QUIET_LIST_ENV) if "PYTEST_XDIST_WORKER" in os.environ else None
    if listing:  # every worker collects the same tests: whole files, replaced atomically
        mine = f"{listing}.{os.environ['PYTEST_XDIST_WORKER']}"
        Path(mine).write_text("".join(f"{i.nodeid}\n" for i in items if _is_marked_quiet(i)))
        os.replace(mine, listing)
    long = {name: i for i, name in enumerate(LONG_MODULES)}

    def place(item: pytest.Item) -> tuple[int, int, bool]:
        name = item.path.name
        first = not item.get_closest_marker("quiet")  # a module's quiet tests before its others
        if name in quiet_in:
            return 0, -quiet_in[name], first
        return (1, long[name], first) if name in long else (2, 0, first)

    items.sort(key=place)  # stable: the order within a module is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the usable cores (affinity mask and CPU quota, as
    gilbench counts them): the tests spend much of their time waiting (on subprocesses, sockets,
    timeouts; on a 2-vCPU AMD EPYC VM 2 workers kept the cores 1.15 busy outside the quiet
    tests, and 3 took the suite from 223-229 s to 183-209 s), and the quiet ones run alone
    anyway. One worker where there is no lock to keep the quiet tests alone."""
    return host.usable_cores() + 1 if fcntl is not None else 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n`` without a ``--dist`` of its own: whole modules to a worker (a module's
    fixtures, the experiments' run or a Dask cluster, are made once), in the order
    above (not pytest-xdist's largest-module-first); and all the quiet tests, first, to one
    worker, one after the other. Spread over their modules, each quiet test waited for the
    tests running beside it to end, the other workers idle meanwhile: once 30 s behind
    the sdist test."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadFileScheduling  # pytest-xdist: only under -n

    class QuietFirst(LoadFileScheduling):
        quiet: frozenset[str] = frozenset()

        def schedule(self) -> None:
            listing = config.stash.get(_QUIET_LIST, None)
            if self.collection is None and listing is not None:  # the workers have listed
                self.quiet = frozenset(listing.read_text().splitlines())  # them by now
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return "quiet tests" if nodeid in self.quiet else super()._split_scope(nodeid)

    config.option.loadscopereorder = False
    return QuietFirst(config, log)


def _lock_dir() -> Path | None:
    """Where the workers of this pytest -n run keep their lock (None outside pytest-xdist)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None or fcntl is None:
        return None
    return Path(tempfile.gettempdir()) / f"gilbench-tests-{run}"


def pytest_unconfigure(config: pytest.Config) -> None:
    where = _lock_dir()  # the last worker to finish leaves nothing behind
    if where is not None:
        shutil.rmtree(where, ignore_errors=True)
    listing = config.stash.get(_QUIET_LIST, None)
    if listing is not None:
        listing.unlink(missing_ok=True)
        os.environ.pop(QUIET_LIST_ENV, None)


class _Turns:
    """This worker's hold on the tests' lock: shared for an ordinary test, exclusive for a quiet
    one, kept from one quiet test to the next (the other workers wait once for the lot, not
    once per test). Outside pytest-xdist there is no other test to keep out: no lock."""

    def __init__(self) -> None:
        self.files: tuple[IO[str], IO[str]] | None = None
        self.quiet = False

    def take(self, quiet: bool) -> None:
        if self.files is not None and self.quiet and quiet:
            return  # the quiet tests before this one hold it already
        self.give_back()
        where = _lock_dir()
        if where is None:
            return
        where.mkdir(exist_ok=True)
        gate, room = open(where / "gate", "a"), open(where / "room", "a")
        fcntl.flock(gate, fcntl.LOCK_EX)  # a quiet test waiting here keeps later tests out
        try:
            fcntl.flock(room, fcntl.LOCK_EX if quiet else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        self.files, self.quiet = (gate, room), quiet

    def give_back(self) -> None:
        if self.files is not None:
            for f in self.files:
                f.close()  # closing the file drops its lock
            self.files = None


_turns = _Turns()


def _is_marked_quiet(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("quiet") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Run a quiet test alone (setup, call and teardown); beside other tests, a run that finds
    the host busy does not wait for it to settle (the other tests are what keeps it busy)."""
    quiet = _is_marked_quiet(item)
    _turns.take(quiet)
    try:
        with pytest.MonkeyPatch.context() as patch:
            if not quiet and "PYTEST_XDIST_WORKER" in os.environ:
                patch.setenv(MAX_WAIT_ENV, "0")
            yield
    finally:
        if not (quiet and _is_marked_quiet(nextitem)):
            _turns.give_back()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip tests marked ``needs_cores`` on hosts with too few usable cores."""
    needed = _needed_cores(item)
    if needed is not None and host.usable_cores() < needed:
        pytest.skip(f"needs {needed} usable cores, this host has {host.usable_cores()}")


@pytest.fixture(scope="session")
def usable_cores() -> int:
    """The cores this process may use: min(affinity mask, cgroup CPU quota), at least 1."""
    return host.usable_cores()


@pytest.fixture
def skip_if_one_core(usable_cores: int) -> None:
    """Skip the requesting test when fewer than 2 cores are usable (parallelism impossible)."""
    if usable_cores < 2:
        pytest.skip(f"needs 2 usable cores, this host has {usable_cores}")


class _RecordedReports(dict):
    """name -> (doc, paths) for the files in tests/data; a report is written when first asked."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self._factory = factory

    def __missing__(self, name: str) -> tuple[dict, dict[str, Path]]:
        doc = load_any(DATA / name)
        self[name] = (doc, write_report(doc, self._factory.mktemp(Path(name).stem)))
        return self[name]


@pytest.fixture(scope="session")
def recorded_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    """``recorded_reports[name] -> (doc, paths)``: tests/data/NAME's report, written once per
    session (read it, do not change it: other modules read the same)."""
    return _RecordedReports(tmp_path_factory)


# Module scope, not function scope: hypothesis runs many examples per test and refuses
# function-scoped fixtures (they would not be reset between examples); module scope also
# bounds how long a kernel's session (the echo server) lives.
@pytest.fixture(scope="module")
def kernel_sessions() -> Iterator[Callable[[Kernel], Any]]:
    """``open(kernel)``: enter ``kernel.session()`` once for this module; returns what it yields."""
    with contextlib.ExitStack() as stack:
        opened: dict[str, Any] = {}

        def open_session(kernel: Kernel) -> Any:
            if kernel.name not in opened:
                opened[kernel.name] = stack.enter_context(kernel.session())
            return opened[kernel.name]

        yield open_session


@pytest.fixture(scope="module", params=kernels.names())
def kernel(request: pytest.FixtureRequest, kernel_sessions: Callable[[Kernel], Any]) -> Kernel:
    """Each registered kernel, with its session open so ``split`` works (echo needs its server)."""
    k = kernels.get(request.param)
    kernel_sessions(k)
    return k


@pytest.fixture(scope="module", params=_all_pair_ids())
def kernel_variant(
    request: pytest.FixtureRequest, kernel_sessions: Callable[[Kernel], Any]
) -> KernelVariant:
    """Each (kernel, variant) pair, session open; unavailable variants skip with their reason."""
    pair = _resolve(request.param)
    if not pair.variant.available:
        pytest.skip(f"{pair.id} unavailable: {pair.variant.reason}")
    kernel_sessions(pair.kernel)
    return pair


# --- timing on a shared host ----------------------------------------------------------------

def _watched(fn: Callable[[], Any]) -> tuple[Any, float, noise.Disturbance | None]:
    """``(fn(), wall seconds, what other processes did meanwhile)``; the last is None where
    ``gilbench.noise`` cannot read the counters."""
    before = noise.snapshot()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    return out, wall, noise.disturbance(before, noise.snapshot())


def _timed_quietly(fn, attempts: int = 6, others_limit: float = 0.25) -> list[float]:
    """Wall times of ``fn()`` in up to ``attempts`` tries, keeping only tries in which other
    processes used less than ``others_limit`` of a core (``gilbench.noise``: the host is shared,
    and a core taken by someone else is not this interpreter's doing). Stops after 3 kept
    tries."""
    kept = []
    for _ in range(attempts):
        _, wall, seen = _watched(fn)
        if seen is not None and (seen.other_cores > others_limit
                                 or seen.steal_share > noise.STEAL_LIMIT):
            continue
        kept.append(wall)
        if len(kept) == 3:
            break
    return kept


def skip_unless_two_full_cores(what: str) -> None:
    """Skip the calling test when this host's second CPU does not give a second thread a full
    core: a call known to release the GIL (hashlib.sha256 on 8 MiB) is checked now, and if the
    other thread keeps less of its pace than "releases" needs, no check here can tell a
    releasing call from a partly releasing one (seen on 2-vCPU VMs whose vCPUs share a
    physical core at some moments: a releasing zlib call read 58%, hashlib 74%). On a
    free-threaded build, which has no GIL to check, a compiled loop must run as fast on two
    threads as on one. Returns otherwise."""
    import hashlib
    import sys

    from gilbench.gilcheck import check_gil

    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        # no GIL, no GIL check: a compiled loop on two threads must take as long as on one
        # (hashlib read 1.0-1.6x here under 3.13t even when pure Python read 1.9x; this 2.0x)
        primes = kernels.get("primes")
        loop, chunk = primes.variant("cython-nogil"), primes.split(2_000_000, 1)[0]
        if not loop.available:
            pytest.skip(f"{what}: no compiled reference to tell whether this host gives a "
                        f"second thread a full core ({loop.reason})")
        ratio = _two_threads_speedup(lambda: loop(chunk))
        if ratio < 2 * FULL_CORE_PACE:
            pytest.skip(f"{what}: this host does not give a second thread a full core now: "
                        f"primes/cython-nogil on two threads ran {ratio:.2f}x as fast as one "
                        f"after the other (best of 3; {2 * FULL_CORE_PACE:g}x needed)")
        return
    reference = check_gil(hashlib.sha256, b"\0" * (8 << 20))
    # on two full cores the other thread keeps 95-97% of its pace beside it (seen here); a
    # second CPU shared with the first shows as less, before it shows as "partly"
    if reference.verdict != "releases" or (reference.low or 0.0) < FULL_CORE_PACE:
        pytest.skip(f"{what}: this host cannot tell release from partial release now: "
                    f"hashlib.sha256, which releases the GIL, read as {reference}")


#: the pace a releasing reference call must leave another thread on two full cores
FULL_CORE_PACE = 0.9


def _two_threads_speedup(call: Callable[[], Any], tries: int = 3) -> float:
    """How much faster two threads make ``call()`` twice than one thread after the other (best
    of ``tries`` pairs): about 2 on two full cores for a call that runs in parallel."""
    import threading

    best = 0.0
    for _ in range(tries):
        start = time.perf_counter()
        call()
        call()
        serial = time.perf_counter() - start
        threads = [threading.Thread(target=call) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best = max(best, serial / (time.perf_counter() - start))
    return best


@pytest.fixture
def two_full_cores() -> Callable[[str], None]:
    """``two_full_cores(what)``: skip the test unless this host's second CPU now gives a
    second thread a full core (``skip_unless_two_full_cores``)."""
    return skip_unless_two_full_cores


def _parallel_speedup(one: Callable[[], Any], two: Callable[[], Any], what: str,
                      bound: float = 1.4) -> tuple[float, list[float], list[float]]:
    """The best time of ``one()`` over the best time of ``two()`` (``_timed_quietly``; a skip when
    every try was disturbed), with the timings. Short of ``bound``, the host is asked whether
    its second CPU is a full core now (``skip_unless_two_full_cores``): a 2-vCPU VM's gave about
    0.7 of one for a second or two, the tries included; if it is, measured once more."""
    def measured() -> tuple[float, list[float], list[float]]:
        alone, both = _timed_quietly(one), _timed_quietly(two)
        if not alone or not both:
            pytest.skip("host too busy: other processes took a core in every try")
        return min(alone) / min(both), alone, both

    speedup, alone, both = measured()
    if speedup <= bound:
        skip_unless_two_full_cores(f"{what} read {speedup:.2f}x")
        speedup, alone, both = measured()
    return speedup, alone, both


@pytest.fixture
def parallel_speedup():
    """``parallel_speedup(one, two, what) -> (speedup, [one's times], [two's times])``: the
    speedup of running the work two ways at once over one (``_parallel_speedup``)."""
    return _parallel_speedup


@pytest.fixture
def timed_quietly():
    """``timed_quietly(fn) -> [wall seconds]``: up to 3 timings of ``fn()``, keeping only tries in
    which other processes used under a quarter of a core (a core taken by someone else is not
    the code under test's doing)."""
    return _timed_quietly


@pytest.fixture
def others_cores() -> Callable[[Callable[[], Any]], tuple[Any, float | None]]:
    """``others_cores(fn) -> (fn(), cores)``: calls ``fn`` once and says how many cores, on
    average, processes other than this one and its children used meanwhile (None
    where the counters cannot be read; ``gilbench.noise``): a subprocess that measures (a
    test project's GIL checks) needs a quiet host."""
    def run(fn: Callable[[], Any]) -> tuple[Any, float | None]:
        out, _, seen = _watched(fn)
        return out, None if seen is None else seen.other_cores

    return run


@pytest.fixture
def paired_run() -> Callable[..., dict]:
    """``paired_run(seed, group_factor=None, cell_factor=None, rounds=7)``: synthetic-gil.json's
    matrix measured again in paired rounds: each group's serial time and each cell's speedup as
    recorded there, 2% jitter, one slow repeat in ten, the whole run ~1.00 +- 3% per group
    (times ``group_factor[(kernel, variant)]``), and a cell's own times times
    ``cell_factor[(kernel, variant, executor, workers)]`` (for the compare tests)."""
    def make(seed: int, group_factor: dict | None = None, cell_factor: dict | None = None,
             rounds: int = 7) -> dict:
        rng = np.random.default_rng(seed)
        doc = load_any(DATA / "synthetic-gil.json")
        serial_of = {(c["kernel"], c["variant"]): c["median_s"] for c in doc["cells"]
                     if c["executor"] == "serial"}
        group = {g: rng.uniform(0.97, 1.03) * (group_factor or {}).get(g, 1.0)
                 for g in serial_of}
        drift = np.exp(np.cumsum(rng.normal(0, 0.02, rounds)))
        for c in doc["cells"]:
            g = (c["kernel"], c["variant"])
            key = (c["kernel"], c["variant"], c["executor"], c["workers"])
            speedup = 1.0 if c["executor"] == "serial" else c["speedup"]["median"]
            times = (serial_of[g] / speedup * group[g] * (cell_factor or {}).get(key, 1.0)
                     * drift * np.exp(rng.normal(0, 0.02, rounds)))
            slow = rng.random(rounds) < 0.1
            times[slow] *= rng.uniform(1.2, 2.0, slow.sum())
            c["wall_s"], c["rounds"], c["repeats"] = list(times), list(range(rounds)), rounds
            c["median_s"] = float(np.median(times))
        return doc

    return make


@pytest.fixture
def scaled() -> Callable[[dict, float], dict]:
    """``scaled(doc, factor)``: a copy of a results document with every wall time times
    ``factor`` (the same run, uniformly faster or slower), for the compare tests."""
    import copy

    def make(doc: dict, factor: float) -> dict:
        out = copy.deepcopy(doc)
        for c in out["cells"]:
            c["wall_s"] = [t * factor for t in c["wall_s"]]
        return out

    return make
