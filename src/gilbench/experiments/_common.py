"""Pieces shared by the experiments: CPU load (threads or processes), latency probes, echo.

Everything here is bounded in time and cleans up after itself: worker threads and processes
stop at the end of their ``with`` block (processes are terminated if they do not stop in time),
sockets are closed, and every wait has a timeout.

Child processes are started with ``forkserver`` (else ``spawn``), never ``fork``: the
experiments run helper threads in this process (the echo server, asyncio, Queue feeders), and
forking a multi-threaded process can deadlock the child (Python 3.12+ warns about it).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import socket
import threading
import time
from typing import Any, Callable, Sequence

from gilbench import kernels, noise
from gilbench.errors import one_line
from gilbench.stats import median

#: the kernel every CPU-bound worker runs (the integer kernel: no memory traffic to speak of)
CPU_KERNEL = "primes"

#: callback the experiments call with a short description of what they are doing now
Progress = Callable[[str], None]


def no_progress(_: str) -> None:
    """The default progress callback: says nothing."""


def mp_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context for experiment children: forkserver, else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_stats(samples_s: Sequence[float]) -> dict[str, Any]:
    """Summary of latencies given in seconds: n and p50/p90/p99/mean/max in milliseconds."""
    values = sorted(samples_s)
    if not values:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p99_ms": None,
                "mean_ms": None, "max_ms": None}
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) * 1e3,
        "p90_ms": percentile(values, 90) * 1e3,
        "p99_ms": percentile(values, 99) * 1e3,
        "mean_ms": sum(values) / len(values) * 1e3,
        "max_ms": values[-1] * 1e3,
    }


# --------------------------------------------------------------------------- the host


def other_cpu_cores(window_s: float = 0.25) -> float | None:
    """Cores other processes (not gilbench or its workers) kept busy over ``window_s``: when
    called between experiments, the CPU they take from us (``noise.sample``). None where
    /proc is missing."""
    window = noise.sample(window_s)
    return None if window is None else window.other_cores


# --------------------------------------------------------------------------- CPU load


def cpu_variant(variant: str) -> Callable[[tuple], Any]:
    """The CPU kernel's variant ``variant``; VariantUnavailable is raised when it is called if
    the extension is missing (check ``.available`` first)."""
    return kernels.get(CPU_KERNEL).variant(variant)


def variant_unavailable(variant: str) -> str | None:
    """Why ``variant`` of the CPU kernel cannot run here, or None if it can."""
    v = cpu_variant(variant)
    return None if v.available else v.reason


def time_call(fn: Callable[[tuple], Any], chunk: tuple, repeats: int = 2) -> float:
    """The shortest of ``repeats`` timed calls ``fn(chunk)``, in seconds."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(chunk)
        best = min(best, time.perf_counter() - t0)
    return best


def calibrate_chunk(variant: str, target_s: float) -> dict[str, Any]:
    """One chunk of the CPU kernel that takes about ``target_s`` for ``variant``.

    Returns ``{"chunk": [...], "seconds": measured}``. ``kernels.calibrate_size`` from N = 2000:
    trial division up to N costs about N^1.5, so N is scaled by (target/measured)^(2/3).
    """
    fn = cpu_variant(variant)
    kernel = kernels.get(CPU_KERNEL)
    size = kernels.calibrate_size(lambda n: time_call(fn, kernel.split(n, 1)[0]), 2_000,
                                  target_s, enough=0.25, max_grow=16.0, cost_power=1.5,
                                  fit=lambda n: max(100, int(n)))
    chunk = kernel.split(size, 1)[0]
    return {"chunk": list(chunk), "seconds": time_call(fn, chunk)}


def _process_cpu_worker(variant: str, chunk: tuple, stop: Any, ready: Any, done: Any) -> None:
    """Child process: run ``variant`` on ``chunk`` over and over until ``stop`` is set."""
    fn = cpu_variant(variant)
    ready.release()
    while not stop.is_set():
        fn(chunk)
        with done.get_lock():
            done.value += 1


