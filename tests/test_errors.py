"""gilbench.errors.one_line: an exception as one line."""

import pytest

from gilbench.errors import UnknownNameError, one_line


class _Empty(Exception):
    pass


def test_first_line_by_default():
    assert one_line(ValueError("bad size\n  more context")) == "ValueError: bad size"


def test_last_line_where_the_point_comes_after_the_context():
    exc = ImportError("while importing m:\n\n  No module named 'x'\n")
    assert one_line(exc, line="last") == "ImportError: No module named 'x'"


def test_all_lines_run_together():
    assert one_line(OSError("no route\n  to   host"), line="all") == "OSError: no route to host"


@pytest.mark.parametrize("line", ["first", "last", "all"])
def test_an_empty_message_is_the_type_alone(line):
    assert one_line(_Empty(), line=line) == "_Empty"
    assert one_line(_Empty("  \n "), line=line) == "_Empty"


def test_uses_the_exceptions_own_str():
    exc = UnknownNameError("kernel", "nope", ["primes"])
    assert one_line(exc) == "UnknownNameError: unknown kernel 'nope'; valid kernels: primes"
