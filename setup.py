"""Build the Cython twins of gilbench's kernels.

Every ``ext/NAME.pyx`` becomes the extension ``gilbench.kernels._NAME_c``.
Cython directives live in one place (``DIRECTIVES``); set ``GILBENCH_CYTHON_DEBUG=1``
to turn the safety checks back on (bounds, wraparound, initialised memoryviews). One directive
is per module, in its header: ``subinterpreters_compatible``, which only the twins without
typed memoryviews declare (see ``declares_subinterpreters``).

The extensions compile side by side, one per usable CPU (``build_jobs``); ``build_ext -j N``
on the command line still says otherwise.
"""

from __future__ import annotations

import os
import re
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


def declares_subinterpreters(pyx: Path) -> bool:
    """Whether the module's header directives declare it safe in subinterpreters
    (``subinterpreters_compatible=shared_gil`` or ``own_gil``; each ext/*.pyx says so itself).

    Cython emits the ``Py_mod_multiple_interpreters`` slot only when the C code is built with
    ``CYTHON_USE_MODULE_STATE=1`` (per-module state instead of C globals); without it the
    directive has no effect and CPython refuses the module in an isolated subinterpreter."""
    for line in pyx.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break  # header directives come before any code
        found = re.match(r"#\s*cython:.*\bsubinterpreters_compatible\s*=\s*(\w+)", line)
        if found:
            return found.group(1) != "no"
    return False


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

    sources = sorted((HERE / "ext").glob("*.pyx"))
    flags = compile_args()
    macros = [
        ("GILBENCH_CYTHON_VERSION", f'"{Cython.__version__}"'),
        ("GILBENCH_CFLAGS", '"' + " ".join(flags) + '"'),
    ]
    state = [("CYTHON_USE_MODULE_STATE", "1")]
    return [
        Extension(f"gilbench.kernels._{pyx.stem}_c", [f"ext/{pyx.name}"],
                  extra_compile_args=flags,
                  define_macros=macros + (state if declares_subinterpreters(pyx) else []))
        for pyx in sources
    ]


def build_jobs() -> int:
    """How many extensions ``build_ext`` compiles at once: the CPUs this process may use (its
    affinity mask where the OS has one), as ``build_ext -j`` would be given. The seven compile
    one after another otherwise, on one core of several."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cythonized() -> list[Extension]:
    if os.environ.get("GILBENCH_NO_EXTENSIONS"):
        return []  # pure-Python install: the compiled variants report why they are missing
    from Cython.Build import cythonize

    return cythonize(extensions(), compiler_directives=DIRECTIVES, include_path=["ext"])


# build_ext's own option, set by this script: `-j N` (or --parallel N) on its command line wins
setup(ext_modules=cythonized(), options={"build_ext": {"parallel": build_jobs()}})
