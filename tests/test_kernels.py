"""Correctness of every kernel variant: agreement with the pure-Python reference, independence
from the chunking, the shape of ``split``, and known truths per kernel (a sieve for primes,
``zlib.adler32`` for checksum, pi for Monte Carlo, a NumPy sum for stream, the Mandelbrot
constants shared by the ``.pyx`` and the Python module).

Sizes stay at or below ``kernel.verify_size`` (the ``python`` variants are slow); the larger
cases call a variant on one hand-made chunk where the interesting boundary is.
"""

from __future__ import annotations

import math
import pickle
import re
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gilbench import kernels
from gilbench.kernels import Kernel, Variant
from gilbench.kernels import checksum as checksum_mod
from gilbench.kernels import mandelbrot as mandelbrot_mod
from gilbench.kernels import montecarlo as montecarlo_mod
from gilbench.kernels import stream as stream_mod

# Few examples, no deadline: the python variants take tens of milliseconds per example and a
# loaded 2-core box would trip hypothesis's per-example deadline for no fault of the code.
FEW = settings(max_examples=12, deadline=None)
MAX_CHUNKS = 16


def compute(kernel: Kernel, variant: Variant, size: int, n_chunks: int) -> Any:
    """``reduce(map(variant, split(size, n_chunks)))``: the result the executors compute."""
    return kernel.reduce([variant(chunk) for chunk in kernel.split(size, n_chunks)])


@lru_cache(maxsize=None)
def reference(kernel_name: str, size: int) -> Any:
    """The ``python`` variant's result in one chunk (the caller has the kernel's session open)."""
    kernel = kernels.get(kernel_name)
    return compute(kernel, kernel.variant("python"), size, 1)


def variant_ids(kernel_name: str) -> list[str]:
    """``kernel-variant`` ids of every variant of one kernel, for indirect parametrisation."""
    return [f"{kernel_name}-{name}" for name in kernels.get(kernel_name).variant_names]


# --- every variant of every kernel ------------------------------------------------------------


@FEW
@given(data=st.data())
def test_variant_agrees_with_python_reference(kernel_variant, data) -> None:
    kernel, variant = kernel_variant
    size = data.draw(st.integers(kernel.min_size, kernel.verify_size), label="size")
    n_chunks = data.draw(st.integers(1, MAX_CHUNKS), label="n_chunks")
    got = compute(kernel, variant, size, n_chunks)
    expected = reference(kernel.name, size)
    assert kernel.agrees(got, expected), f"size={size} n={n_chunks}: {got!r} != {expected!r}"


@FEW
@given(data=st.data())
def test_result_does_not_depend_on_chunking(kernel_variant, data) -> None:
    kernel, variant = kernel_variant
    size = data.draw(st.integers(kernel.min_size, kernel.verify_size), label="size")
    n1 = data.draw(st.integers(1, MAX_CHUNKS), label="n1")
    n2 = data.draw(st.integers(1, MAX_CHUNKS).filter(lambda n: n != n1), label="n2")
    assert kernel.agrees(compute(kernel, variant, size, n1), compute(kernel, variant, size, n2))


def test_edge_sizes_agree_with_reference(kernel_variant) -> None:
    """At kernel.min_size and just above it, with more chunks than work items."""
    kernel, variant = kernel_variant
    for size in (kernel.min_size, kernel.min_size + 1, kernel.min_size + 2):
        expected = reference(kernel.name, size)
        for n_chunks in (1, size + 1, 2 * size + 5):
            got = compute(kernel, variant, size, n_chunks)
            assert kernel.agrees(got, expected), f"size={size} n={n_chunks}: {got!r}, {expected!r}"


# --- split, per kernel ------------------------------------------------------------------------


