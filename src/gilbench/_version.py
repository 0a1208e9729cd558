"""gilbench's version: a module of its own, so that any floor may say it without importing
the package root (which exports the API)."""

__version__ = "0.1.0"
