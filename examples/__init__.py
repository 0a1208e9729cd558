"""Own-code examples for `gilbench try` (each module: a function and its `tasks()` factory).

Run from the repository root, e.g.
``gilbench try examples.sha256_buffers:digest --tasks examples.sha256_buffers:tasks``.
``GILBENCH_EXAMPLE_SCALE`` (default 1) scales every example's data, e.g. 0.01 in the tests.
"""

import os


def scaled(n: int) -> int:
    """``n`` times GILBENCH_EXAMPLE_SCALE (at least 1)."""
    return max(1, int(n * float(os.environ.get("GILBENCH_EXAMPLE_SCALE", "1"))))


#: tasks per example: enough for 4 chunks per worker at 2 workers
N_TASKS = 16