@FEW
@given(data=st.data())
def test_split_makes_the_requested_number_of_picklable_chunks(kernel, data) -> None:
    size = data.draw(st.integers(kernel.min_size, kernel.verify_size), label="size")
    n_chunks = data.draw(st.integers(1, 64), label="n_chunks")
    chunks = kernel.split(size, n_chunks)
    assert len(chunks) == n_chunks
    # chunks travel to worker processes: plain, small, picklable tuples
    assert all(isinstance(c, tuple) for c in chunks)
    assert pickle.loads(pickle.dumps(chunks)) == chunks


def _work_items(kernel_name: str, chunk: tuple) -> list:
    """The units of work a chunk stands for, for the kernels whose chunk shape is documented."""
    if kernel_name == "primes":  # (start, stop, step) over odd numbers
        return list(range(*chunk))
    if kernel_name == "mandelbrot":  # (first_row, n_rows, step)
        return list(range(chunk[0], chunk[1], chunk[2]))
    if kernel_name in ("montecarlo", "stream", "checksum"):  # (start, stop)
        return list(range(*chunk))
    if kernel_name == "sleep":  # (n_sleeps, seconds_each)
        return [chunk[1]] * chunk[0]
    if kernel_name == "echo":  # (host, port, n_round_trips)
        return [chunk[:2]] * chunk[2]
    pytest.skip(f"no rule here for what a {kernel_name!r} chunk covers; add one")


def _all_items(kernel_name: str, size: int) -> list | None:
    """The work items of the whole problem (None: only their count, ``size``, is known)."""
    if kernel_name == "primes":
        return list(range(3, size, 2))
    if kernel_name in ("mandelbrot", "montecarlo", "stream", "checksum"):
        return list(range(size))
    return None  # sleep/echo: only the count is checked


@FEW
@given(data=st.data())
def test_split_partitions_the_work_into_balanced_chunks(kernel, data) -> None:
    size = data.draw(st.integers(kernel.min_size, kernel.verify_size), label="size")
    n_chunks = data.draw(st.integers(1, MAX_CHUNKS), label="n_chunks")
    per_chunk = [_work_items(kernel.name, c) for c in kernel.split(size, n_chunks)]
    union = [item for items in per_chunk for item in items]
    expected = _all_items(kernel.name, size)
    if expected is not None:
        assert sorted(union) == expected  # every item exactly once
    else:
        assert len(union) == size
    lengths = [len(items) for items in per_chunk]
    assert max(lengths) - min(lengths) <= 1  # equal cost per chunk (design: balance them)


# --- kernel.agrees ----------------------------------------------------------------------------


def test_agrees_is_exact_or_within_the_stated_tolerance() -> None:
    primes = kernels.get("primes")
    assert primes.rel_tol == 0
    assert primes.agrees(2262, 2262) and not primes.agrees(2262, 2263)
    mandelbrot = kernels.get("mandelbrot")
    assert mandelbrot.rel_tol > 0
    big = 10**6
    assert mandelbrot.agrees(big, big * (1 + mandelbrot.rel_tol / 2))
    assert not mandelbrot.agrees(big, big * (1 + mandelbrot.rel_tol * 10))


# --- primes: a sieve --------------------------------------------------------------------------


def sieve_count(below: int) -> int:
    """How many primes are < ``below`` (sieve of Eratosthenes)."""
    if below < 3:
        return 0
    is_prime = bytearray([1]) * below
    is_prime[0] = is_prime[1] = 0
    for n in range(2, math.isqrt(below - 1) + 1):
        if is_prime[n]:
            is_prime[n * n :: n] = bytes(len(range(n * n, below, n)))
    return sum(is_prime)


@pytest.mark.parametrize("kernel_variant", variant_ids("primes"), indirect=True)
def test_primes_counts_the_primes_below_size(kernel_variant) -> None:
    kernel, variant = kernel_variant
    # prime sizes and their neighbours: "below size" must exclude size itself
    for size in (3, 4, 5, 10, 11, 12, 100, 7919, 7920, kernel.verify_size):
        for n_chunks in (1, 3, 7):
            assert compute(kernel, variant, size, n_chunks) == sieve_count(size), (size, n_chunks)