class CpuLoad:
    """``workers`` CPU-bound workers (threads or processes) running a variant of the CPU
    kernel on the same chunk over and over, from ``__enter__`` (returns once all run) to
    ``__exit__`` (returns once all stopped). ``stats()`` gives how much work they did.

    A worker only checks for the stop request between chunks, so stopping takes up to one
    chunk's time; chunks are calibrated to tens of milliseconds.
    """

    START_TIMEOUT_S = 60.0

    def __init__(self, executor: str, variant: str | None, workers: int,
                 chunk: Sequence[int] | None,
                 ctx: multiprocessing.context.BaseContext | None = None):
        if executor not in ("threads", "processes", "none"):
            raise ValueError(f"executor must be threads, processes or none, got {executor!r}")
        if workers and (variant is None or chunk is None):
            raise ValueError("workers need a variant and a chunk")
        self.executor = executor
        self.variant = variant
        self.workers = workers
        self.chunk = tuple(chunk) if chunk is not None else None
        self.ctx = ctx or mp_context()
        self._threads: list[threading.Thread] = []
        self._processes: list[Any] = []
        self._thread_done = [0] * workers
        self._t_start = self._t_stop = 0.0
        self._stop: Any = None
        self._done_value: Any = None

    def _thread_worker(self, index: int, ready: threading.Event) -> None:
        fn = cpu_variant(self.variant)
        ready.set()
        while not self._stop.is_set():
            fn(self.chunk)
            self._thread_done[index] += 1

    def __enter__(self) -> "CpuLoad":
        if self.workers == 0 or self.executor == "none":
            self._t_start = time.perf_counter()
            return self
        # checked here, in the parent: a worker that fails on its first line never signals
        variant = cpu_variant(self.variant)  # UnknownNameError for a bad name
        if not variant.available:
            raise RuntimeError(f"variant {self.variant!r} is unavailable: {variant.reason}")
        try:
            if self.executor == "threads":
                self._stop = threading.Event()
                readies = []
                for i in range(self.workers):
                    ready = threading.Event()
                    t = threading.Thread(target=self._thread_worker, args=(i, ready),
                                         name=f"gilbench-cpu-{i}", daemon=True)
                    t.start()
                    self._threads.append(t)
                    readies.append(ready)
                for ready in readies:
                    if not ready.wait(self.START_TIMEOUT_S):
                        raise RuntimeError("a CPU worker thread did not start")
            else:
                self._stop = self.ctx.Event()
                ready = self.ctx.Semaphore(0)
                self._done_value = self.ctx.Value("q", 0)
                for i in range(self.workers):
                    p = self.ctx.Process(
                        target=_process_cpu_worker,
                        args=(self.variant, self.chunk, self._stop, ready, self._done_value),
                        name=f"gilbench-cpu-{i}", daemon=True,
                    )
                    p.start()
                    self._processes.append(p)
                deadline = time.monotonic() + self.START_TIMEOUT_S
                started = 0
                while started < self.workers:
                    if ready.acquire(timeout=0.1):
                        started += 1
                        continue
                    # a child that died (e.g. failed to import) never signals: say so now
                    dead = [p for p in self._processes if p.exitcode is not None]
                    if dead:
                        raise RuntimeError(f"a CPU worker process exited with code "
                                           f"{dead[0].exitcode} before it started working")
                    if time.monotonic() > deadline:
                        raise RuntimeError("a CPU worker process did not start")
        except BaseException:
            self._shutdown()
            raise
        self._t_start = time.perf_counter()
        return self

    def _shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        for t in self._threads:
            t.join()  # bounded: a thread stops after its current chunk
        for p in self._processes:
            p.join(timeout=30)
            if p.is_alive():  # should not happen; never leave an orphan behind
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
            p.close()

    def __exit__(self, *exc: Any) -> None:
        self._t_stop = time.perf_counter()
        self._shutdown()

    def stats(self) -> dict[str, Any]:
        """What the workers did: chunks completed and chunks per second (after ``__exit__``)."""
        if self._done_value is not None:
            done = int(self._done_value.value)
        else:
            done = sum(self._thread_done)
        elapsed = max(self._t_stop - self._t_start, 1e-9)
        return {
            "executor": self.executor,
            "variant": self.variant,
            "workers": self.workers,
            "chunk": list(self.chunk) if self.chunk else None,
            "chunks_done": done,
            "chunks_per_s": done / elapsed if self.workers else None,
        }


