"""What the command-line tests share: a tiny run's options and the command run in-process."""

from __future__ import annotations

from gilbench import commands as cli

TINY = ["--kernels", "sleep", "--variants", "python", "--executors", "serial,threads",
        "--workers", "1,2", "--max-repeats", "5", "--size", "sleep=4"]


def gilbench_streams(argv: list[str], capsys) -> tuple[int, str, str]:
    """``gilbench ARGV`` in this process: (exit status, stdout, stderr); argparse's exits
    included."""
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return status, captured.out, captured.err


def gilbench(argv: list[str], capsys) -> tuple[int, str]:
    """``gilbench ARGV`` in this process: (exit status, stderr): progress, warnings and errors
    (the results printed on stdout: ``gilbench_streams``)."""
    status, _out, err = gilbench_streams(argv, capsys)
    return status, err
