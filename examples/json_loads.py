"""json.loads of a ~1 MB document: the parser holds the GIL throughout."""

import json
import random

from examples import N_TASKS, scaled


def parse(text: str) -> object:
    """The parsed document."""
    return json.loads(text)


def tasks() -> list[tuple[str]]:
    """16 JSON documents of about 1 MB (records of numbers and strings)."""
    out = []
    for i in range(N_TASKS):
        rng = random.Random(i)
        records = [{"id": k, "name": f"item-{rng.randrange(10**6)}", "price": rng.random() * 100,
                    "tags": [rng.choice("abcdef") for _ in range(3)]}
                   for k in range(scaled(11_000))]
        out.append((json.dumps(records),))
    return out
