"""(being written)"""

from __future__ import annotations

import argparse

HELP = "(being written)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from gilbench.cli import UsageError

    raise UsageError("not implemented yet")