def test_sieve_itself() -> None:
    assert [sieve_count(n) for n in (2, 3, 4, 5, 11, 12, 100, 1000)] == [0, 1, 2, 2, 4, 5, 25, 168]


# --- checksum: zlib.adler32 of the stream -----------------------------------------------------


def stream_bytes(start: int, stop: int) -> bytes:
    """Bytes [start, stop) of the checksum kernel's stream (its 1 MiB buffer, repeated)."""
    buf = checksum_mod.buffer()
    repeats = stop // len(buf) + 1
    return (buf * repeats)[start:stop]


@pytest.mark.parametrize("kernel_variant", variant_ids("checksum"), indirect=True)
def test_checksum_is_zlib_adler32_of_the_stream(kernel_variant) -> None:
    kernel, variant = kernel_variant
    for size in (1, 2, 5552, 5553, 65536, kernel.verify_size):
        for n_chunks in (1, 4):
            assert compute(kernel, variant, size, n_chunks) == zlib.adler32(stream_bytes(0, size))


@pytest.mark.parametrize("kernel_variant", variant_ids("checksum"), indirect=True)
def test_checksum_chunk_across_the_buffer_wrap(kernel_variant) -> None:
    """A chunk that runs off the end of the 1 MiB buffer and on from its start."""
    kernel, variant = kernel_variant
    physical = checksum_mod.PHYSICAL
    for start, stop in ((physical - 7000, physical + 9000), (physical, physical + 3),
                        (3 * physical - 1, 3 * physical + 1)):
        data = stream_bytes(start, stop)
        assert variant((start, stop)) == (zlib.adler32(data), stop - start)


def test_checksum_combine_matches_zlib() -> None:
    """The reduce step: Adler-32 of A+B from those of A and B (zlib's adler32_combine)."""
    a, b = b"gil" * 1000, bytes(range(256)) * 300
    assert checksum_mod.combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


# --- montecarlo: pi, and a known SplitMix64 output ---------------------------------------------


def test_splitmix64_known_answer() -> None:
    # Vigna's reference splitmix64.c seeded with 0: first output 0xE220A8397B1DCDAF
    assert montecarlo_mod.splitmix64(0) == 0xE220A8397B1DCDAF


def _compiled(kernel: Kernel) -> Variant:
    for name in ("cython-nogil", "cython-gil"):
        if kernel.variant(name).available:
            return kernel.variant(name)
    pytest.skip(f"no compiled {kernel.name} variant: {kernel.variant('cython-nogil').reason}")


def test_montecarlo_estimate_is_near_pi() -> None:
    kernel = kernels.get("montecarlo")
    size = 10_000_000
    hits = compute(kernel, _compiled(kernel), size, 4)
    # standard error 4*sqrt(p(1-p)/N) ~ 0.0005 at 10M samples; 0.005 is ten of them, and the
    # PRNG is deterministic, so this either always holds or never does
    assert abs(montecarlo_mod.estimate(size, hits) - math.pi) < 0.005


@pytest.mark.parametrize("kernel_variant", variant_ids("montecarlo"), indirect=True)
def test_montecarlo_chunk_across_numpy_block_boundary(kernel_variant) -> None:
    """The numpy variant works in blocks of 2**15 samples; chunks that cross block boundaries,
    end exactly on one, and are shorter than one block after a longer one (reused scratch)."""
    kernel, variant = kernel_variant
    for chunk in (((1 << 15) - 300, (1 << 15) + 300), ((1 << 20) - 300, (1 << 20) + 300),
                  (0, 1 << 15), (5, 9)):
        assert variant(chunk) == kernel.variant("python")(chunk), chunk


# --- stream: a NumPy computation --------------------------------------------------------------


def stream_expected(start: int, stop: int) -> float:
    """Sum of b[i] + 3*c[i] over logical [start, stop), b = i % 1024, c = i % 7 (physical i)."""
    idx = np.arange(start, stop, dtype=np.int64) % stream_mod.PHYSICAL
    return float(np.sum(idx % 1024) + 3 * np.sum(idx % 7))  # exact: integers < 2**53


