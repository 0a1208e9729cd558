"""numpy.sort of 1M floats: NumPy releases the GIL inside its sort loops."""

import numpy

from examples import N_TASKS, scaled


def sort(values: numpy.ndarray) -> numpy.ndarray:
    """A sorted copy of ``values``."""
    return numpy.sort(values)


def tasks() -> list[tuple[numpy.ndarray]]:
    """16 arrays of 1,000,000 pseudo-random floats."""
    return [(numpy.random.default_rng(i).random(scaled(1_000_000)),) for i in range(N_TASKS)]
