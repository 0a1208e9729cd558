"""The results file: written, read back equal; old/new schema versions, truncated and hand-edited
files give a ResultsError naming the first problem (where in the document, what was expected);
random damage never raises anything else, and reading never executes anything."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gilbench import bench_convert, kernels, results
from gilbench.measure import CellSpec, Raw
from gilbench.summary import summarize
from gilbench.run.config import RunConfig


def _document() -> dict:
    """A document as `gilbench run` writes it: cells from the real summarize()."""
    kernel = kernels.get("primes")
    config = RunConfig(["primes"], ["python"], ["serial", "threads", "process-pool"], [1, 2],
                       repeats=5, target_time_s=0.05, start_method="spawn", timeout_s=None)
    doc = results.new_document(config.as_dict(), {"hostname": "test", "usable_cores": 2,
                                                  "load_average_start": [0.5, 0.4, 0.3]},
                               ["gilbench", "run"])
    serial = Raw(wall_s=[0.10, 0.11, 0.10], cpu_s=[0.10, 0.11, 0.10], cold_wall_s=0.12,
                 result=2262)
    doc["cells"].append(summarize(CellSpec("primes", "python", "serial", 1, 20000, 8), serial,
                                  serial, kernel, None))
    threads = Raw(wall_s=[0.12, 0.13, 0.12], cpu_s=[0.12, 0.12, 0.13], cold_wall_s=0.13,
                  result=2262)
    doc["cells"].append(summarize(CellSpec("primes", "python", "threads", 2, 20000, 8), threads,
                                  serial, kernel, 2262))
    died = Raw(error="BrokenProcessPool: worker pid 7 was killed by SIGSEGV (exit code -11)")
    doc["cells"].append(summarize(CellSpec("primes", "python", "process-pool", 2, 20000, 8,
                                           "spawn"), died, serial, kernel, 2262))
    hung = Raw(error="timed out: the run did not finish within 60 s", timed_out=True)
    doc["cells"].append(summarize(CellSpec("primes", "python", "process-pool", 1, 20000, 8,
                                           "spawn"), hung, serial, kernel, 2262))
    return doc


DOC = _document()


def _text(doc: dict) -> str:
    return json.dumps(doc, indent=1)


def test_round_trip(tmp_path):
    path = results.write(DOC, tmp_path / "sub" / "r.json")
    assert results.read(path) == DOC
    assert results.loads(path.read_text()) == DOC


def test_streaming_writer_keeps_a_valid_file_after_every_cell(tmp_path):
    path = tmp_path / "r.json"
    writer = results.ResultsWriter(path, {**copy.deepcopy(DOC), "cells": []})
    assert results.read(path)["cells"] == []
    for i, cell in enumerate(DOC["cells"]):
        writer.add_cell(cell)
        assert results.read(path)["cells"] == DOC["cells"][:i + 1]
    assert results.read(path)["finished"] is None
    writer.finish(load_average_end=[0.1, 0.1, 0.1])
    assert results.read(path)["finished"] is not None
    assert not [p for p in tmp_path.iterdir() if p.name != "r.json"]  # no temporary files left


def test_non_finite_numbers_are_written_as_null(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["cells"][0]["cpu_utilization"] = math.nan
    doc["cells"][0]["throughput"] = math.inf
    back = results.read(results.write(doc, tmp_path / "r.json"))
    assert back["cells"][0]["cpu_utilization"] is None and back["cells"][0]["throughput"] is None


@pytest.mark.parametrize("version,message", [
    (2, "schema version 2 is newer than this gilbench understands (1); upgrade gilbench"),
    (0, "schema version 0 is older than this gilbench reads (1); re-run `gilbench run`"),
    ("1", "'schema_version' must be an integer, got '1'"),
    (True, "'schema_version' must be an integer, got True"),
])
def test_schema_version_check(version, message):
    with pytest.raises(results.ResultsError) as info:
        results.validate({**DOC, "schema_version": version}, "r.json")
    assert str(info.value).startswith(f"r.json: {message}")


def test_not_a_results_file():
    with pytest.raises(results.ResultsError, match="not a gilbench results file \\(field 'schema'"
                                                   " is 'pyperf', expected 'gilbench-results'"):
        results.validate({**DOC, "schema": "pyperf"})
    with pytest.raises(results.ResultsError, match="expected a JSON object at the top, got array"):
        results.loads("[1, 2]")


def test_truncated_file_says_so(tmp_path):
    text = _text(DOC)
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
        path = tmp_path / "r.json"
        path.write_text(text[:cut])
        with pytest.raises(results.ResultsError) as info:
            results.read(path)
        assert str(info.value).startswith(f"{path}: not valid JSON at line ")
        assert str(info.value).endswith("(the file ends early: truncated?)")
        assert " at (" not in str(info.value)  # no phrase cut before its place
    path.write_text('{"schema": "gilbench/1", "cells": [{"kernel": "pri')
    with pytest.raises(results.ResultsError) as info:
        results.read(path)
    assert str(info.value).endswith("not valid JSON at line 1, column 47: Unterminated string "
                                    "starting there (the file ends early: truncated?)")


def _edited(edit) -> dict:
    doc = copy.deepcopy(DOC)
    edit(doc)
    return doc


@pytest.mark.parametrize("edit,message", [
    (lambda d: d["cells"][1].update(workers="2"),
     "cells[1].workers: expected integer, got string '2'"),
    (lambda d: d["cells"][1].update(workers=True),
     "cells[1].workers: expected integer, got true/false True"),
    (lambda d: d["cells"][1].update(workers=0), "cells[1].workers: must be at least 1, got 0"),
    (lambda d: d["cells"][0]["wall_s"].__setitem__(2, -0.5),
     "cells[0].wall_s[2]: must be positive, got -0.5"),
    (lambda d: d["cells"][0]["wall_s"].__setitem__(0, 0.0),
     "cells[0].wall_s[0]: must be positive, got 0.0"),
    (lambda d: d["cells"][1].update(median_s=0), "cells[1].median_s: must be positive, got 0"),
    (lambda d: d["cells"][1].update(median_s=1e300),
     "cells[1].speedup: [LOW, HIGH] cannot come from its own times (serial_median_s / "
     "median_s = IMPLIED)"),
    (lambda d: d["cells"][1]["speedup"].update(median=1e300),
     "cells[1].speedup: median 1e+300 is outside its interval [LOW, HIGH]"),
    (lambda d: d["cells"][1]["speedup"].update(low=-1.0),
     "cells[1].speedup.low: must be positive, got -1.0"),
    (lambda d: d["cells"][1].update(startup_s=-4.14e3),
     "cells[1].startup_s: -4140.0 s would make the cold run take no time"),
    (lambda d: d["cells"][1].update(cpu_utilization=-0.5),
     "cells[1].cpu_utilization: must be at least 0, got -0.5"),
    (lambda d: d["cells"].append(dict(d["cells"][1])),
     "cells[LAST]: the same cell as cells[1]"),
    (lambda d: d["cells"][0]["cpu_s"].__setitem__(1, "fast"),
     "cells[0].cpu_s[1]: expected number, got string 'fast'"),
    (lambda d: d["cells"][2].pop("speedup"), "cells[2]: missing field 'speedup'"),
    (lambda d: d["cells"][1]["speedup"].pop("low"), "cells[1].speedup: missing field 'low'"),
    (lambda d: d["cells"][1]["speedup"].update(high=[1]),
     "cells[1].speedup.high: expected number or null, got array [...] of 1 items"),
    (lambda d: d["cells"][3].update(family="gpu"),
     "cells[3].family: expected one of serial, threads, asyncio, processes, interpreters, "
     "got 'gpu'"),
    (lambda d: d["cells"][3].update(timed_out="yes"),
     "cells[3].timed_out: expected true/false, got string 'yes'"),
    (lambda d: d["cells"].__setitem__(1, [1, 2]), "cells[1]: expected object, got array [...] of 2 items"),
    (lambda d: d.pop("host"), "missing field 'host'"),
    (lambda d: d.update(cells={}), "field 'cells': expected array, got object {...} of 0 items"),
    (lambda d: d.update(finished=5), "field 'finished': expected string or null, got integer 5"),
])
def test_hand_edited_file_names_the_first_problem(edit, message, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(_text(_edited(edit)))
    with pytest.raises(results.ResultsError) as info:
        results.read(path)
    if "LOW" in message or "LAST" in message or message.endswith("no time"):
        # numbers that depend on the base file: the path and the check are what matter
        cell = _edited(edit)["cells"][1]
        implied = cell["serial_median_s"] / cell["median_s"]
        message = (message.replace("LOW", f"{cell['speedup']['low']:.3g}" if "own times" in message
                                   else repr(cell["speedup"]["low"]))
                   .replace("HIGH", f"{cell['speedup']['high']:.3g}" if "own times" in message
                            else repr(cell["speedup"]["high"]))
                   .replace("IMPLIED", f"{implied:.3g}")
                   .replace("LAST", str(len(_edited(edit)["cells"]) - 1)))
        assert str(info.value).startswith(f"{path}: {message}"), str(info.value)
        return
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize("content,message", [
    (b"", "the file is empty"),
    (b"\xff\xfe{}", "not a results file: byte 0 is not UTF-8 text"),
    (b'{"schema": NaN}', "not valid JSON: NaN is not a JSON value"),
    (b'{"schema": 1e999}', "'schema' is inf"),  # valid JSON, parsed as inf: refused as schema
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON: Exceeds the limit"),
])
def test_damaged_bytes(content, message, tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(results.ResultsError) as info:
        results.read(path)
    assert message in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(results.ResultsError, match="no such file"):
        results.read(tmp_path / "nope.json")
    with pytest.raises(results.ResultsError, match="is a directory"):
        results.read(tmp_path)


def test_reading_never_executes_anything(tmp_path):
    marker = tmp_path / "executed"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    for text in (code, f'{{"schema": "{results.SCHEMA}", "schema_version": 1, "x": {code}}}',
                 "cos\nsystem\n(S'touch " + str(marker) + "'\ntR."):  # a pickle, too
        path = tmp_path / "r.json"
        path.write_text(text)
        with pytest.raises(results.ResultsError):
            results.read(path)
    assert not marker.exists()


# ---------------------------------------------------------------------------- property tests

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=6)


def _paths(value, prefix=()):
    """Every path (tuple of keys/indexes) inside a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(DOC))


