"""How reproducible are gilbench's answers on this host? Run the same matrix twice and count.

    python scripts/reproducibility.py --quick            # README's command 1, twice
    python scripts/reproducibility.py                    # the default run, twice
    python scripts/reproducibility.py --quick -- --kernels primes,sleep   # extra run options
    python scripts/reproducibility.py --files A.json B.json                # two existing files
    python scripts/reproducibility.py --quick --load-duty 0.4 --load-burst 0.5  # B beside a load
    python scripts/reproducibility.py --quick --load-duty 1                     # one whole core
    python scripts/reproducibility.py --against A.json --load-duty 1   # run b only, like A.json

The second run re-measures the first one's matrix at the first one's sizes (`--like A.json`),
as a user checking a result would. Printed:

- verdict flips: non-serial cells decided in both runs whose verdicts cannot both hold (the
  share of all non-serial cells; a borderline verdict holds with either of its two sides, so
  that pair is counted apart), and cells decided in one run but undecided in the other;
- borderline: the share of non-serial cells each run found on the line between two regions;
- undecided: the share of non-serial cells each run left undecided;
- compare: the share of cells `gilbench compare A B` calls changed (faster, slower, scales
  better or scales worse);
- claims: the claims whose status differs between the two reports;
- the same flips among CPU (and memory) cells alone, the cells each run left undecided on a
  boundary and those it left undecided because the host was busy, whether each run said the
  host was busy (its results' busy record) and the wall times.

With ``--load-duty D`` the second run is measured beside a background load of known shape
(``scripts/busy_load.py``: one process spinning D of the time in bursts of ``--load-burst``
seconds, stopping by itself): what a busy laptop or CI runner does to the answers.

Run it alone on a quiet host (nothing else using the CPUs): it measures the host, not only
gilbench.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import busy_load  # noqa: E402  (scripts/busy_load.py, beside this script)


def _run(args: list[str], check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gilbench", *args], stdout=subprocess.DEVNULL)
    if check and done.returncode not in (0, 1):  # 1: some cells failed, the file is complete
        raise SystemExit(f"gilbench {' '.join(args)} exited with {done.returncode}")
    return time.perf_counter() - started


def _measured(doc: dict) -> dict[tuple, dict]:
    return {(c["kernel"], c["variant"], c["executor"], c["workers"]): c for c in doc["cells"]
            if c["executor"] != "serial"}


def summary(doc_a: dict, doc_b: dict, min_change: float = 0.05) -> dict:
    """The reproducibility figures of two results documents of the same matrix."""
    from gilbench.report import claims_of, compare

    from gilbench.verdicts import DECIDED, Verdict

    a, b = _measured(doc_a), _measured(doc_b)
    keys = sorted(set(a) & set(b), key=str)
    verdict = {name: {k: Verdict.from_dict(cells[k]["verdict"]) if cells[k].get("verdict")
                      else None for k in keys} for name, cells in (("a", a), ("b", b))}
    code = {name: {k: v.code if v else None for k, v in vs.items()}
            for name, vs in verdict.items()}

    def decided(name: str, k) -> bool:
        return code[name][k] in DECIDED

    both = [k for k in keys if decided("a", k) and decided("b", k)]
    # a flip: two verdicts that cannot both hold (a borderline verdict holds with its sides)
    flips = [k for k in both if not verdict["a"][k].compatible(verdict["b"][k])]
    across_line = [k for k in both if code["a"][k] != code["b"][k] and k not in flips]
    half = [k for k in keys if decided("a", k) != decided("b", k)]
    cpu = [k for k in keys if a[k].get("kind", "cpu") in ("cpu", "memory")]
    cpu_flips = [k for k in flips if k in cpu]
    undecided = {n: sum(1 for k in keys if code[n][k] == "undecided") for n in ("a", "b")}
    busy = {n: sum(1 for k in keys if verdict[n][k] is not None and verdict[n][k].host_busy)
            for n in ("a", "b")}
    said_busy = {n: bool(doc["host"].get("busy", {}).get("cells_with_disturbed_rounds")
                         or doc["host"].get("busy", {}).get("waited_s"))
                 for n, doc in (("a", doc_a), ("b", doc_b))}
    by_kernel = {n: dict(Counter(k[0] for k in keys if code[n][k] == "undecided"))
                 for n in ("a", "b")}
    comp = compare(doc_a, doc_b, ("a", "b"), min_change=min_change)
    changed = comp.changed  # every status that means changed
    claims_a = {c["id"]: c["verdict"] for c in claims_of(doc_a)}
    claims_b = {c["id"]: c["verdict"] for c in claims_of(doc_b)}
    claim_flips = sorted(cid for cid in set(claims_a) & set(claims_b)
                         if claims_a[cid] != claims_b[cid])
    return {
        "cells": len(keys),
        "flips": flips,
        "across_line": across_line,
        "borderline": {n: sum(1 for k in keys if code[n][k] == "borderline") for n in ("a", "b")},
        "decided_in_one_only": half,
        "undecided": undecided,
        "undecided_host_busy": busy,
        "cpu_cells": len(cpu),
        "cpu_flips": cpu_flips,
        "said_busy": said_busy,
        "busy": {n: doc["host"].get("busy") for n, doc in (("a", doc_a), ("b", doc_b))},
        "undecided_by_kernel": by_kernel,
        "compare_rows": len(comp.rows),
        "compare_changed": changed,
        "claim_flips": [(cid, claims_a[cid], claims_b[cid]) for cid in claim_flips],
        "codes": code,
    }


def print_summary(s: dict, seconds: tuple[float, float] | None) -> None:
    n = max(s["cells"], 1)
    print(f"non-serial cells in both runs: {s['cells']}")
    print(f"verdict flips (decided in both, cannot both hold): {len(s['flips'])} "
          f"({100 * len(s['flips']) / n:.1f}%)")
    for k in s["flips"]:
        print(f"  {'/'.join(map(str, k))}: {s['codes']['a'][k]} -> {s['codes']['b'][k]}")
    print(f"borderline in one run, one of its two sides in the other (not a flip): "
          f"{len(s['across_line'])}")
    for k in s["across_line"]:
        print(f"  {'/'.join(map(str, k))}: {s['codes']['a'][k]} -> {s['codes']['b'][k]}")
    for name in ("a", "b"):
        print(f"borderline in run {name}: {s['borderline'][name]} "
              f"({100 * s['borderline'][name] / n:.1f}%)")
    print(f"decided in one run, undecided in the other: {len(s['decided_in_one_only'])} "
          f"({100 * len(s['decided_in_one_only']) / n:.1f}%)")
    cpu = max(s["cpu_cells"], 1)
    print(f"verdict flips among CPU/memory cells: {len(s['cpu_flips'])} of {s['cpu_cells']} "
          f"({100 * len(s['cpu_flips']) / cpu:.1f}%)")
    for name in ("a", "b"):
        kernels = ", ".join(f"{k} {v}" for k, v in s["undecided_by_kernel"][name].items())
        busy = s["undecided_host_busy"][name]
        print(f"undecided in run {name}: {s['undecided'][name]} "
              f"({100 * s['undecided'][name] / n:.1f}%): {s['undecided'][name] - busy} on a "
              f"boundary, {busy} host busy" + (f"; by kernel: {kernels}" if kernels else ""))
    for name in ("a", "b"):
        b = s["busy"][name] or {}
        print(f"run {name} said the host was busy: {'yes' if s['said_busy'][name] else 'no'}"
              + (f" (waited {b.get('waited_s', 0):g} s of {b.get('budget_s', 0):g}, disturbed "
                 f"rounds set aside in {b.get('cells_with_disturbed_rounds', 0)} cells, up to "
                 f"{b.get('other_cores_max', 0):g} cores of other work while waiting)"
                 if b else ""))
    rows = max(s["compare_rows"], 1)
    print(f"compare called changed (faster/slower/scales better/worse): "
          f"{s['compare_changed']} of {s['compare_rows']} "
          f"({100 * s['compare_changed'] / rows:.1f}%)")
    print(f"claim flips: {len(s['claim_flips'])}")
    for cid, was, now in s["claim_flips"]:
        print(f"  {cid}: {was} -> {now}")
    if seconds:
        print(f"wall time: run a {seconds[0]:.0f} s, run b {seconds[1]:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the quick run (README command 1)")
    parser.add_argument("--dir", help="where to keep the two results files (default: a temp dir)")
    parser.add_argument("--files", nargs=2, metavar="FILE", help="summarise two existing files")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--min-change", type=float, default=0.05, metavar="F",
                        help="compare's minimum change (default 0.05, as `gilbench compare`)")
    parser.add_argument("--against", metavar="A.json",
                        help="use this existing run as run a (measure only run b, --like it)")
    parser.add_argument("--load-duty", type=float, metavar="D",
                        help="measure the second run beside a background load: one process "
                             "spinning this share of the time, in (0, 1] (1: a whole core)")
    parser.add_argument("--max-wait", metavar="S",
                        help="run b's waiting budget (--max-wait; default: run a's)")
    parser.add_argument("--load-burst", type=float, default=0.5, metavar="S",
                        help="seconds of one burst of the load (default 0.5)")
    parser.add_argument("extra", nargs="*", help="more `gilbench run` options, after --")
    args = parser.parse_args(argv)
    seconds = None
    if args.files:
        path_a, path_b = map(Path, args.files)
    else:
        out = Path(args.dir or tempfile.mkdtemp(prefix="gilbench-repro-"))
        out.mkdir(parents=True, exist_ok=True)
        path_a, path_b = out / "a.json", out / "b.json"
        base = ["run", *(["--quick"] if args.quick else []), *args.extra]
        if args.against:
            path_a = Path(args.against)
            first = json.loads(path_a.read_text())["host"].get("duration_s") or 0.0
        else:
            first = _run([*base, "--out", str(path_a)])
        load = None
        if args.load_duty:
            # it stops by itself well after the run b could take (3x a, plus the wait budget)
            load = busy_load.start(args.load_duty, args.load_burst, 4 * first + 600)
            print(f"run b beside a load: {busy_load.describe(args.load_duty, args.load_burst)}",
                  flush=True)
        try:
            second = _run(["run", "--like", str(path_a), "--out", str(path_b),
                           *(["--max-wait", args.max_wait] if args.max_wait else [])])
        finally:
            if load is not None:
                busy_load.stop(load)
        seconds = (first, second)
        print(f"results: {path_a} {path_b}")
    s = summary(json.loads(path_a.read_text()), json.loads(path_b.read_text()), args.min_change)
    if args.json:
        print(json.dumps({k: v for k, v in s.items() if k != "codes"}, default=str, indent=1))
    else:
        print_summary(s, seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
