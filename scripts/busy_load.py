"""A background load of known shape: one process that keeps one core busy for a share of the
time (its duty cycle) in bursts of a given length, and stops by itself.

    python scripts/busy_load.py --duty 0.4 --burst 0.5 --seconds 300   # bursty, ~0.4 core
    python scripts/busy_load.py --duty 1 --seconds 300                   # one whole core

Used by scripts/reproducibility.py (``--load-duty``) and scripts/noise-calibration.py to
measure gilbench beside a busy host. The load is pure Python spinning on ``time.perf_counter``
(one core while it spins, nothing while it sleeps): its average is ``duty`` cores.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

#: the load process: spin for ``burst`` seconds, sleep so the spin is ``duty`` of the time,
#: until ``seconds`` have passed (so a load never outlives a crashed benchmark for long)
_LOOP = """
import time
duty, burst, seconds = {duty!r}, {burst!r}, {seconds!r}
end = time.perf_counter() + seconds
idle = burst * (1 - duty) / duty
while time.perf_counter() < end:
    stop = min(end, time.perf_counter() + burst)
    while time.perf_counter() < stop:
        pass
    if idle > 0:
        time.sleep(min(idle, max(0.0, end - time.perf_counter())))
"""


#: starts the load detached (its parent exits at once), so that it is no descendant of the
#: process that measures: gilbench counts its own process tree as its own work, not as noise
_DETACH = """
import subprocess, sys
proc = subprocess.Popen([sys.executable, "-c", sys.argv[1]], start_new_session=True,
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
print(proc.pid, flush=True)
"""


def start(duty: float, burst_s: float, seconds: float) -> int:
    """Start the load process (``duty`` in (0, 1], bursts of ``burst_s``, for ``seconds``),
    detached from this one; its pid."""
    if not 0 < duty <= 1:
        raise ValueError(f"duty must be in (0, 1], got {duty}")
    if burst_s <= 0 or seconds <= 0:
        raise ValueError("burst and seconds must be positive")
    code = _LOOP.format(duty=float(duty), burst=float(burst_s), seconds=float(seconds))
    out = subprocess.run([sys.executable, "-c", _DETACH, code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[0])


def stop(pid: int) -> None:
    """Stop the load now (it would stop by itself at its deadline)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it had stopped by itself


def describe(duty: float, burst_s: float) -> str:
    """'one process, 40% duty cycle in 0.5 s bursts (~0.40 core on average)'."""
    if duty >= 1:
        return "one process taking one whole core all the time"
    return (f"one process, {100 * duty:.0f}% duty cycle in {burst_s:g} s bursts "
            f"(~{duty:.2f} core on average)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duty", type=float, default=0.4, help="share of the time spent "
                        "spinning, in (0, 1] (default 0.4)")
    parser.add_argument("--burst", type=float, default=0.5, help="seconds of one burst "
                        "(default 0.5)")
    parser.add_argument("--seconds", type=float, default=300.0, help="stop after this long "
                        "(default 300)")
    args = parser.parse_args(argv)
    pid = start(args.duty, args.burst, args.seconds)
    print(f"load: {describe(args.duty, args.burst)}, pid {pid}, for {args.seconds:g} s",
          file=sys.stderr)
    try:
        time.sleep(args.seconds)
        return 0
    except KeyboardInterrupt:
        stop(pid)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
