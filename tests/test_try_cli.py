"""`gilbench try`: one-line errors with exit status 2 and nothing written; a run whose
document `gilbench report` renders."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if str(Path(__file__).resolve().parent) not in sys.path:  # cli_helpers, beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_helpers import gilbench as in_process  # noqa: E402
from cli_helpers import gilbench_in  # noqa: E402

USER_CODE = (Path(__file__).parent / "user_functions.py").read_text()


def gilbench(cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return gilbench_in(cwd, *args, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "mywork.py").write_text(textwrap.dedent(USER_CODE))
    return tmp_path


@pytest.mark.parametrize("function, tasks, message", [
    ("nowhere_xyz:double", "mywork:tasks", "module 'nowhere_xyz' not found"),
    ("mywork:nope", "mywork:tasks", "has no attribute 'nope'"),
    ("mywork:NOT_CALLABLE", "mywork:tasks", "not callable"),
    ("mywork:double", "mywork:empty", "is empty"),
    ("mywork:double", "mywork:number", "must be a list of argument tuples"),
    ("mywork:double", "mywork:nope", "has no attribute 'nope'"),
    ("double", "mywork:tasks", "takes MODULE:FUNCTION"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(workdir: Path, function: str, tasks: str,
                                                      message: str) -> None:
    r = gilbench(workdir, "try", function, "--tasks", tasks, "--out", "out.json",
                 "--report", "rep")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gilbench try: error: "), r.stderr
    assert message in lines[0]
    assert not (workdir / "out.json").exists() and not (workdir / "rep").exists()


def test_unknown_executor_lists_valid_ones(workdir: Path) -> None:
    r = gilbench(workdir, "try", "mywork:double", "--tasks", "mywork:tasks",
                 "--executors", "serial,nope")
    assert r.returncode == 2 and "valid executors: serial" in r.stderr


@pytest.mark.slow
@pytest.mark.quiet  # it reads measured figures (speedups, start-up): beside other tests the
def test_try_prints_advice_and_its_report_renders(workdir: Path) -> None:  # host is busy
    r = gilbench(workdir, "try", "mywork:double", "--tasks", "mywork:tasks", "--executors",
                 "serial,thread-pool,process-pool", "--workers", "2", "--max-repeats",
                 "5",
                 "--out", "out.json", "--report", "rep")
    assert r.returncode == 0, r.stderr
    assert "Rule:" in r.stdout and "mywork:double" in r.stdout
    # results on stdout (the advice, the files written), progress on stderr
    assert "results: out.json" in r.stdout and "report: " in r.stdout
    assert "results:" not in r.stderr and "gilbench try" in r.stderr
    doc = json.loads((workdir / "out.json").read_text())
    assert doc["command"][:2] == ["gilbench", "try"]
    assert doc["workload"]["recommendation"]["text"] in r.stdout.replace("\n", " ") or \
        doc["workload"]["recommendation"]["text"].split(":")[0] in r.stdout
    for name in ("report.md", "report.html"):
        assert "mywork:double" in (workdir / "rep" / name).read_text()
    _check_workload_section(doc, (workdir / "rep" / "report.md").read_text(),
                            (workdir / "rep" / "report.html").read_text())
    again = gilbench(workdir, "report", "out.json", "-o", "rep2")
    assert again.returncode == 0, again.stderr
    assert "mywork:double" in (workdir / "rep2" / "report.md").read_text()
    assert list((workdir / "rep2").glob("*.png"))


@pytest.mark.slow
def test_failing_function_exits_1_with_its_traceback_printed_literally(workdir: Path) -> None:
    (workdir / "results.json").write_text("{}")  # a `gilbench run` file: never replaced
    r = gilbench(workdir, "try", "mywork:boom", "--tasks", "mywork:tasks", "--executors",
                 "serial,thread-pool", "--workers", "2", "--max-repeats", "5")
    assert r.returncode == 1, r.stderr
    assert "Traceback (most recent call last)" in r.stderr
    assert "ValueError: no :boom: [bold]here[/bold] for" in r.stderr
    assert "mywork:boom failed in the serial check run on task 0" in r.stderr
    assert "\N{COLLISION SYMBOL}" not in r.stdout + r.stderr
    assert (workdir / "results.json").read_text() == "{}"
    doc = json.loads((workdir / "try-mywork.boom.json").read_text())
    assert doc["workload"]["recommendation"]["code"] == "failed"


def _check_workload_section(doc: dict, md: str, html: str) -> None:
    """The report of a try run opens with the workload: advice and rule, GIL check, costs."""
    from gilbench.report.format import fmt_time

    section = doc["workload"]
    # only what concerns the function: not the article's claims about the kernels
    assert "What the article says" not in md and "](#claims)" not in md
    assert "not measured" not in md.lower()
    start = md.index("## Your function: mywork:double")
    assert start < md.index("## Verdicts")  # near the top, before the cells' verdicts
    part = md[start:md.index("## Verdicts")]
    rec = section["recommendation"]
    assert rec["text"] in part and rec["rule"] in part
    assert f"**{rec['code']}**" in part
    gil = section["gil"]
    assert f"**{gil['verdict']}**" in part
    if gil["fraction"] is not None:
        assert f"**{100 * gil['fraction']:.0f}%**" in part
        assert f"{100 * gil['low']:.0f}%–{100 * gil['high']:.0f}%" in part
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in part.splitlines() if line.startswith("| ")}
    for name in ("thread-pool", "process-pool"):
        cost = section["executors"][name]
        row = rows[name]
        assert row[1] == str(cost["workers"])
        assert row[2] == fmt_time(cost["per_task_s"] - cost.get("pickle_s", 0.0))
        assert row[4] == fmt_time(cost["per_task_s"])
        assert row[5] == fmt_time(cost["break_even_task_s"])
    assert rows["thread-pool"][3] == "—"  # threads pickle nothing
    assert "in +" in rows["process-pool"][3] and "out," in rows["process-pool"][3]
    for text in ("Your function: mywork:double", "Does it release the GIL?",
                 "Cost per task and break-even task duration"):
        assert text in html


# -- the run options `try` shares with `run` (run.options.add_run_options) ---------------------

@pytest.mark.parametrize("argv", [
    ["--repeats", "2"],
    ["--repeats", "0"],
    ["--repeats", "8", "--max-repeats", "6"],
    ["--start-method", "nope"],
    ["--executors", "bogus"],
    ["--executors", "serial,dask"],  # dask without a scheduler
    ["--executors", ","],
    ["--workers", "0"],
    ["--workers", "1000"],
    ["--timeout", "0"],
    ["--max-wait", "-1"],
])
def test_try_and_run_reject_the_same_bad_values_alike(argv, tmp_path, monkeypatch,
                                                      capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GILBENCH_DASK_SCHEDULER", raising=False)
    lines = {}
    for command in (["run"], ["try", "mywork:double", "--tasks", "mywork:tasks"]):
        status, err = in_process([*command, *argv], capsys)
        assert status == 2, err
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1, err
        lines[command[0]] = errors[0].split("error: ", 1)[1]
    assert lines["try"] == lines["run"]
    assert not list(tmp_path.iterdir())  # nothing written
    if "--executors" in argv and "dask" not in argv[1]:
        assert "valid executors: serial, threads" in lines["try"]
    if "--start-method" in argv:
        assert "choose from" in lines["try"] and "fork" in lines["try"]


def test_try_on_a_host_kept_busy_says_so_and_advises_nothing(workdir, monkeypatch,
                                                            capsys) -> None:
    """Every round disturbed (other processes on both cores, as beside a parallel test run):
    no cell has a quiet round, the serial baseline included; the table says so, the advice is
    undecided and says what to do, and --max-wait is the run's waiting budget."""
    from gilbench import noise

    from cli_helpers import gilbench_streams

    busy = noise.Disturbance(1.9, 0.0, 0, True, "other processes use 1.90 cores")
    monkeypatch.setattr(noise, "disturbance", lambda *a, **k: busy)
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("COLUMNS", "200")
    status, out, err = gilbench_streams(
        ["try", "mywork:double", "--tasks", "mywork:tasks", "--executors", "serial,thread-pool",
         "--workers", "2", "--max-repeats", "5", "--max-wait", "0", "--out", "out.json"],
        capsys)
    assert status == 0, err
    rows = [line for line in out.splitlines() if "serial" in line or "thread-pool" in line]
    assert len(rows) >= 2 and all("undecided — host busy" in r for r in rows[:2]), out
    doc = json.loads((workdir / "out.json").read_text())
    assert doc["config"]["max_wait_s"] == 0
    rec = doc["workload"]["recommendation"]
    assert rec["code"] == "undecided" and "host stayed busy" in rec["text"]
    assert "failed" not in {c["verdict"]["code"] for c in doc["cells"]}


