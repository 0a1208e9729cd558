"""The ``interpreters`` executor: subinterpreters with their own GIL where Python has them, and
an unavailable cell with the reason where it does not."""

from __future__ import annotations

import time

import pytest

from gilbench import executors, host, kernels, results
from gilbench.executors.interpreters import InterpretersExecutor, SubinterpreterError, _one_line
from gilbench.run.config import RunConfig
from gilbench.run.matrix import run_matrix

HAVE = InterpretersExecutor.unavailable_reason() == ""
needs_subinterpreters = pytest.mark.skipif(
    not HAVE, reason=f"no subinterpreters here: {InterpretersExecutor.unavailable_reason()}")




def _run(tmp_path, config: RunConfig) -> dict[str, dict]:
    """Run ``config`` into a results file; cells by executor."""
    writer = results.ResultsWriter(tmp_path / "results.json", {"cells": []})
    run_matrix(config, writer)
    return {c["executor"]: c for c in writer.doc["cells"]}


def test_registered_in_its_own_family() -> None:
    cls = executors.get("interpreters")
    assert cls is InterpretersExecutor
    assert cls.family == "interpreters"
    assert not cls.uses_processes


def test_unavailable_reason_matches_the_interpreter() -> None:
    reason = InterpretersExecutor.unavailable_reason()
    assert (reason == "") == host.has_subinterpreters()
    if reason:
        assert "_interpreters" in reason and "InterpreterPoolExecutor" in reason


@pytest.mark.skipif(HAVE, reason="this Python has subinterpreters")
def test_unavailable_cell_says_why(tmp_path) -> None:
    # listed with the reason, never silently dropped
    config = RunConfig(["primes"], ["python"], ["serial", "interpreters"], [2], repeats=5, max_repeats=5,
                       sizes={"primes": 2_000})
    cell = _run(tmp_path, config)["interpreters"]
    assert cell["family"] == "interpreters"
    assert cell["speedup"] is None
    assert cell["error"].startswith("executor unavailable: ")
    assert "subinterpreter" in cell["error"]


def test_extension_import_error_is_one_clear_line() -> None:
    text = _one_line("VariantUnavailable", (
        "primes/cython-gil: compiled extension gilbench.kernels._primes_c not importable "
        "(module gilbench.kernels._primes_c does not support loading in subinterpreters); "
        "reinstall with a C compiler and Cython: pip install ."))
    assert "gilbench.kernels._primes_c does not support loading in subinterpreters" in text
    assert "reinstall" not in text  # the extension is installed; that hint would mislead
    assert "\n" not in _one_line("ValueError", "two\nlines")


@needs_subinterpreters
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_python_variant_gives_the_serial_partials(workers: int) -> None:
    kernel = kernels.get("primes")
    chunks = kernel.split(30_000, 7)  # more chunks than workers, not a multiple of them
    expected = [kernel.variant("python")(c) for c in chunks]
    with InterpretersExecutor("primes", "python", workers, 30_000) as ex:
        first = ex.run(chunks)
        second = ex.run(chunks)  # warm: the same interpreters again
    for result in (first, second):
        assert result.partials == expected
        assert len(result.task_cpu_s) == len(chunks)
        assert result.cpu_s > 0 and all(c >= 0 for c in result.task_cpu_s)


@needs_subinterpreters
def test_float_partials_cross_back_exactly() -> None:
    kernel = kernels.get("mandelbrot")
    chunks = kernel.split(6, 3)
    expected = [kernel.variant("python")(c) for c in chunks]
    with InterpretersExecutor("mandelbrot", "python", 2, 6) as ex:
        assert ex.run(chunks).partials == expected


@needs_subinterpreters
def test_compiled_variant_fails_at_start_with_the_reason() -> None:
    variant = kernels.get("primes").variant("cython-nogil")
    if not variant.available:
        pytest.skip(f"extension not compiled: {variant.reason}")
    ex = InterpretersExecutor("primes", "cython-nogil", 2, 1_000)
    try:
        ex.start()
    except SubinterpreterError as exc:
        message = str(exc)
        assert message.startswith("primes/cython-nogil cannot start in a subinterpreter: ")
        assert "gilbench.kernels._primes_c" in message and "\n" not in message
    else:  # the extension declares multi-interpreter support: then it must compute right
        chunks = kernels.get("primes").split(1_000, 4)
        assert ex.run(chunks).partials == [variant(c) for c in chunks]
    finally:
        ex.close()


@needs_subinterpreters
def test_runner_records_compiled_failure_as_a_cell_error(tmp_path) -> None:
    if not kernels.get("primes").variant("cython-gil").available:
        pytest.skip("extension not compiled")
    config = RunConfig(["primes"], ["cython-gil"], ["serial", "interpreters"], [2], repeats=5, max_repeats=5,
                       sizes={"primes": 2_000})
    cells = _run(tmp_path, config)
    assert cells["serial"]["error"] is None
    err = cells["interpreters"]["error"]
    if err is not None:
        assert "subinterpreter" in err and "_primes_c" in err


@needs_subinterpreters
def test_close_destroys_the_interpreters() -> None:
    import _interpreters

    before = {i for i, *_ in _interpreters.list_all()}
    ex = InterpretersExecutor("primes", "python", 2, 1_000)
    ex.start()
    assert len({i for i, *_ in _interpreters.list_all()} - before) == 2
    ex.close()
    assert {i for i, *_ in _interpreters.list_all()} == before
    ex.close()  # twice is harmless


@needs_subinterpreters
@pytest.mark.needs_cores
def test_two_interpreters_run_python_in_parallel(timed_quietly) -> None:
    # One run: best of the tries in which no other process took a core; generous bound. On 2
    # free cores the expected ratio is near 2; a shared GIL would give about 1.
    kernel = kernels.get("primes")
    chunks = kernel.split(120_000, 8)
    with InterpretersExecutor("primes", "python", 1, 120_000) as one, \
            InterpretersExecutor("primes", "python", 2, 120_000) as two:
        alone = timed_quietly(lambda: one.run(chunks))
        both = timed_quietly(lambda: two.run(chunks))
    if not alone or not both:
        pytest.skip("host too busy: other processes took a core in every try")
    assert min(alone) / min(both) > 1.4, (alone, both)


@needs_subinterpreters
def test_a_run_over_the_time_limit_is_stopped_from_inside() -> None:
    from gilbench.executors.base import RunTimeout, lingering_threads

    import _interpreters

    before = {i for i, *_ in _interpreters.list_all()}
    kernel = kernels.get("primes")
    chunks = kernel.split(3_000_000, 2)  # two chunks of many seconds of pure Python
    ex = InterpretersExecutor("primes", "python", 2, 3_000_000, timeout_s=60)
    ex.start()  # start-up within the generous limit; then a limit the run cannot meet
    ex.timeout_s = 0.3
    started = time.monotonic()
    try:
        with pytest.raises(RunTimeout, match="interrupted: 2 subinterpreter worker threads stopped"):
            ex.run(chunks)
        elapsed = time.monotonic() - started
        assert not lingering_threads()  # Python code in a subinterpreter can be stopped
    finally:
        ex.close()
    assert elapsed < 0.3 + 3
    assert {i for i, *_ in _interpreters.list_all()} == before  # nothing left running
