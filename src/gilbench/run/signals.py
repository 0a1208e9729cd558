"""Ctrl-C and SIGTERM during a run: ``stop_on_signals`` turns the first into ``Interrupted``
(a KeyboardInterrupt), which stops the running group's workers on its way out."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal: SIGINT (Ctrl-C) or SIGTERM."""

    def __init__(self, signum: int):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)

    @property
    def exit_status(self) -> int:
        """The shell's convention for a process ended by this signal (130 for SIGINT)."""
        return 128 + self.signum

    @property
    def description(self) -> str:
        return "Ctrl-C (SIGINT)" if self.signum == signal.SIGINT else self.signal_name


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread, once.

    Later signals are only recorded (in the yielded list): stopping the workers takes a moment
    and must not itself be interrupted half-way, or it would leave processes behind. Outside
    the main thread (no signal handlers there) it does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
