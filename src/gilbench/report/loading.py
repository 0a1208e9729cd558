"""Read any results file the report understands.

``load_any(path)`` returns a validated gilbench results document. Today that is a file written
by ``gilbench run``; a pytest-benchmark JSON (recognised by its ``benchmarks`` and
``machine_info`` keys) is handed to the converter ``gilbench.bench_convert.to_results(data)``,
which copies its cells into a results document, validated like any file. Cells that lack
``kind`` or ``unit`` take them from the document's ``kernels`` section when it has one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gilbench import bench_convert, results
from gilbench.errors import ResultsError


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
    if bench_convert.is_pytest_benchmark(data):
        try:
            doc = bench_convert.to_results(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"{path}: cannot convert this pytest-benchmark file: {exc}") from None
        return _with_kernel_facts(
            results.validate(doc, f"{path} (converted from pytest-benchmark)"))
    return _with_kernel_facts(results.validate(data, str(path)))


def _with_kernel_facts(doc: dict) -> dict:
    """Fill each cell's missing ``kind``/``unit`` from the ``kernels`` section (in place)."""
    kernels = doc.get("kernels") or {}
    for cell in doc["cells"]:
        facts = kernels.get(cell["kernel"])
        if isinstance(facts, dict):
            for key in ("kind", "unit"):
                if key not in cell and key in facts:
                    cell[key] = facts[key]
    return doc


__all__ = ["load_any", "ResultsError"]
