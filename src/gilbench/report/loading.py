"""Read any results file the report understands.

``load_any(path)`` returns a validated gilbench results document. Today that is a file written
by ``gilbench run``; a pytest-benchmark JSON (recognised by its ``benchmarks`` and
``machine_info`` keys) is handed to the converter ``gilbench.bench_convert.to_results(data)``
when that module exists. That import is the one hook for other formats: a converter returns
a results document, which is validated like any file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gilbench import results
from gilbench.errors import ResultsError


def _is_pytest_benchmark(data: object) -> bool:
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def load_any(path: str | os.PathLike) -> dict:
    """The validated results document in ``path``.

    Raises ``ResultsError`` (file missing, not JSON, not a valid results document, or a
    pytest-benchmark file that ``gilbench.bench_convert`` cannot convert).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        # let results.read phrase the error (missing, unreadable, truncated JSON ...)
        return results.read(path)
    if _is_pytest_benchmark(data):
        from gilbench import bench_convert

        try:
            doc = bench_convert.to_results(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{path}: cannot convert this pytest-benchmark file: {exc}") from None
        return results.validate(doc, f"{path} (converted from pytest-benchmark)")
    return results.validate(data, str(path))


__all__ = ["load_any", "ResultsError"]