def test_try_takes_run_options_from_their_one_declaration() -> None:
    import argparse

    from gilbench.commands import run, try_
    from gilbench.run import options

    def declared(add) -> dict[str, argparse.Action]:
        parser = argparse.ArgumentParser()
        add(parser)
        return {a.dest: a for a in parser._actions}

    tried = declared(try_.add_arguments)
    ran = declared(run.add_arguments)
    assert set(try_.TRY_OPTIONS) <= set(options.RUN_OPTIONS)
    for name in try_.TRY_OPTIONS:  # same flag, type, choices, action; help may differ
        a, b = tried[name], ran[name]
        assert (a.option_strings, a.type, a.choices, a.nargs, a.metavar) == \
               (b.option_strings, b.type, b.choices, b.nargs, b.metavar), name
    # `--executors all` means the same in both, and both say so
    assert "dask only with --dask-scheduler" in tried["executors"].help
    assert "dask only with --dask-scheduler" in ran["executors"].help


def test_each_run_option_names_the_field_resume_checks() -> None:
    """One declaration says, per option, which RunConfig field it sets (what --resume checks
    against the file); only the limits are left free."""
    import dataclasses

    from gilbench.run import options
    from gilbench.run.config import RunConfig

    fields = {f.name for f in dataclasses.fields(RunConfig)}
    assert set(options.RESUME_CHECKED.values()) <= fields
    assert set(options.RUN_OPTIONS) - set(options.RESUME_CHECKED) == {"max_wait", "timeout"}
    # the executors' own options are declared with the rest, each a RunConfig field
    assert options.RESUME_CHECKED["dask_scheduler"] == "dask_scheduler"