# --------------------------------------------------------------------------- latency probes


def sleep_probe(window_s: float, period_s: float = 0.001) -> list[float]:
    """Lateness samples (s) of a thread asking to wake every ``period_s`` for ``window_s``.

    Lateness = time actually slept minus ``period_s``: the OS timer's slack plus, under the
    GIL, the wait to get the GIL back after the sleep ends.
    """
    late = []
    end = time.perf_counter() + window_s
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        time.sleep(period_s)
        late.append(time.perf_counter() - t0 - period_s)
    return late


async def _asyncio_sleep_probe(window_s: float, period_s: float) -> list[float]:
    late = []
    end = time.perf_counter() + window_s
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        await asyncio.sleep(period_s)
        late.append(time.perf_counter() - t0 - period_s)
    return late


def asyncio_sleep_probe(window_s: float, period_s: float = 0.001) -> list[float]:
    """Lateness samples (s) of an asyncio loop (in this thread) awaiting ``asyncio.sleep``."""
    return asyncio.run(_asyncio_sleep_probe(window_s, period_s))


# --------------------------------------------------------------------------- echo


ECHO_PAYLOAD_BYTES = 64


class EchoServer:
    """A blocking TCP echo server on 127.0.0.1 in a thread of *this* process (the published
    case: the server shares the GIL with the CPU-bound threads). Serves connections one after
    another until ``close()``.

    Connections use plain blocking sockets, as a classic threaded server does: one GIL
    release per ``recv`` and one per ``sendall`` (a socket timeout would add a ``poll()`` and
    a third release per request).
    """

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(0.2)  # so the accept loop notices close() quickly
        self.port: int = self.listener.getsockname()[1]
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._conn: socket.socket | None = None
        self.thread = threading.Thread(target=self._serve, name="gilbench-echo-server",
                                       daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(None)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self._lock:
                    self._conn = conn
                if self._closing.is_set():
                    break
                try:
                    while data := conn.recv(65536):
                        conn.sendall(data)
                except OSError:
                    pass
                finally:
                    with self._lock:
                        self._conn = None

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            if self._conn is not None:  # wake a recv() blocked on a client that hangs
                try:
                    self._conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(timeout=10)
        self.listener.close()

    def __enter__(self) -> "EchoServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: a round trip slower than this waited for something (on loopback one takes ~10-50 us)
SLOW_RTT_S = 0.001


def _echo_client(port: int, window_s: float, payload_bytes: int, conn: Any) -> None:
    """Child process: round trips to 127.0.0.1:port for ``window_s``; sends the round-trip
    times (an ``array('d')`` as bytes) and the elapsed time on ``conn``.

    Timing is done here, in a process of its own, so that the client's clock readings are not
    themselves delayed by the GIL of the process under test.
    """
    from array import array

    payload = (bytes(range(256)) * (payload_bytes // 256 + 1))[:payload_bytes]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def round_trip() -> None:
                sock.sendall(payload)
                got = 0
                while got < payload_bytes:
                    data = sock.recv(payload_bytes - got)
                    if not data:
                        raise ConnectionError("echo server closed the connection")
                    got += len(data)

            round_trip()  # the connection is up and the server thread has answered once
            rtts = array("d")
            t_start = time.perf_counter()
            end = t_start + window_s
            t0 = t_start
            while t0 < end:
                round_trip()
                t1 = time.perf_counter()
                rtts.append(t1 - t0)
                t0 = t1
        conn.send({"rtts": rtts.tobytes(), "elapsed_s": t0 - t_start, "error": None})
    except Exception as exc:  # reported to the parent, never a hang
        conn.send({"rtts": b"", "elapsed_s": 0.0, "error": one_line(exc)})
    finally:
        conn.close()


def _echo_run(server: EchoServer, window_s: float, payload_bytes: int,
              ctx: multiprocessing.context.BaseContext) -> tuple[list[float], float, str | None]:
    """One client process, one connection: (round-trip times, elapsed_s, error)."""
    from array import array

    parent_conn, child_conn = ctx.Pipe(duplex=False)
    client = ctx.Process(target=_echo_client,
                         args=(server.port, window_s, payload_bytes, child_conn),
                         name="gilbench-echo-client", daemon=True)
    client.start()
    child_conn.close()
    try:
        # bounded: the child's start-up (fork from the forkserver, or a fresh interpreter)
        # plus the window; a minute of slack for a very slow or loaded host
        if not parent_conn.poll(window_s + 60):
            return [], 0.0, "echo client timed out"
        reply = parent_conn.recv()
    except EOFError:
        return [], 0.0, f"echo client died (exit code {client.exitcode})"
    finally:
        parent_conn.close()
        client.join(timeout=10)
        if client.is_alive():
            client.terminate()
            client.join(timeout=5)
        client.close()
    rtts = array("d")
    rtts.frombytes(reply["rtts"])
    return list(rtts), reply["elapsed_s"], reply["error"]


def echo_probe(window_s: float, ctx: multiprocessing.context.BaseContext | None = None,
               runs: int = 3, payload_bytes: int = ECHO_PAYLOAD_BYTES) -> dict[str, Any]:
    """Echo requests/s and round-trip latency: server thread here, client in a child process.

    The window is cut into ``runs`` client runs (a new process and connection each), because
    beside a CPU-bound thread the rate is bimodal: a run either keeps winning the GIL back
    after each short release, or loses it on every release and waits out the switch interval.
    Returns ``{"requests", "elapsed_s", "requests_per_s" (median over runs),
    "requests_per_s_pooled", "runs_requests_per_s", "slow_share", "latency", "error"}``;
    ``slow_share`` is the share of round trips slower than ``SLOW_RTT_S``.
    """
    ctx = ctx or mp_context()
    runs = max(1, runs)
    all_rtts: list[float] = []
    per_run: list[float | None] = []
    elapsed_total = 0.0
    errors = []
    with EchoServer() as server:
        for _ in range(runs):
            rtts, elapsed, error = _echo_run(server, window_s / runs, payload_bytes, ctx)
            if error:
                errors.append(error)
            all_rtts.extend(rtts)
            elapsed_total += elapsed
            per_run.append(len(rtts) / elapsed if elapsed > 0 else None)
    return {
        "requests": len(all_rtts),
        "elapsed_s": elapsed_total,
        # the median run: robust to one run disturbed by another tenant of a shared host
        "requests_per_s": median([r for r in per_run if r is not None]) if any(
            r is not None for r in per_run) else None,
        "requests_per_s_pooled": len(all_rtts) / elapsed_total if elapsed_total > 0 else None,
        "runs_requests_per_s": per_run,
        "slow_share": (sum(1 for r in all_rtts if r > SLOW_RTT_S) / len(all_rtts)
                       if all_rtts else None),
        "latency": latency_stats(all_rtts),
        "error": "; ".join(errors) or None,
    }


PROBES = ("thread-sleep", "asyncio-sleep", "echo")


def run_probe(probe: str, window_s: float, period_s: float = 0.001,
              ctx: multiprocessing.context.BaseContext | None = None,
              echo_runs: int = 3) -> dict[str, Any]:
    """One probe's measurement: latency stats for the sleep probes, the echo summary for echo."""
    if probe == "thread-sleep":
        return {"lateness": latency_stats(sleep_probe(window_s, period_s))}
    if probe == "asyncio-sleep":
        return {"lateness": latency_stats(asyncio_sleep_probe(window_s, period_s))}
    if probe == "echo":
        return echo_probe(window_s, ctx, runs=echo_runs)
    raise ValueError(f"unknown probe {probe!r}; probes: {', '.join(PROBES)}")