@pytest.mark.parametrize("kernel_variant", variant_ids("stream"), indirect=True)
def test_stream_equals_numpy_computation(kernel_variant) -> None:
    kernel, variant = kernel_variant
    for size in (1, 2, 1023, 1025, kernel.verify_size):
        for n_chunks in (1, 3):
            assert compute(kernel, variant, size, n_chunks) == stream_expected(0, size)
    physical = stream_mod.PHYSICAL
    for start, stop in ((physical - 500, physical + 700), (2 * physical - 1, 2 * physical + 1)):
        assert variant((start, stop)) == stream_expected(start, stop)  # wraps the arrays


# --- mandelbrot: the .pyx and the Python module share their constants --------------------------

PYX = Path(__file__).resolve().parents[1] / "ext" / "mandelbrot.pyx"


def test_mandelbrot_pyx_constants_match_python_module() -> None:
    if not PYX.exists():
        pytest.skip(f"{PYX} not found (testing an installed build without sources)")
    text = PYX.read_text()
    ints = dict(re.findall(r"^\s*(WIDTH|MAX_ITER)\s*=\s*(\d+)", text, re.M))
    floats = dict(re.findall(r"\b(X0|DX|Y0|DY)\s*=\s*(-?\d+(?:\.\d*)?)", text))
    assert {k: int(v) for k, v in ints.items()} == {
        "WIDTH": mandelbrot_mod.WIDTH, "MAX_ITER": mandelbrot_mod.MAX_ITER}
    assert {k: float(v) for k, v in floats.items()} == {
        "X0": mandelbrot_mod.X0, "DX": mandelbrot_mod.DX,
        "Y0": mandelbrot_mod.Y0, "DY": mandelbrot_mod.DY}


def test_mandelbrot_single_row_reaches_max_iter() -> None:
    """With one row (the real axis, cy = 0) the points with cx <= 0.25 are in the set and run
    all MAX_ITER iterations, so this result depends on both WIDTH and MAX_ITER."""
    kernel = kernels.get("mandelbrot")
    width, max_iter = mandelbrot_mod.WIDTH, mandelbrot_mod.MAX_ITER
    inside = sum(1 for col in range(width)
                 if mandelbrot_mod.X0 + mandelbrot_mod.DX * (col + 0.5) / width <= 0.25)
    total = compute(kernel, kernel.variant("python"), 1, 1)
    assert inside * max_iter <= total < width * max_iter
    assert inside > 0


@pytest.mark.parametrize("kernel_variant", variant_ids("mandelbrot"), indirect=True)
def test_mandelbrot_escape_counts_identical(kernel_variant) -> None:
    """Same operations in the same order: escape counts are equal, not merely close; one row
    hits MAX_ITER for most of its points, so a different MAX_ITER or WIDTH would show."""
    kernel, variant = kernel_variant
    python = kernel.variant("python")
    for size in (1, 2, 5):
        for chunk in kernel.split(size, 2):
            assert variant(chunk) == python(chunk), (size, chunk)


@pytest.mark.parametrize("cost_power", [1.0, 1.5])
@pytest.mark.parametrize("start", [1, 100, 10_000])
def test_the_one_calibration_reaches_its_target_on_a_known_cost(cost_power, start) -> None:
    """``kernels.calibrate_size`` on a synthetic clock (seconds = 1e-7 * size**cost_power):
    the size it picks lasts the target within rounding, from any start, and it never times a
    size beyond what the growth cap allows."""
    timed: list[int] = []

    def time_at(size: int) -> float:
        timed.append(size)
        return 1e-7 * size ** cost_power

    size = kernels.calibrate_size(time_at, start, 0.05, cost_power=cost_power)
    assert 1e-7 * size ** cost_power == pytest.approx(0.05, rel=0.01)
    assert all(b <= a * 100 for a, b in zip(timed, timed[1:]))  # x100 at most per step
    assert len(timed) <= 8
