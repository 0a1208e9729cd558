"""The user-error types: raised low, caught once at the top (``gilbench.commands.main``).

Each message says what was wrong and what is accepted; the command line prints it as one line
and exits with status 2, without a traceback. And ``one_line(exc)``: how any exception is
recorded or shown in one line (a cell's error, a reason, a table's note).
"""

from __future__ import annotations

from typing import Literal, Sequence


class UsageError(Exception):
    """A mistake in what the user asked for; the message says what is accepted."""


class UnknownNameError(KeyError):
    """An unknown kernel/variant/executor name; the message lists the valid ones."""

    def __init__(self, what: str, name: str, valid: Sequence[str]):
        self.what, self.name, self.valid = what, name, list(valid)
        super().__init__(f"unknown {what} {name!r}; valid {what}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class ResultsError(ValueError):
    """A results file that cannot be used; the message names the first problem and where."""


def one_line(exc: BaseException, *, line: Literal["first", "last", "all"] = "first") -> str:
    """An exception as one line: ``Type: message``, with the message's first line; its last
    with ``line="last"`` (a user's function or an import puts the point after the context, as
    a traceback ends); all its lines run together with ``line="all"`` (a library's short
    message, nothing dropped). Only the type's name when the message is empty."""
    name = type(exc).__name__
    if line == "all":
        text = " ".join(str(exc).split())
    else:
        lines = str(exc).strip().splitlines()
        text = (lines[0] if line == "first" else lines[-1]).strip() if lines else ""
    return f"{name}: {text}" if text else name


#: what the entry point catches and prints as one line (exit status 2)
USER_ERRORS = (UsageError, UnknownNameError, ResultsError)
