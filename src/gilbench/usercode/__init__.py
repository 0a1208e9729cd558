"""Your own function, measured: ``gilbench try`` and ``gilbench.workload()``.

* ``workload``: the ``Workload`` (your function, its tasks, how results compare), which presents
  itself as a kernel (``gilbench.kernels.user``) so the run's one engine (``gilbench.run``)
  measures it like the built-in kernels;
* ``measure``: the serial check run, the matrix through ``run.matrix``, the GIL check, the cost
  per task and the stress test, into one results document (``measure``; the API ``workload``);
* ``advice``: which executor, from the whole evidence, with the rule in words;
* ``builds``: the same function under other interpreters (``try --python``), side by side.

The report's sections for them are ``gilbench.report.workload`` and
``gilbench.report.workload_builds``.
"""
