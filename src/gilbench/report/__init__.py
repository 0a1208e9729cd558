"""Reports from results files: Markdown, a self-contained HTML page, plots, verdicts, comparisons.

Public API:

- ``load_any(path) -> doc``: read a results file (or a pytest-benchmark JSON, through
  ``gilbench.bench_convert`` when installed) and validate it.
- ``write_report(doc, outdir) -> dict[str, Path]``: report.md, report.html and the PNG plots.
- ``compare(doc_a, doc_b, names=("a", "b"), min_change=0.05) -> Comparison``: the cells of two
  runs matched and judged (a speedup that scales better / worse, a time faster / slower, or
  not significant).
- ``write_compare(doc_a, doc_b, outdir, names) -> (Comparison, dict[str, Path])``:
  compare.md and compare.html.
- ``claims_of(doc) -> list[dict]``: the article's claims as a document decides them (cells, GIL
  checks and experiments), each with ``id``, ``claim``, ``verdict``, ``evidence``,
  ``decided_by``.

matplotlib is imported only when plots are drawn (``gilbench.report.plots``).
"""

from __future__ import annotations

from .claims import claims_of
from .compare import Comparison, compare, write_compare
from .document import write_report
from .loading import load_any

__all__ = ["load_any", "write_report", "write_compare", "compare", "Comparison", "claims_of"]
