"""Minimal child-process targets for the start-up experiments (``gilbench.experiments``).

Outside the experiments package, so that a child unpickling one imports ``gilbench`` and this
module only: nothing beyond the standard library's ``time`` and ``lifeline`` (itself kept to
the standard library), so that starting a child measures the start method, not the import of
gilbench's heavier modules.
"""

from __future__ import annotations

import time

from gilbench.lifeline import die_with_parent

TYPE_CHECKING = False  # keeps typing (~10 ms) out of the children
if TYPE_CHECKING:
    from typing import Any


def report_ready(conn: Any) -> None:
    """Child: send the time it started running Python code, and exit."""
    conn.send(time.perf_counter())
    # after the time is sent, so that the start-up measured is the start method's alone
    die_with_parent()
    conn.close()


def nothing() -> None:
    """A task that does nothing: the pool round-trip cost alone."""
    return None
