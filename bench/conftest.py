"""gilbench's matrix as a pytest-benchmark suite: kernel × variant × executor × workers.

    pytest bench/                                   # the default matrix, a few minutes on 2 cores
    pytest bench/ --gb-kernels primes --gb-workers 1,2 -k "python"
    pytest bench/ --benchmark-json out.json && gilbench report out.json
    pytest bench/ --benchmark-disable --gb-quick    # every cell once: a smoke test

Nothing here is a second copy of ``gilbench run``: the options are ``gilbench run``'s own
(declared once, ``run.options.add_run_options``, here with the prefix ``--gb-``) and make the
same RunConfig, the cells come from ``gilbench.run.matrix.plan`` (serial first in every
kernel/variant group, so its baseline is known when the other cells finish), sizes from
``gilbench.measure.calibrate`` (once per kernel/variant per session), each cell's runs from
``gilbench.measure.CellRunner`` (the per-cell loop of ``gilbench run``, time limit included), and
``extra_info`` holds the complete results cell, built by ``gilbench.summary.summarize``.

What differs, by nature of pytest-benchmark: each cell runs its rounds back to back, where
``gilbench run`` interleaves the cells of a group in a shuffled order so drift hits them alike.
On a noisy machine, expect the two to differ by about the run-to-run spread.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
from typing import Any, Iterator

import pytest

import gilbench
from gilbench import executors, host, kernels, results
from gilbench.errors import USER_ERRORS, one_line
from gilbench.measure import CHUNKS_PER_WORKER, CellRunner, CellSpec, Raw, calibrate
from gilbench.placement import pinned
from gilbench.summary import summarize
from gilbench.run.config import RunConfig
from gilbench.run.matrix import plan, sized, start_document
from gilbench.run.options import add_run_options, run_config

PREFIX = "gb-"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gilbench", "gilbench matrix (the options of `gilbench run`)")
    add_run_options(group.addoption, prefix=PREFIX)


def _run_config(config: pytest.Config) -> RunConfig:
    """The RunConfig `gilbench run` would build from the same options."""
    try:
        run = run_config(lambda name: config.getoption(PREFIX.replace("-", "_") + name))
        run.prepare_engines()  # --gb-dask-scheduler: set for the executor, checked up front
        return run
    except USER_ERRORS as exc:
        # the messages name `gilbench run`'s options (--workers); here they are --gb-workers
        message = re.sub(r"(?<![\w-])--(?=[a-z])", f"--{PREFIX}", str(exc))
        raise pytest.UsageError(f"gilbench: {message}") from None


class BenchSession:
    """Per pytest session: the run's configuration, calibrated sizes and serial baselines.

    The kernel's ``session()`` (the echo kernel's server) is entered when a kernel's first cell
    runs and left when the next kernel starts or the session ends; cells run kernel by kernel.
    """

    def __init__(self, config: RunConfig, argv: list[str]):
        self.config = config
        # the header of a results document (host, config, command), as `gilbench run` writes it
        self.doc = start_document(config, argv)
        self.usable_cores = host.usable_cores()
        self.sizes: dict[tuple[str, str], tuple[int, float] | str] = {}
        self.serial: dict[tuple[str, str], Raw] = {}
        self._kernel: str | None = None
        self._stack = contextlib.ExitStack()
        self._by_key = {spec.key: spec for spec in self.specs()}

    def specs(self) -> list[CellSpec]:
        """Every cell, in `gilbench run`'s plan order (serial first in each kernel/variant)."""
        return [spec for _, _, specs in plan(self.config) for spec in specs]

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
                else:  # placed (--gb-pin, --gb-core-type): on the serial baseline's CPU
                    with pinned(self.config.placement.cpus_for(0)):
                        self.sizes[key] = calibrate(
                            kernel, variant, self.config.target_time_s,
                            CHUNKS_PER_WORKER * max(self.config.workers),
                            timeout_s=self.config.run_timeout_s)
            except Exception as exc:  # every cell of the group reports it
                self.sizes[key] = f"calibration failed: {one_line(exc)}"
        found = self.sizes[key]
        if isinstance(found, str):
            raise RuntimeError(found)
        return found

    def close(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._kernel = None


class BenchCell:
    """One cell: a ``measure.CellRunner`` once calibrated, else the reason it cannot run."""

    def __init__(self, spec: CellSpec, session: BenchSession):
        self.spec = spec
        self.session = session
        self.kernel = kernels.get(spec.kernel)
        self.calibrated_s: float | None = None
        self.runner: CellRunner | None = None
        self.failure: Raw | None = None  # a cell that failed before it could run
        try:
            base, self.calibrated_s = session.base_size(self.kernel, spec.variant)
            self.spec = sized(spec, base, session.config)
            if self.kernel.prepare is not None:
                self.kernel.prepare(self.spec.size)
            self.runner = CellRunner(self.spec, self.kernel, session.config.run_timeout_s)
        except Exception as exc:
            self.failure = Raw(error=one_line(exc))

    @property
    def raw(self) -> Raw:
        return self.failure if self.runner is None else self.runner.raw

    @property
    def rounds(self) -> int:
        return self.session.config.repeats if self.raw.error is None else 1

    def start(self) -> None:
        """Start the executor untimed (--benchmark-disable: the single call is the run)."""
        if self.runner is not None:
            self.runner.start()

    def cold(self) -> None:
        """start() and the first run, timed together: what the first call costs (pool start-up)."""
        if self.runner is not None:
            self.runner.run_once(cold=True)

    def timed(self) -> None:
        """One warm run: pytest-benchmark's target."""
        if self.runner is not None:
            self.runner.run_once(cold=False)

    def close(self) -> None:
        """Close the executor (a failed run has aborted it already)."""
        if self.runner is not None:
            self.runner.close()

    def abort(self) -> None:
        """Stop the executor without waiting (the test did not finish: Ctrl-C, an error)."""
        if self.runner is not None:
            self.runner.abort()

    def finish(self) -> dict[str, Any]:
        """The complete results cell (``summarize``), plus what the bench run knew about it."""
        group = (self.spec.kernel, self.spec.variant)
        is_serial = self.spec.executor == "serial"
        serial = self.raw if is_serial else self.session.serial.get(group)
        reference = None if serial is None or is_serial else serial.result
        cell = summarize(self.spec, self.raw, serial, self.kernel, reference,
                         usable_cores=self.session.config.ceiling)
        if is_serial and cell["error"] is None:
            self.session.serial[group] = self.raw
        result = self.raw.result
        cell.update({
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
        return results.json_safe(cell)


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
    try:
        yield cell
    finally:
        cell.abort()  # a no-op once the test closed it


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    """Add the results header (host, config, command) so the JSON converts to a results doc."""
    session = config.stash.get(_SESSION, None)
    if session is None:
        return
    header = {k: v for k, v in session.doc.items() if k != "cells"}
    header["host"] = dict(header["host"], load_average_end=host.load_average())
    output_json["gilbench"] = results.json_safe(header)


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
