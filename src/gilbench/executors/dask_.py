"""Dask executors (extra ``[dask]``): ``dask-processes`` and ``dask-threads`` (a
``distributed.LocalCluster`` on 127.0.0.1 made for the cell) and ``dask`` (an existing
scheduler, the way a user measures a real cluster).

* ``dask-processes``: ``LocalCluster(processes=True, n_workers=W, threads_per_worker=1)``.
* ``dask-threads``: ``LocalCluster(processes=False, n_workers=1, threads_per_worker=W)``: one
  worker in this process with W threads, Dask's threaded configuration.
* ``dask``: a ``Client`` on the scheduler at ``$GILBENCH_DASK_SCHEDULER`` (set by
  ``--dask-scheduler ADDRESS``). The cell uses the first W workers (sorted by address, each
  with all its threads); a cluster with fewer workers fails the cell. The facts list every
  worker of the cluster, its host and its GIL state.

The cluster (or connection) is made in ``start()`` and every worker is set up there
(``client.run``: kernel buffers, the variant loaded), so the cold run carries the start-up.
Each chunk is one ``client.map`` task (``pure=False``), gathered in order.

Faults: an unreachable scheduler fails within ``CONNECT_TIMEOUT_S`` with one line; a worker
that leaves the cluster during a run (killed, crashed, lost) fails that run with its address,
even when Dask would have re-run its tasks elsewhere (the times would mix two clusters); a run
over the time limit cancels its tasks (a LocalCluster is then closed, which ends its
processes; a task already running on a remote worker runs to its end).
"""

from __future__ import annotations

import os
import signal
from typing import Any, Sequence

from gilbench.errors import UsageError, one_line

from . import _engine
from .base import (EngineOption, Executor, RunResult, RunTimeout, collect, stop_message,
                   stop_task_threads)

#: the environment variable that carries ``--dask-scheduler ADDRESS``
SCHEDULER_ENV = "GILBENCH_DASK_SCHEDULER"
#: how long connecting to a scheduler may take before the address is reported unreachable
CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.2  # how often a waiting run checks that no worker left
#: no dashboard; the scheduler's HTTP server (it always has one, on 8787 by default, warning
#: when that port is taken) on a free loopback port
LOCAL_CLUSTER_QUIET = {"dashboard_address": None,
                       "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"}}


class DaskWorkerLost(RuntimeError):
    """A Dask worker left the cluster while a run was using it."""


class DaskConnectError(RuntimeError):
    """The Dask scheduler could not be reached; the message says what to do."""


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address``; DaskConnectError (one line,
    within about ``timeout_s``) if it cannot be reached."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except Exception as exc:  # OSError (unreachable, timed out), ValueError/TypeError (address)
        first = one_line(exc, line="all")
        raise DaskConnectError(
            f"cannot reach the Dask scheduler at {address!r} within {timeout_s:g} s ({first}); "
            "start one with `dask scheduler` and pass the address it prints, e.g. "
            "--dask-scheduler tcp://127.0.0.1:8786") from None


def cluster_workers(client: Any) -> list[dict[str, Any]]:
    """The cluster's workers, sorted by address: ``{"address", "host", "nthreads", "name"}``."""
    info = client.scheduler_info(n_workers=-1)["workers"]
    return [{"address": a, "host": w.get("host"), "nthreads": w.get("nthreads"),
             "name": str(w.get("name"))} for a, w in sorted(info.items())]


