"""Child processes that never outlive gilbench.

``die_with_parent()`` is the first thing every child process gilbench starts does (worker
processes of the process executors, experiment children, the echo server): on Linux it asks the
kernel to send the child SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), so a
gilbench killed by SIGKILL or the OOM killer -- which runs no clean-up code -- leaves no worker
blocked on a queue forever. The signal comes when the *thread* that started the child ends, so
children are started from threads that live as long as they do (gilbench's do).

Kept free of imports beyond the standard library (``ctypes`` is imported on first use), because
the experiment children measure how long a child takes to start.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_armed = False


def die_with_parent() -> bool:
    """Ask for SIGKILL when the parent dies; True if the request is in place (Linux), False
    where the platform has no such request. If the parent died already (before the request
    could take effect), exit now."""
    global _armed
    if _armed:
        return True
    if not sys.platform.startswith("linux"):
        return False
    parent_before = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):  # no libc prctl (musl without it, sandboxes)
        return False
    _armed = True
    _release_fork_server()
    # The parent may have died between fork and prctl: then no signal will ever come, and we
    # were re-parented already (to init or a subreaper).
    if os.getppid() != parent_before or parent_before == 1 or _creator_gone():
        os._exit(1)
    return True


def _release_fork_server() -> None:
    """Close this child's copy of the fork server's "alive" pipe.

    A child of the forkserver start method is the fork server's child, not gilbench's, and it
    inherits the pipe whose end-of-file tells the fork server that gilbench is gone: while any
    child holds it, the fork server waits for the child and the child for the fork server. With
    it closed, gilbench's death ends the fork server and that ends its children (SIGKILL above).
    Our workers never start processes themselves, so they do not need the fork server.
    """
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _creator_gone() -> bool:
    """True if the multiprocessing parent (gilbench itself, also for forkserver children whose
    direct parent is the fork server) has ended."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return False
    try:
        parent = mp.parent_process()
        return parent is not None and not parent.is_alive()
    except (OSError, ValueError):
        return False
