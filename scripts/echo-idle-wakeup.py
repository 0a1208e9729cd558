"""Why `echo` can read above the overlapped waits: the serial baseline's round trips are slow
when the CPUs idle between a request and its reply.

Measures the echo kernel's time per round trip, serial and with 2 threads, first as gilbench
runs it, then with two `nice -n 19` spinners that keep every CPU out of idle (they yield to
any real work), then plainly again. If the serial run pays a wake-up from idle at every round
trip, it gets faster beside the spinners and the 2-thread speedup falls to at most 2.

    python scripts/echo-idle-wakeup.py [--round-trips 400] [--rounds 9]

Run it on a quiet host (it starts its own spinners); it takes about 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from gilbench import kernels
from gilbench.kernels import echo

_SPIN = "import time\nend = time.time() + {s}\nwhile time.time() < end: pass"


def measure(label: str, n: int, rounds: int) -> None:
    variant = kernels.get("echo").variants[0]
    with echo.session():
        one, two = echo.split(n, 1), echo.split(n, 2)
        serial, threads = [], []
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(variant, two))  # warm: connections, the pool's threads
            for _ in range(rounds):  # paired rounds, as gilbench measures
                t = time.perf_counter()
                for chunk in one:
                    variant(chunk)
                serial.append(time.perf_counter() - t)
                t = time.perf_counter()
                list(pool.map(variant, two))
                threads.append(time.perf_counter() - t)
    s, p = statistics.median(serial), statistics.median(threads)
    print(f"{label}: serial {s / n * 1e6:.1f} µs per round trip, 2 threads "
          f"{p / n * 1e6:.1f} µs, speedup {s / p:.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    measure("plain", args.round_trips, args.rounds)
    spinners = [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", _SPIN.format(s=60)])
                for _ in range(2)]
    try:
        time.sleep(0.3)
        measure("beside 2 nice-19 spinners (no CPU idles)", args.round_trips, args.rounds)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    measure("plain again", args.round_trips, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
