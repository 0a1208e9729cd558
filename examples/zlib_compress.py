"""zlib.compress over 1 MiB: zlib releases the GIL while it compresses."""

import random
import zlib

from examples import N_TASKS, scaled

_WORDS = ["gil", "thread", "core", "lock", "python", "buffer", "pickle", "speedup", "queue"]


def compress(data: bytes) -> bytes:
    """``data`` compressed at level 6."""
    return zlib.compress(data, 6)


def tasks() -> list[tuple[bytes]]:
    """16 buffers of 1 MiB of compressible text."""
    out = []
    for i in range(N_TASKS):
        rng = random.Random(i)
        text = " ".join(rng.choice(_WORDS) for _ in range(scaled(1 << 20) // 6))
        out.append((text.encode()[: scaled(1 << 20)],))
    return out
