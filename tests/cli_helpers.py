"""What the command-line tests share: a tiny run's options and the command run in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def gilbench_in(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m gilbench ARGS`` in a child process in ``cwd`` (a 200-column terminal)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gilbench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def side_by_side(argvs: dict[str, list[str]], **popen: object
                 ) -> dict[str, subprocess.CompletedProcess]:
    """Run every argv at once (each a second or more of starting Python and importing
    gilbench, mostly waiting), and return each one's completed process by name."""
    procs = {name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, **popen) for name, argv in argvs.items()}
    done = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            done[name] = subprocess.CompletedProcess(argvs[name], proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done
