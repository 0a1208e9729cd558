"""The user-error types: raised low, caught once at the top (``gilbench.commands.main``).

Each message says what was wrong and what is accepted; the command line prints it as one line
and exits with status 2, without a traceback.
"""

from __future__ import annotations

from typing import Sequence


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


#: what the entry point catches and prints as one line (exit status 2)
USER_ERRORS = (UsageError, UnknownNameError, ResultsError)
