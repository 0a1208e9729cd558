"""``interpreter-pool``: ``concurrent.futures.InterpreterPoolExecutor`` (Python 3.14+).

On 3.14+ this is the public pool (PEP 734's companion in ``concurrent.futures``): W worker
threads, each running its own subinterpreter, tasks and results pickled across. On 3.13, which
has no such pool, it runs the ``interpreters`` executor's 3.13 path (``_interpreters`` with one
driving thread per subinterpreter) and says so: ``facts()["backend"]`` names what ran, so a
3.13 cell is never read as a measurement of InterpreterPoolExecutor. Both implementations live
in ``interpreters.py``; this class only names the engine and records which one it got.
"""

from __future__ import annotations

import sys
from typing import Any

from .interpreters import InterpretersExecutor, _backend

#: what facts()["backend"] says for each implementation
BACKENDS = {
    "pool": "concurrent.futures.InterpreterPoolExecutor",
    "interpreters": "_interpreters, the 3.13 subinterpreter path (no InterpreterPoolExecutor "
                    "before 3.14)",
}


class InterpreterPoolRunner(InterpretersExecutor):
    name = "interpreter-pool"
    family = "interpreters"
    description = ("concurrent.futures.InterpreterPoolExecutor (3.14+); on 3.13 the "
                   "_interpreters subinterpreter path, named as such in the cell")
    keeps_workers = True

    def facts(self) -> dict[str, Any]:
        mode = self._mode or _backend()
        return {"engine": "interpreter-pool", "backend": BACKENDS.get(mode, mode),
                "python": sys.version.split()[0]}
