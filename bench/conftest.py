"""gilbench's matrix as a pytest-benchmark suite: kernel × variant × executor × workers.

    pytest bench/                                   # the default matrix, a few minutes on 2 cores
    pytest bench/ --gb-kernels primes --gb-workers 1,2 -k "python"
    pytest bench/ --benchmark-json out.json && gilbench report out.json
    pytest bench/ --benchmark-disable --gb-quick    # every cell once: a smoke test

Nothing here is a second copy of ``gilbench run``: the options are parsed by
``gilbench.commands.run.config_from_args``, the cells come from ``gilbench.runner.plan`` (serial
first in every kernel/variant group, so its baseline is known when the other cells finish),
sizes from ``gilbench.measure.calibrate`` (once per kernel/variant per session), the work from
the kernel and executor registries, and every number in ``extra_info`` from
``gilbench.measure.summarize`` — the function that builds the cells of a results file.

What differs, by nature of pytest-benchmark: each cell runs its rounds back to back, where
``gilbench run`` interleaves the cells of a group in a shuffled order so drift hits them alike.
On a noisy machine, expect the two to differ by about the run-to-run spread.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import time
import traceback
from typing import Any, Iterator

import pytest

import gilbench
from gilbench import executors, host, kernels, runner
from gilbench.measure import CHUNKS_PER_WORKER, CellSpec, Raw, calibrate, summarize

# runner.sized is the one place that decides a cell's size and chunk count from the calibrated
# base size (strong/weak scaling); use it rather than repeat the rule.
_sized = runner.sized


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gilbench", "gilbench matrix (the options of `gilbench run`)")
    group.addoption("--gb-kernels", metavar="K,..",
                    help=f"kernels (default: all): {', '.join(kernels.names())}")
    group.addoption("--gb-variants", metavar="V,..",
                    help=f"variants (default: every one each kernel has): "
                         f"{', '.join(kernels.VARIANT_ORDER)}")
    group.addoption("--gb-executors", metavar="E,..",
                    help=f"executors (default: {','.join(executors.DEFAULT)}; 'all' for every "
                         f"one): {', '.join(executors.names())}")
    group.addoption("--gb-workers", metavar="1,2,4",
                    help="worker counts (default: 1, 2, 4, ... up to twice the usable cores; "
                         "--gb-quick: 1 and the usable cores)")
    group.addoption("--gb-repeats", type=int, metavar="N",
                    help=f"timed rounds per cell after the cold run "
                         f"(default {runner.DEFAULT_REPEATS})")
    group.addoption("--gb-target-time", type=float, metavar="S",
                    help=f"seconds a serial run should last after calibration "
                         f"(default {runner.DEFAULT_TARGET_S}, --gb-quick {runner.QUICK_TARGET_S})")
    group.addoption("--gb-quick", action="store_true",
                    help="small sizes, worker counts 1 and the usable cores")
    group.addoption("--gb-weak", action="store_true",
                    help="weak scaling: fixed work per worker (default: strong, fixed total)")
    group.addoption("--gb-start-method", choices=["fork", "spawn", "forkserver"],
                    help="how process executors start workers (default: the platform's, as "
                         "`gilbench run`)")


#: pytest option -> the `gilbench run` argument it stands for
OPTIONS = {
    "gb_kernels": "kernels", "gb_variants": "variants", "gb_executors": "executors",
    "gb_workers": "workers", "gb_repeats": "repeats", "gb_target_time": "target_time",
    "gb_quick": "quick", "gb_weak": "weak", "gb_start_method": "start_method",
}


def _run_config(config: pytest.Config) -> runner.RunConfig:
    """The RunConfig `gilbench run` would build from the same options."""
    from gilbench.errors import UsageError
    from gilbench.commands import run as run_command

    # start from `gilbench run`'s own defaults, so options it gains later keep their defaults here
    parser = argparse.ArgumentParser(add_help=False)
    run_command.add_arguments(parser)
    args = parser.parse_args([])
    for option, dest in OPTIONS.items():
        setattr(args, dest, config.getoption(option))
    try:
        return run_command.config_from_args(args)
    except (UsageError, kernels.UnknownNameError) as exc:
        # the messages name `gilbench run`'s options (--workers); here they are --gb-workers
        message = re.sub(r"(?<![\w-])--(?=[a-z])", "--gb-", str(exc))
        raise pytest.UsageError(f"gilbench: {message}") from None


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: null instead, so the --benchmark-json file stays standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class BenchSession:
    """Per pytest session: the run's configuration, calibrated sizes and serial baselines.

    The kernel's ``session()`` (the echo kernel's server) is entered when a kernel's first cell
    runs and left when the next kernel starts or the session ends; cells run kernel by kernel.
    """

    def __init__(self, config: runner.RunConfig, argv: list[str]):
        self.config = config
        # the header of a results document (host, config, command), as `gilbench run` writes it
        self.doc = runner.start_document(config, argv)
        self.usable_cores = host.usable_cores()
        self.sizes: dict[tuple[str, str], tuple[int, float] | str] = {}
        self.serial: dict[tuple[str, str], Raw] = {}
        self._kernel: str | None = None
        self._stack = contextlib.ExitStack()
        self._by_key = {spec.key: spec for spec in self.specs()}

    def specs(self) -> list[CellSpec]:
        """Every cell, in `gilbench run`'s plan order (serial first in each kernel/variant)."""
        return [spec for _, _, specs in runner.plan(self.config) for spec in specs]

    def spec(self, kernel: str, variant: str, executor: str, workers: int) -> CellSpec:
        """The planned (not yet sized) cell with this key."""
        return self._by_key[(kernel, variant, executor, workers)]

    def enter_kernel(self, kernel: kernels.Kernel) -> None:
        if self._kernel != kernel.name:
            self.close()
            self._stack.enter_context(kernel.session())
            self._kernel = kernel.name

    def base_size(self, kernel: kernels.Kernel, variant: str) -> tuple[int, float]:
        """The calibrated base size of (kernel, variant) and its serial seconds (cached)."""
        key = (kernel.name, variant)
        if key not in self.sizes:
            try:
                if kernel.name in self.config.sizes:
                    self.sizes[key] = (self.config.sizes[kernel.name], math.nan)
                else:
                    self.sizes[key] = calibrate(kernel, variant, self.config.target_time_s,
                                                CHUNKS_PER_WORKER * max(self.config.workers))
            except Exception as exc:  # every cell of the group reports it
                self.sizes[key] = f"calibration failed: {_describe(exc)}"
        found = self.sizes[key]
        if isinstance(found, str):
            raise RuntimeError(found)
        return found

    def close(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._kernel = None


class BenchCell:
    """One cell: its executor, its chunks and its raw times (a ``measure.Raw``)."""

    def __init__(self, spec: CellSpec, session: BenchSession):
        self.spec = spec
        self.session = session
        self.kernel = kernels.get(spec.kernel)
        self.raw = Raw()
        self.started = False
        self.calibrated_s: float | None = None
        self.executor: executors.Executor | None = None
        self.chunks: list[tuple] = []
        # True while start()/run() is under way: if the cell is closed then (Ctrl-C), or a run
        # failed, the executor is aborted (bounded in time) instead of closed
        self.busy = False

    def setup(self) -> None:
        """Calibrate (once per kernel/variant), size the cell, split the work, make the executor."""
        try:
            base, seconds = self.session.base_size(self.kernel, self.spec.variant)
            self.calibrated_s = seconds
            self.spec = _sized(self.spec, base, self.session.config)
            if self.kernel.prepare is not None:
                self.kernel.prepare(self.spec.size)
            self.chunks = self.kernel.split(self.spec.size, self.spec.n_chunks)
            cls = executors.get(self.spec.executor)
            self.executor = cls(self.spec.kernel, self.spec.variant, self.spec.workers,
                                self.spec.size, self.spec.start_method, **self._limit())
        except Exception as exc:
            self._fail(exc)

    def _limit(self) -> dict[str, Any]:
        # a per-run time limit, when `gilbench run`'s configuration has one
        timeout = getattr(self.session.config, "timeout_s", None)
        return {} if timeout is None else {"timeout_s": timeout}

    @property
    def rounds(self) -> int:
        return self.session.config.repeats if self.raw.error is None else 1

    def _fail(self, exc: BaseException) -> None:
        if self.raw.error is None:
            self.raw.error = _describe(exc)
            self.raw.traceback = traceback.format_exc()  # type: ignore[attr-defined]

    def start(self) -> None:
        """Start the executor's pools/workers, untimed (the smoke test's single run follows)."""
        if self.raw.error is not None or self.executor is None:
            return
        try:
            self.busy = True
            self.executor.start()
            self.started = True
            self.busy = False
        except Exception as exc:
            self._fail(exc)

    def cold(self) -> None:
        """start() and the first run, timed together: what the first call costs (pool start-up)."""
        if self.raw.error is not None or self.executor is None:
            return
        try:
            self.busy = True
            begin = time.perf_counter()
            self.executor.start()
            self.started = True
            result = self.executor.run(self.chunks)
            wall = time.perf_counter() - begin
            self.busy = False
            self.raw.result = self.kernel.reduce(result.partials)
        except Exception as exc:
            self._fail(exc)
            return
        self.raw.cold_wall_s, self.raw.cold_cpu_s = wall, result.cpu_s

    def timed(self) -> None:
        """One warm run: pytest-benchmark's target. Records wall and Σ task CPU time."""
        if self.raw.error is not None or self.executor is None:
            return  # the failure is reported after the rounds (see test_matrix)
        try:
            self.busy = True
            begin = time.perf_counter()
            result = self.executor.run(self.chunks)
            wall = time.perf_counter() - begin
            self.busy = False
            value = self.kernel.reduce(result.partials)
        except Exception as exc:
            self._fail(exc)
            return
        self.raw.wall_s.append(wall)
        self.raw.cpu_s.append(result.cpu_s)
        if self.raw.result is None:  # --benchmark-disable: no cold run came first
            self.raw.result = value
        elif not self.kernel.agrees(value, self.raw.result):
            self.raw.error = f"result changed between runs: {self.raw.result!r} then {value!r}"

    def close(self) -> None:
        """Close the executor; abort it instead if a run failed or was interrupted."""
        if self.executor is None or not (self.started or self.busy):
            return
        failed = self.busy or self.raw.error is not None
        self.started = self.busy = False
        try:
            # abort(): stop workers without waiting on a task that may never end
            stop = getattr(self.executor, "abort", None) if failed else None
            (stop or self.executor.close)()
        except Exception as exc:  # a failing shutdown must not lose the measurements
            self._fail(exc)

    def finish(self) -> dict[str, Any]:
        """The results-schema cell (``summarize``) plus what a converter needs: ``extra_info``."""
        group = (self.spec.kernel, self.spec.variant)
        is_serial = self.spec.executor == "serial"
        serial = self.raw if is_serial else self.session.serial.get(group)
        reference = None if serial is None or is_serial else serial.result
        cell = summarize(self.spec, self.raw, serial, self.kernel, reference)
        if is_serial and cell["error"] is None:
            self.session.serial[group] = self.raw
        result = self.raw.result
        info = dict(cell)
        info.update({
            "gilbench": gilbench.__version__,
            "usable_cores": self.session.usable_cores,
            "cold_cpu_s": self.raw.cold_cpu_s,
            # the run's own failure; cell["error"] may instead come from comparing with serial
            "raw_error": self.raw.error,
            "result": result if isinstance(result, (int, float, str)) else None,
            "target_time_s": self.session.config.target_time_s,
            "calibrated_serial_s": self.calibrated_s,
            "serial_in_session": serial is not None,
        })
        return _json_safe(info)


_SESSION = pytest.StashKey[BenchSession]()


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError("bench/ needs pytest-benchmark: pip install pytest-benchmark "
                                "(or gilbench[test])")
    argv = ["pytest", *config.invocation_params.args]
    config.stash[_SESSION] = BenchSession(_run_config(config), argv)


def cell_id(spec: CellSpec) -> str:
    """``primes-cython_nogil-process_pool-2``: '-' separates fields, '_' stays inside names."""
    fields = [spec.kernel, spec.variant, spec.executor, str(spec.workers)]
    return "-".join(f.replace("-", "_") for f in fields)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # four plain parameters rather than one CellSpec: the JSON's "params" then reads
    # {"kernel": "primes", ...}, and --benchmark-group-by=param:executor works
    names = ("kernel", "variant", "executor", "workers")
    if not set(names) <= set(metafunc.fixturenames):
        return
    session = metafunc.config.stash[_SESSION]
    params = [
        pytest.param(spec.kernel, spec.variant, spec.executor, spec.workers, id=cell_id(spec),
                     marks=pytest.mark.benchmark(group=f"{spec.kernel}-{spec.variant}"))
        for spec in session.specs()
    ]
    metafunc.parametrize(names, params)


@pytest.fixture(scope="session")
def gb_session(request: pytest.FixtureRequest) -> Iterator[BenchSession]:
    """The session's calibrations, serial baselines and open kernel session."""
    session = request.config.stash[_SESSION]
    yield session
    session.close()


@pytest.fixture
def gb_cell(kernel: str, variant: str, executor: str, workers: int,
            gb_session: BenchSession) -> Iterator[BenchCell]:
    """A cell ready to run (its executor not started yet); skipped if it cannot run here."""
    spec = gb_session.spec(kernel, variant, executor, workers)
    the_kernel = kernels.get(kernel)
    the_variant = the_kernel.variant(variant)
    if not the_variant.available:
        pytest.skip(f"variant unavailable: {the_variant.reason}")
    reason = executors.get(executor).unavailable_reason()
    if reason:
        pytest.skip(f"executor unavailable: {reason}")
    gb_session.enter_kernel(the_kernel)
    cell = BenchCell(spec, gb_session)
    cell.setup()
    try:
        yield cell
    finally:
        cell.close()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    """Add the results header (host, config, command) so the JSON converts to a results doc."""
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    header = {k: v for k, v in session.doc.items() if k != "cells"}
    header["host"] = dict(header["host"], load_average_end=host.load_average())
    output_json["gilbench"] = _json_safe(header)


def pytest_report_header(config: pytest.Config) -> str:
    session = config.stash.get(_SESSION, None)
    if session is None:
        return ""
    c = session.config
    return (f"gilbench {gilbench.__version__}: {len(session.specs())} cells; executors "
            f"{','.join(c.executors)}; workers {','.join(map(str, c.workers))}; "
            f"{c.repeats} rounds; serial target {c.target_time_s:g} s; "
            f"{session.usable_cores} usable cores; start method {c.start_method}; "
            f"Python {sys.version.split()[0]} ({host.build_name()} build)")
