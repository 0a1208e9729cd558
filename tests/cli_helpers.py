"""What the command-line tests share: a tiny run's options and the command run in-process."""

from __future__ import annotations

from gilbench import commands as cli

TINY = ["--kernels", "sleep", "--variants", "python", "--executors", "serial,threads",
        "--workers", "1,2", "--max-repeats", "5", "--size", "sleep=4"]


def gilbench(argv: list[str], capsys) -> tuple[int, str]:
    """``gilbench ARGV`` in this process: (exit status, stderr); argparse's exits included."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return status, err
