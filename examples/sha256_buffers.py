"""hashlib.sha256 over 1 MiB buffers: hashlib releases the GIL for data over 2 KiB."""

import hashlib
import random

from examples import N_TASKS, scaled


def digest(data: bytes) -> str:
    """The SHA-256 of ``data`` as hex."""
    return hashlib.sha256(data).hexdigest()


def tasks() -> list[tuple[bytes]]:
    """16 buffers of 1 MiB of pseudo-random bytes."""
    return [(random.Random(i).randbytes(scaled(1 << 20)),) for i in range(N_TASKS)]
