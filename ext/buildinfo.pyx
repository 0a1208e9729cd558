# cython: freethreading_compatible=True, subinterpreters_compatible=own_gil
"""How the extensions were built (read by `gilbench info` and recorded in results)."""

cdef extern from *:
    """
    #ifndef GILBENCH_CYTHON_VERSION
    #define GILBENCH_CYTHON_VERSION "unknown"
    #endif
    #ifndef GILBENCH_CFLAGS
    #define GILBENCH_CFLAGS "unknown"
    #endif
    """
    const char* GILBENCH_CYTHON_VERSION
    const char* GILBENCH_CFLAGS

CYTHON_VERSION = GILBENCH_CYTHON_VERSION.decode()
EXTRA_CFLAGS = GILBENCH_CFLAGS.decode()
