"""Benchmark (not a test): time `gilbench report` on synthetic results files of 1k, 10k and 100k
cells, to see that the report's time grows linearly with the cells.

The files are made from tests/data/synthetic-gil.json by copying its kernels under new names
(``primes~17``), each copy with every cell of the original: the cells stay valid and distinct,
and the report has as many kernels to write about as a long run would.

    python scripts/report-scaling.py [--sizes 1000,10000,100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "tests" / "data" / "synthetic-gil.json"


def synthetic(n_cells: int, shape: str = "workers") -> dict:
    """A results document of about ``n_cells`` cells made of copies of the base file's cells.

    ``workers``: each copy adds the non-serial cells again at new worker counts (a run over
    many worker counts on a big host: the same kernels, longer curves). ``kernels``: each copy
    is a whole new set of kernels (``primes~17``), so the report also draws one more plot per
    kernel and copy.
    """
    base = json.loads(BASE.read_text())
    doc = copy.deepcopy(base)
    if shape == "kernels":
        doc["cells"], doc["kernels"] = [], {}
        copies = max(1, round(n_cells / len(base["cells"])))
        for i in range(copies):
            for name, section in base.get("kernels", {}).items():
                doc["kernels"][f"{name}~{i}"] = section
            for cell in base["cells"]:
                doc["cells"].append({**cell, "kernel": f"{cell['kernel']}~{i}"})
        doc["config"]["kernels"] = list(doc["kernels"])
        return doc
    parallel = [c for c in base["cells"] if c["executor"] != "serial"]
    top = max(c["workers"] for c in base["cells"])
    i = 0
    while len(doc["cells"]) < n_cells:
        i += 1
        doc["cells"].extend({**c, "workers": c["workers"] + i * top} for c in parallel)
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--shape", choices=("workers", "kernels"), default="workers",
                        help="grow the worker counts (default) or the kernels (one more plot "
                             "per kernel)")
    parser.add_argument("--keep", metavar="DIR", help="keep the files and reports in DIR")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gilbench-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'cells':>8} {'seconds':>9} {'µs/cell':>9}")
    for n in (int(x) for x in args.sizes.split(",")):
        doc = synthetic(n, args.shape)
        path = work / f"synthetic-{args.shape}-{n}.json"
        path.write_text(json.dumps(doc))
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "gilbench", "report", str(path), "-o",
                               str(work / f"report-{args.shape}-{n}")], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            print(f"{len(doc['cells']):>8} failed (exit {proc.returncode}): "
                  f"{proc.stderr.strip().splitlines()[-1:]}")
            continue
        print(f"{len(doc['cells']):>8} {seconds:9.1f} {seconds / len(doc['cells']) * 1e6:9.0f}",
              flush=True)
    print(f"files in {work}" + ("" if args.keep else " (a temporary directory)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
