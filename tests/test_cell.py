"""The results cell as a record (``gilbench.cell``): a stored cell reads and writes back
unchanged (the same keys, in their order, the same values); ``Cell.from_dict`` names the field
that is wrong; a cell's key is the same ``CellKey`` wherever it is taken."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from gilbench import kernels, results
from gilbench.cell import Cell, CellKey, Speedup
from gilbench.errors import ResultsError
from gilbench.measure import CellSpec, Raw
from gilbench.run.matrix import cell_key
from gilbench.summary import summarize, summarize_cell

DATA = Path(__file__).parent / "data"
#: the recorded results files that hold cells (real-claims-quick.json holds experiments only)
FILES = sorted(p.name for p in DATA.glob("*.json")
               if json.loads(p.read_text()).get("cells"))


def _cells(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["cells"]


def test_there_are_recorded_cells_to_read() -> None:
    assert "real-primes-sleep.json" in FILES and "faulty.json" in FILES


@pytest.mark.parametrize("name", FILES)
def test_every_stored_cell_round_trips_unchanged(name: str) -> None:
    for i, stored in enumerate(_cells(name)):
        back = Cell.read(copy.deepcopy(stored)).as_dict()
        assert back == stored, f"{name} cells[{i}]"
        # byte for byte: the same keys in the same order, nested objects too
        assert json.dumps(back) == json.dumps(stored), f"{name} cells[{i}]"


@pytest.mark.parametrize("name", ["real-primes-sleep.json", "synthetic-gil.json"])
def test_checked_cells_round_trip_and_carry_their_fields(name: str) -> None:
    for i, stored in enumerate(_cells(name)):
        cell = Cell.from_dict(copy.deepcopy(stored), f"cells[{i}]")
        assert json.dumps(cell.as_dict()) == json.dumps(stored)
        assert cell.key == CellKey(stored["kernel"], stored["variant"], stored["executor"],
                                   stored["workers"])
        assert cell.median_s == stored["median_s"]
        if stored["speedup"] is None:
            assert cell.speedup is None
        else:
            assert isinstance(cell.speedup, Speedup)
            assert (cell.speedup.median, cell.speedup.low, cell.speedup.high) == (
                stored["speedup"]["median"], stored["speedup"]["low"], stored["speedup"]["high"])


def test_a_whole_file_writes_back_byte_for_byte(tmp_path: Path) -> None:
    doc = json.loads((DATA / "real-primes-sleep.json").read_text())
    again = copy.deepcopy(doc)
    again["cells"] = [Cell.read(c).as_dict() for c in again["cells"]]
    results.write(doc, tmp_path / "a.json")
    results.write(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_unknown_keys_are_kept_in_their_place() -> None:
    stored = {**_cells("real-primes-sleep.json")[0]}
    items = list(stored.items())
    stored = dict(items[:3] + [("from_a_newer_gilbench", {"x": 1})] + items[3:])
    cell = Cell.read(stored)
    assert cell.extra == {"from_a_newer_gilbench": {"x": 1}}
    assert list(cell.as_dict()) == list(stored)


def test_fields_set_after_reading_come_after_the_stored_ones() -> None:
    stored = _cells("real-primes-sleep.json")[0]
    cell = Cell.read(copy.deepcopy(stored))
    assert "verdict" not in stored
    cell.verdict = {"code": "baseline"}
    out = cell.as_dict()
    assert list(out) == [*stored, "verdict"]
    assert out["verdict"] == {"code": "baseline"}


def test_speedup_keeps_its_stored_order() -> None:
    stored = {"n": 9, "median": 1.9, "high": 2.1, "low": 1.7, "method": "paired"}
    sp = Speedup.from_dict(stored)
    assert (sp.median, sp.low, sp.high) == (1.9, 1.7, 2.1)
    assert list(sp.as_dict().items()) == list(stored.items())
    assert list(Speedup(2.0, 1.5, 2.5).as_dict()) == ["median", "low", "high"]


# -- the schema check names the field ----------------------------------------------------

GOOD = _cells("real-primes-sleep.json")[1]


def _bad(**changes) -> dict:
    cell = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is _MISSING:
            del cell[key]
        else:
            cell[key] = value
    return cell


_MISSING = object()


@pytest.mark.parametrize("changes, named", [
    ({"workers": "2"}, "cells[3].workers: expected integer, got string '2'"),
    ({"workers": True}, "cells[3].workers: expected integer"),
    ({"workers": 0}, "cells[3].workers: must be at least 1"),
    ({"speedup": _MISSING}, "cells[3]: missing field 'speedup'"),
    ({"median_s": -1.0}, "cells[3].median_s: must be positive"),
    ({"family": "fibers"}, "cells[3].family: expected one of"),
    ({"wall_s": [0.1, "slow"]}, "cells[3].wall_s[1]: expected number"),
    ({"speedup": {"median": 1.0, "low": 0.9}}, "cells[3].speedup: missing field 'high'"),
    ({"speedup": {"median": 1.0, "low": -0.9, "high": 1.1}},
     "cells[3].speedup.low: must be positive"),
])
def test_from_dict_names_the_bad_field(changes: dict, named: str) -> None:
    with pytest.raises(ResultsError) as err:
        Cell.from_dict(_bad(**changes), "cells[3]")
    assert named in str(err.value)


def test_from_dict_of_something_not_an_object() -> None:
    with pytest.raises(ResultsError, match=r"^cell: expected object, got array"):
        Cell.from_dict([1, 2])


# -- one key, and summarize's cell -------------------------------------------------------

def test_one_cell_key_everywhere() -> None:
    kernel = kernels.get("primes")
    serial = Raw(wall_s=[0.10, 0.11, 0.10], cpu_s=[0.10, 0.11, 0.10], result=2262,
                 rounds=[0, 1, 2])
    threads = Raw(wall_s=[0.06, 0.061, 0.059], cpu_s=[0.11] * 3, result=2262, rounds=[0, 1, 2])
    spec = CellSpec("primes", "python", "threads", 2, 20000, 8)
    stored = summarize(spec, threads, serial, kernel, 2262, usable_cores=2)
    record = summarize_cell(spec, threads, serial, kernel, 2262, usable_cores=2)
    assert isinstance(spec.key, CellKey)
    assert spec.key == Cell.read(stored).key == record.key == cell_key(stored) \
        == ("primes", "python", "threads", 2)
    # summarize's dict is its record's stored object, and reads back to the same bytes
    assert json.dumps(record.as_dict()) == json.dumps(stored)
    assert json.dumps(Cell.read(stored).as_dict()) == json.dumps(stored)
    assert record.speedup is not None and record.speedup.median == stored["speedup"]["median"]
    Cell.from_dict(stored)  # and passes the schema check
