"""Gates for CI: ``gilbench compare A B --fail-on STATUS,...`` exits 1 naming the significant
cells with those statuses (0 otherwise, and without the option as before), and ``gilbench run
--check-claims ID,...`` exits 1 when a named claim comes out refuted. Unknown names are usage
errors (exit 2) that list the valid ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gilbench import commands as cli
from gilbench import stats
from gilbench.commands import run
from gilbench.commands._terminal import make_console
from gilbench.report import claims_of, compare, load_any
from gilbench.report.claims import CLAIM_IDS
from gilbench.report.compare_rule import parse_statuses

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import TINY, gilbench, gilbench_streams  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
#: the kernel variant made to hold the GIL in b
HELD = ("primes", "cython-nogil")
#: what a variant that holds the GIL reaches with threads (cython-gil's speedup in the file)
HELD_SPEEDUP = 0.96
#: paired rounds per cell: enough for the held cells' intervals to be decided (with 12, one
#: slow round in ten left one of them straddling a boundary: the claim then inconclusive)
ROUNDS = 20


def held_gil(doc: dict) -> dict:
    """``cell_factor`` for ``paired_run`` that makes HELD's thread cells hold the GIL: their
    times grow until their speedup is HELD_SPEEDUP, as a dropped ``nogil`` would do."""
    return {(c["kernel"], c["variant"], c["executor"], c["workers"]):
            c["speedup"]["median"] / HELD_SPEEDUP
            for c in doc["cells"] if (c["kernel"], c["variant"]) == HELD
            and c["family"] == "threads"}


def gate(argv: list[str], capsys, tmp_path) -> tuple[int, str, str]:
    try:
        status = cli.main(["compare", *argv, "-o", str(tmp_path / "cmp")])
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, " ".join(out.split()), err  # rich wraps at the terminal width


def with_own_speedups(doc: dict, group: tuple[str, str]) -> dict:
    """``group``'s cells with the speedup their paired rounds give (the file is checked
    against its own times when it is read)."""
    serial = next(c for c in doc["cells"] if (c["kernel"], c["variant"]) == group
                  and c["executor"] == "serial")
    for c in doc["cells"]:
        if (c["kernel"], c["variant"]) == group and c is not serial:
            c["speedup"] = stats.paired_ratio(serial["wall_s"], c["wall_s"])
            c["serial_median_s"] = serial["median_s"]
    return doc


@pytest.fixture
def files(tmp_path, paired_run) -> tuple[Path, Path]:
    base = paired_run(1, rounds=ROUNDS)
    held = with_own_speedups(paired_run(2, cell_factor=held_gil(base), rounds=ROUNDS), HELD)
    a, b = tmp_path / "baseline.json", tmp_path / "held.json"
    a.write_text(json.dumps(base))
    b.write_text(json.dumps(held))
    return a, b


def test_a_file_compared_with_itself_passes_the_gate(files, capsys, tmp_path):
    a, _ = files
    status, out, _ = gate([str(a), str(a), "--fail-on", "slower,scales-worse"], capsys,
                          tmp_path)
    assert status == 0, out
    assert "--fail-on slower,scales-worse: no significant cell is slower or scales worse" in out


def test_a_kernel_made_to_hold_the_gil_fails_the_gate_naming_its_cells(files, capsys,
                                                                       tmp_path):
    a, b = files
    status, out, err = gate([str(a), str(b), "--fail-on", "slower,scales-worse"], capsys,
                          tmp_path)
    assert status == 1, (out, err)
    comp = compare(json.loads(a.read_text()), json.loads(b.read_text()))
    failing = comp.with_status(("slower", "scales worse"))
    # the held variant's thread cells at 2 and 4 workers (at 1 worker there was nothing to
    # lose), and nothing else
    assert {r.key for r in failing} == {HELD + (e, w) for e in ("threads", "thread-pool")
                                        for w in (2, 4)}
    assert f"--fail-on slower,scales-worse: {len(failing)} significant cells of " in out
    for r in failing:
        assert f"primes cython-nogil {r.key[2]} W={r.key[3]}: scales " in out
        assert r.status == "scales worse" and r.basis == "speedup"
    # without --fail-on the exit status is what it was: 0 for a comparison made
    assert gate([str(a), str(b)], capsys, tmp_path)[0] == 0
    # a gate on other statuses does not fire
    assert gate([str(a), str(b), "--fail-on", "faster"], capsys, tmp_path)[0] == 0


def test_unknown_statuses_are_usage_errors_listing_the_valid_ones(files, capsys, tmp_path):
    a, b = files
    status, _, err = gate([str(a), str(b), "--fail-on", "slower,worse"], capsys, tmp_path)
    assert status == 2
    assert "unknown status 'worse'; valid: faster, slower, scales-better, scales-worse" in err
    assert parse_statuses("Scales-Worse, slower,scales worse") == ("scales worse", "slower")
    with pytest.raises(ValueError, match="name at least one status"):
        parse_statuses(" , ")


# ------------------------------------------------------------------------ run --check-claims

def test_a_refuted_named_claim_fails_the_run_gate(files, capsys):
    _, held = files
    doc = load_any(held)
    verdicts = {c["id"]: c["verdict"] for c in claims_of(doc)}
    # cython-nogil × threads no longer reaches the cores; the other claims stand
    assert verdicts["nogil-c-code-parallel"] == "refuted"
    assert verdicts["pure-python-threads-not-parallel"] == "confirmed"
    console = make_console(stderr=False)
    assert run.check_claims(doc, ["nogil-c-code-parallel", "pure-python-threads-not-parallel"],
                            console) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "claim nogil-c-code-parallel: refuted" in out
    assert "claim pure-python-threads-not-parallel: confirmed" in out
    assert "--check-claims: 1 of 2 claims refuted: nogil-c-code-parallel" in out
    assert run.check_claims(doc, ["pure-python-threads-not-parallel"], console) == 0
    # the baseline, where cython-nogil did release the GIL, passes the same gate
    base = load_any(files[0])
    assert run.check_claims(base, ["nogil-c-code-parallel"], console) == 0


@pytest.mark.slow
def test_run_checks_the_named_claims_after_a_tiny_run(tmp_path, capsys):
    out = tmp_path / "r.json"
    status, printed, err = gilbench_streams(["run", *TINY, "--out", str(out), "--check-claims",
                                             "gil-released-on-sleep-io"], capsys)
    verdict = {c["id"]: c["verdict"] for c in claims_of(load_any(out))}["gil-released-on-sleep-io"]
    # the gate follows the verdict the results give, whatever this host measured; a result,
    # so on stdout
    assert status == (1 if verdict == "refuted" else 0), err
    assert f"claim gil-released-on-sleep-io: {verdict}" in " ".join(printed.split())


def test_unknown_claim_ids_are_refused_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "r.json"
    status, err = gilbench(["run", *TINY, "--out", str(out), "--check-claims",
                            "nogil-c-code-parallel,threads-are-fast"], capsys)
    assert status == 2 and not out.exists()
    assert ("--check-claims: unknown claim 'threads-are-fast'; valid claims: "
            + ", ".join(CLAIM_IDS)) in " ".join(err.split())
    status, err = gilbench(["run", *TINY, "--out", str(out), "--check-claims", ","], capsys)
    assert status == 2 and "--check-claims needs at least one claim id" in err


# ------------------------------------------------------------- the documented commands parse

ROOT = Path(__file__).resolve().parent.parent


def workflow_commands(text: str) -> list[str]:
    """The shell commands of a GitHub Actions workflow's ``run:`` steps (``>`` blocks folded
    into one line, ``|`` blocks one command a line)."""
    commands, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        head, _, value = lines[i].partition("run:")
        i += 1
        if not _ or head.strip() not in ("", "-"):
            continue
        value = value.strip()
        if value not in (">", "|"):
            commands.append(value)
            continue
        indent = len(head) + 2
        block = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip())
                                  >= indent):
            block.append(lines[i].strip())
            i += 1
        commands += [" ".join(block)] if value == ">" else block
    return [c for c in commands if c]


@pytest.mark.skipif(not (ROOT / "examples" / "ci").is_dir(), reason="needs the source tree")
def test_the_ci_recipe_and_the_readme_use_options_that_exist():
    import shlex

    recipe = (ROOT / "examples" / "ci" / "gilbench.yml").read_text(encoding="utf-8")
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Using gilbench in CI")[1]
    documented = [c for c in workflow_commands(recipe) if c.startswith("gilbench ")]
    documented += [line.split("#")[0].strip() for line in section.split("## Reproducibility")[0]
                   .splitlines() if line.startswith("gilbench ")]
    assert {c.split()[1] for c in documented} >= {"try", "compare", "report", "run"}, documented
    parser = cli.build_parser()
    for command in documented:
        args = parser.parse_args(shlex.split(command)[1:])  # argparse exits on a stale option
        assert args.command in command
    assert "--fail-on slower,scales-worse" in " ".join(documented)
