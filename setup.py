"""Build the Cython twins of gilbench's kernels.

Every ``ext/NAME.pyx`` becomes the extension ``gilbench.kernels._NAME_c``.
Cython directives live in one place (``DIRECTIVES``); set ``GILBENCH_CYTHON_DEBUG=1``
to turn the safety checks back on (bounds, wraparound, initialised memoryviews).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
DEBUG = os.environ.get("GILBENCH_CYTHON_DEBUG", "") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    # The kernels share no mutable state across threads: safe without the GIL.
    "freethreading_compatible": True,
    "embedsignature": True,
}


def compile_args() -> list[str]:
    """Optimisation flags for the compiler in use."""
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    # -ffp-contract=off: no fused multiply-add, so C doubles round exactly like Python floats
    # and every variant of a floating-point kernel gives bit-identical results.
    args = ["-O3", "-ffp-contract=off"]
    if DEBUG:
        args = ["-O0", "-g"]
    return args


def extensions() -> list[Extension]:
    """One extension per ext/*.pyx, each told how it was built (read back by ext/buildinfo.pyx)."""
    import Cython

    modules = sorted(p.stem for p in (HERE / "ext").glob("*.pyx"))
    flags = compile_args()
    macros = [
        ("GILBENCH_CYTHON_VERSION", f'"{Cython.__version__}"'),
        ("GILBENCH_CFLAGS", '"' + " ".join(flags) + '"'),
    ]
    return [
        Extension(f"gilbench.kernels._{name}_c", [f"ext/{name}.pyx"],
                  extra_compile_args=flags, define_macros=macros)
        for name in modules
    ]


def cythonized() -> list[Extension]:
    if os.environ.get("GILBENCH_NO_EXTENSIONS"):
        return []  # pure-Python install: the compiled variants report why they are missing
    from Cython.Build import cythonize

    return cythonize(extensions(), compiler_directives=DIRECTIVES, include_path=["ext"])


setup(ext_modules=cythonized())
