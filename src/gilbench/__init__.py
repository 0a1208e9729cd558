"""gilbench: measure when Python threads reach every core of this host, and when they do not."""

from __future__ import annotations

from gilbench.gilcheck import GilCheck, check_gil

__version__ = "0.1.0"
__all__ = ["GilCheck", "__version__", "check_gil"]
