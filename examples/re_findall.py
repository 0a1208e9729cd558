"""re.findall over ~1 MB of text: the regular-expression engine holds the GIL."""

import random
import re

from examples import N_TASKS, scaled

_PATTERN = re.compile(r"\b\w+ing\b")
_WORDS = ["running", "thread", "waiting", "core", "locking", "python", "sharing", "queue"]


def find_words(text: str) -> list[str]:
    """Every word ending in -ing."""
    return _PATTERN.findall(text)


def tasks() -> list[tuple[str]]:
    """16 texts of about 1 MB."""
    out = []
    for i in range(N_TASKS):
        rng = random.Random(i)
        out.append((" ".join(rng.choice(_WORDS) for _ in range(scaled(1 << 20) // 7)),))
    return out
