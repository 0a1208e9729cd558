"""Reports from results files: Markdown, a self-contained HTML page, plots, verdicts, comparisons.

Public API:

- ``load_any(path) -> doc``: read a results file (or a pytest-benchmark JSON, through
  ``gilbench.bench_convert`` when installed) and validate it.
- ``write_report(doc, outdir) -> dict[str, Path]``: report.md, report.html and the PNG plots.
- ``write_compare(doc_a, doc_b, outdir, names) -> (Comparison, dict[str, Path])``:
  compare.md and compare.html.

matplotlib is imported only when plots are drawn (``gilbench.report.plots``).
"""

from __future__ import annotations

from .compare import write_compare
from .document import write_report
from .loading import load_any

__all__ = ["load_any", "write_report", "write_compare"]
