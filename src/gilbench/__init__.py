"""gilbench: measure when Python threads reach every core of this host, and when they do not."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