@st.composite
def damaged_documents(draw):
    doc = copy.deepcopy(DOC)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed it
        if not path:
            doc = draw(json_values)
            continue
        key = path[-1]
        if not isinstance(parent, (dict, list)) or (
                isinstance(parent, list) and not isinstance(key, int)):
            continue
        if isinstance(parent, list) and key >= len(parent):
            continue
        if isinstance(parent, dict) and key not in parent:
            continue
        action = draw(st.sampled_from(["delete", "replace", "replace"]))
        if action == "delete":
            del parent[key]
        else:
            parent[key] = draw(json_values)
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_documents())
def test_damaged_documents_are_valid_or_a_results_error(doc):
    try:
        back = results.loads(json.dumps(doc))
    except results.ResultsError as exc:
        assert str(exc).startswith("results: ") and "\n" not in str(exc)
    else:
        assert back == doc


@st.composite
def damaged_texts(draw):
    text = _text(DOC)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["truncate", "insert", "delete", "replace"]))
        at = draw(st.integers(0, len(text)))
        if action == "truncate":
            text = text[:at]
        elif action == "insert":
            text = text[:at] + draw(st.text(min_size=1, max_size=4)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        else:
            text = text[:at] + draw(st.sampled_from(list('{}[]",:0-.eEtfn\\ '))) + text[at + 1:]
    return text


@settings(max_examples=400, deadline=None)
@given(damaged_texts())
def test_damaged_text_is_valid_or_a_results_error(text):
    try:
        results.loads(text)
    except results.ResultsError as exc:
        assert str(exc).startswith("results: ")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_a_results_error(data):
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gilbench-fuzz-{os.getpid()}.json"
    try:
        path.write_bytes(data)
        with pytest.raises(results.ResultsError):
            results.read(path)
    finally:
        path.unlink(missing_ok=True)


def _as_pytest_benchmark(doc: dict) -> dict:
    """``doc`` as `pytest bench/ --benchmark-json` writes it: cells in extra_info, a header."""
    return {"machine_info": {}, "datetime": "2026-12-05T18:00:00", "version": "5.1.0",
            "benchmarks": [{"extra_info": cell} for cell in doc["cells"]],
            "gilbench": {k: v for k, v in doc.items() if k != "cells"}}


def test_a_pytest_benchmark_file_converts_without_loading_the_engine(tmp_path):
    """The report reads bench/'s JSON from what it carries: converting it loads neither the
    kernels nor the executors (a fresh interpreter, so nothing is loaded beforehand), and a
    cell of a kernel its header does not describe is named."""

    doc = results.read(Path(__file__).parent / "data" / "real-primes-sleep.json")
    # what `pytest bench/` writes in its header (this older file has no kernels section)
    doc["kernels"] = results.kernel_section(map(kernels.get, {c["kernel"] for c in doc["cells"]}))
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(_as_pytest_benchmark(doc)))
    probe = ("import sys; from gilbench.report import load_any; "
             f"d = load_any({str(path)!r}); "
             "print(len(d['cells']), sorted(m for m in sys.modules if m.startswith("
             "('gilbench.kernels', 'gilbench.executors', 'gilbench.measure', 'gilbench.run'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split(" ", 1)
    assert out == [str(len(doc["cells"])), "[]\n"]

    stray = _as_pytest_benchmark(doc)
    stray["benchmarks"][0]["extra_info"] = dict(stray["benchmarks"][0]["extra_info"],
                                                kernel="nbody")
    with pytest.raises(results.ResultsError, match="'nbody', which its 'gilbench' header"):
        bench_convert.to_results(stray)
