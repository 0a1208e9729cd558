"""What a steady background load does to a speedup on this host: the evidence behind
``verdicts.OTHER_CORES_LIMIT`` (the CPU other processes may use in a round that still counts).

    python scripts/noise-calibration.py                 # loads 0, 0.05, 0.1, 0.2, 0.3, 0.5 core
    python scripts/noise-calibration.py --duties 0,0.1,0.2 --rounds 21

For each load (``scripts/busy_load.py``: one process spinning that share of the time in short
bursts, so that every round sees about the same load), it measures paired rounds of a few CPU
cells (the serial baseline and the cells back to back, as ``gilbench run`` does) and records,
per round, the speedup and the other processes' CPU that ``gilbench.noise`` saw. Printed: per
load, the median other-process cores seen and each cell's median speedup relative to the
unloaded one. A limit is safe when a round at the limit moves no speedup by more than the
borderline margin (``verdicts.BORDERLINE_MARGIN``): then a verdict decided from such rounds
lies on the same side of every line as the quiet one, or is borderline beside it.

Run it alone on a quiet host: the load it starts must be the only one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import busy_load  # noqa: E402  (scripts/busy_load.py, beside this script)

from gilbench import kernels, noise, verdicts  # noqa: E402
from gilbench.measure import CellRunner, CellSpec, calibrate  # noqa: E402

#: (variant, executor, workers) of primes measured at each load: GIL-free threads and process
#: pools, the cells whose "parallel" a busy core takes away
CELLS = (("cython-nogil", "threads", 2), ("cython-nogil", "process-pool", 2),
         ("python", "process-pool", 2))


def measure(duty: float, rounds: int, sizes: dict[str, int]) -> dict:
    """Per-round speedups of CELLS and the other processes' cores, beside a load of ``duty``."""
    kernel = kernels.get("primes")
    load = busy_load.start(duty, 0.005, 3600) if duty > 0 else None
    out: dict = {"duty": duty, "other_cores": [], "speedups": {}}
    try:
        time.sleep(0.5)  # let the load settle
        with kernel.session():
            for variant in sorted({v for v, _, _ in CELLS}):
                specs = [CellSpec("primes", variant, "serial", 1, sizes[variant], 8)] + [
                    CellSpec("primes", v, e, w, sizes[variant], 8) for v, e, w in CELLS
                    if v == variant]
                runners = [CellRunner(s, kernel, timeout_s=60) for s in specs]
                try:
                    for r in runners:
                        r.run_once(cold=True)
                    for n in range(rounds):
                        before = noise.snapshot()
                        for r in runners:
                            r.run_once(cold=False, round_no=n)
                        seen = noise.disturbance(before, noise.snapshot())
                        if seen is not None and variant == "cython-nogil":
                            out["other_cores"].append(seen.other_cores)
                    serial = runners[0].raw.wall_s
                    for r in runners[1:]:
                        label = f"{variant}/{r.spec.executor}@{r.spec.workers}"
                        out["speedups"][label] = [s / w for s, w in zip(serial, r.raw.wall_s)]
                finally:
                    for r in runners:
                        r.close()
    finally:
        if load is not None:
            busy_load.stop(load)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duties", default="0,0.05,0.1,0.2,0.3,0.5",
                        help="background loads to measure, in cores (default 0,0.05,0.1,0.2,0.3,0.5)")
    parser.add_argument("--rounds", type=int, default=15, help="paired rounds per load")
    parser.add_argument("--target", type=float, default=0.1,
                        help="serial seconds per run (calibrated once, quiet)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures here")
    args = parser.parse_args(argv)
    duties = [float(d) for d in args.duties.split(",")]
    kernel = kernels.get("primes")
    with kernel.session():
        sizes = {v: calibrate(kernel, v, args.target, 8)[0] for v in {v for v, _, _ in CELLS}}
    runs = [measure(d, args.rounds, sizes) for d in duties]
    quiet = {k: statistics.median(v) for k, v in runs[0]["speedups"].items()}
    margin = verdicts.BORDERLINE_MARGIN - 1
    print(f"primes at sizes {sizes}; {args.rounds} paired rounds per load; a round counts when "
          f"other processes use at most {verdicts.OTHER_CORES_LIMIT:g} cores")
    print(f"{'load':>6} {'seen':>6}  " + "  ".join(f"{k:>28}" for k in quiet))
    for run in runs:
        seen = statistics.median(run["other_cores"]) if run["other_cores"] else float("nan")
        cols = []
        for k, base in quiet.items():
            med = statistics.median(run["speedups"][k])
            cols.append(f"{med:6.2f}x ({100 * (med / base - 1):+5.1f}%)".rjust(28))
        print(f"{run['duty']:6.2f} {seen:6.2f}  " + "  ".join(cols))
    print(f"a limit is safe when the loss at it stays within the borderline margin "
          f"({100 * margin:.0f}%)")
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": sizes, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