def check_scheduler(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> list[dict[str, Any]]:
    """Connect to ``address`` and return its workers (``cluster_workers``); for a command to
    fail fast, before any measuring, on a wrong ``--dask-scheduler``."""
    client = connect(address, timeout_s)
    try:
        return cluster_workers(client)
    finally:
        client.close()


class _DaskExecutor(Executor):
    keeps_workers = True

    _client: Any = None
    _cluster: Any = None
    _targets: list[str] | None = None  # worker addresses the tasks may use (None: any)

    @classmethod
    def unavailable_reason(cls) -> str:
        return _engine.missing("distributed", "dask")

    @classmethod
    def placement_reason(cls) -> str:
        return ("Dask runs tasks in its workers' own thread pools (with --dask-scheduler, on "
                "machines gilbench does not manage)")

    def _connect(self) -> tuple[Any, Any]:
        """(cluster or None, client)."""
        raise NotImplementedError

    def start(self) -> None:
        self._lost: list[str] = []
        self._workers: list[dict[str, Any]] = []
        self._cluster, self._client = self._connect()
        # the scheduler tells every client when a worker is removed; a run checks the list
        self._client.subscribe_topic("all", self._on_event)
        members = cluster_workers(self._client)
        self._choose(members)
        setup = self._client.run(_engine.setup_worker, _engine.origin(), self.kernel_name,
                                 self.variant_name, self.size, workers=self._targets)
        used = set(setup)
        # the scheduler's view (address, host as it connects) over the worker's own (its
        # machine's name as "hostname", pid, interpreter, GIL state); unused workers: the former
        self._workers = []
        for m in members:
            own = setup.get(m["address"], {})
            self._workers.append({**own, "hostname": own.get("host"), **m,
                                  "used": m["address"] in used})
        self._watched = used

    def _choose(self, members: list[dict[str, Any]]) -> None:
        """Pick the workers the cell uses (all of a LocalCluster made for it)."""

    def _on_event(self, event: tuple) -> None:
        _, msg = event
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            self._lost.append(str(msg.get("worker")))

    def _check_lost(self) -> None:
        lost = [w for w in self._lost if w in self._watched]
        if lost:
            raise DaskWorkerLost(f"Dask worker {lost[0]} left the cluster during the run"
                                 f"{f' (and {len(lost) - 1} more)' if len(lost) > 1 else ''}; "
                                 "its tasks would have been re-run elsewhere")

    def run(self, chunks: Sequence[tuple]) -> RunResult:
        from distributed import wait

        assert self._client is not None, "start() first"
        n = len(chunks)
        futures = self._client.map(
            _engine.engine_task, [_engine.origin()] * n, [self.kernel_name] * n,
            [self.variant_name] * n, [self.size] * n, list(chunks), pure=False,
            workers=self._targets, allow_other_workers=False)
        deadline = self.deadline()
        try:
            while True:
                self._check_lost()
                left = self.remaining(deadline)
                if left == 0.0:
                    raise RunTimeout(f"the run did not finish within {self.timeout_s:g} s; "
                                     f"{self._stop_after_timeout(futures)}")
                try:
                    with self._client.as_current():  # wait() takes the current client
                        wait(futures, timeout=POLL_S if left is None else min(POLL_S, left))
                    break
                except TimeoutError:
                    continue
            self._check_lost()
            return collect(self._client.gather(futures))
        except BaseException:
            if self._client is not None:  # not closed by a timeout
                self._client.cancel(futures)
            raise

    def _stop_after_timeout(self, futures: list) -> str:
        self._client.cancel(futures)
        return "its tasks were cancelled (a task already running goes on to its end)"

    def facts(self) -> dict[str, Any]:
        return {"engine": "dask", "version": _engine.version("distributed"),
                "scheduler": getattr(self._client, "scheduler", None) and
                self._client.scheduler.address,
                "workers": list(getattr(self, "_workers", []))}

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        try:
            if client is not None:
                # first, or the scheduler tries to tell this closing client that it left
                client.unsubscribe_topic("all")
                client.close()
        finally:
            if cluster is not None:
                cluster.close()

    def abort(self) -> None:
        self.close()  # a LocalCluster's close() terminates its worker processes


class _LocalDask(_DaskExecutor):
    processes: bool

    def _connect(self) -> tuple[Any, Any]:
        from distributed import Client, LocalCluster

        if self.processes:  # worker processes talk TCP, on loopback only
            options: dict[str, Any] = {"n_workers": self.workers, "threads_per_worker": 1,
                                       "host": "127.0.0.1"}
        else:  # one worker in this process: Dask talks in-process ("inproc"), no network
            options = {"n_workers": 1, "threads_per_worker": self.workers}
        cluster = LocalCluster(processes=self.processes, **LOCAL_CLUSTER_QUIET, **options)
        try:
            return cluster, Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise


class DaskProcessesExecutor(_LocalDask):
    name = "dask-processes"
    family = "processes"
    description = "Dask LocalCluster(processes=True): W worker processes, 1 thread each"
    processes = True

    def abort(self) -> None:
        # a worker stuck in a task takes the nanny seconds to stop: kill it first (the nanny
        # would restart it, but the cluster is closed right after)
        for w in getattr(self, "_workers", []):
            if w.get("pid") and w.get("pid") != os.getpid():
                try:
                    os.kill(w["pid"], signal.SIGKILL)
                except OSError:  # already gone
                    pass
        super().abort()

    def _stop_after_timeout(self, futures: list) -> str:
        n = len(self._watched)
        self.abort()  # closing the LocalCluster ends its worker processes
        return (f"its {n} worker process{'es were' if n != 1 else ' was'} terminated "
                "(the LocalCluster was closed)")


class DaskThreadsExecutor(_LocalDask):
    name = "dask-threads"
    family = "threads"
    description = "Dask LocalCluster(processes=False): 1 worker with W threads in this process"
    processes = False

    def _stop_after_timeout(self, futures: list) -> str:
        super()._stop_after_timeout(futures)
        return stop_message(*stop_task_threads())  # the worker's threads are ours


class DaskSchedulerExecutor(_DaskExecutor):
    name = "dask"
    family = "processes"
    description = (f"an existing Dask scheduler (--dask-scheduler ADDRESS, ${SCHEDULER_ENV}): "
                   "the first W of its workers")
    option = EngineOption(
        "dask_scheduler", "ADDRESS", env=SCHEDULER_ENV,
        help="measure the executor 'dask' on the existing Dask cluster whose scheduler is at "
             "ADDRESS (what `dask scheduler` prints, e.g. tcp://127.0.0.1:8786; default: "
             f"${SCHEDULER_ENV}); checked before anything is measured")

    @classmethod
    def check_option(cls, executor_names: Sequence[str], value: str | None) -> None:
        if value is not None and not value.strip():
            raise UsageError("--dask-scheduler needs the address `dask scheduler` prints, "
                             "such as tcp://127.0.0.1:8786")
        if cls.name in executor_names and not value:
            raise UsageError("the dask executor measures an existing Dask cluster: pass "
                             "--dask-scheduler ADDRESS (the address `dask scheduler` prints, "
                             "such as tcp://127.0.0.1:8786), or use dask-processes / "
                             "dask-threads for a cluster on this machine")

    @classmethod
    def prepare_option(cls, value: str) -> list[dict[str, Any]]:
        """Set ``$GILBENCH_DASK_SCHEDULER`` for the cells and check that the scheduler answers
        (within ``CONNECT_TIMEOUT_S``): its workers; UsageError in one line if it cannot be
        reached or Dask is not installed."""
        missing = _DaskExecutor.unavailable_reason()
        if missing:
            raise UsageError(f"--dask-scheduler: {missing}")
        os.environ[SCHEDULER_ENV] = value
        try:
            return check_scheduler(value)
        except DaskConnectError as exc:
            raise UsageError(f"--dask-scheduler: {exc}") from None

    @classmethod
    def unavailable_reason(cls) -> str:
        reason = super().unavailable_reason()
        if not reason and not os.environ.get(SCHEDULER_ENV):
            reason = (f"no Dask scheduler given: pass --dask-scheduler ADDRESS (or set "
                      f"{SCHEDULER_ENV}), e.g. tcp://127.0.0.1:8786 from `dask scheduler`")
        return reason

    def _connect(self) -> tuple[Any, Any]:
        return None, connect(os.environ[SCHEDULER_ENV])

    def _choose(self, members: list[dict[str, Any]]) -> None:
        if len(members) < self.workers:
            raise RuntimeError(f"the Dask cluster at {os.environ[SCHEDULER_ENV]} has "
                               f"{len(members)} worker{'s' if len(members) != 1 else ''}; "
                               f"{self.workers} were asked for (--workers)")
        self._targets = [m["address"] for m in members[:self.workers]]

    def _stop_after_timeout(self, futures: list) -> str:
        super()._stop_after_timeout(futures)
        return ("its tasks were cancelled; a task already running on a remote worker runs to "
                "its end and may disturb later cells")
