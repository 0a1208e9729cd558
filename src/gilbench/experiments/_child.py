"""Minimal child-process targets for the start-up experiments.

Kept free of imports beyond the standard library's ``time`` (and this package's ``__init__``,
which imports nothing at module level), so that starting a child measures the start method,
not the import of gilbench's heavier modules.
"""

from __future__ import annotations

import time
TYPE_CHECKING = False  # see gilbench.experiments: keeps typing out of the children
if TYPE_CHECKING:
    from typing import Any


def report_ready(conn: Any) -> None:
    """Child: send the time it started running Python code, and exit."""
    conn.send(time.perf_counter())
    # after the time is sent, so that the start-up measured is the start method's alone
    die_with_parent()
    conn.close()


def die_with_parent() -> None:
    """Pool initializer of the experiments: the worker dies with gilbench (``lifeline``)."""
    from gilbench.lifeline import die_with_parent as arm

    arm()


def nothing() -> None:
    """A task that does nothing: the pool round-trip cost alone."""
    return None
