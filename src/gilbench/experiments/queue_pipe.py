"""Queue vs Pipe: throughput and latency of multiprocessing.Queue and Pipe between processes.

The article: "a Pipe has only two ends and thus better performance". A Queue is a pipe plus a
feeder thread (which pickles and writes), a lock for the readers, and a semaphore; a Pipe is
the bare connection. Both pickle what they send.

- Throughput: one producer process sends ``n`` messages of ``size`` bytes as fast as it can;
  this process consumes them. Messages/s and MB/s from the consumer's first ask to the last
  message, median of ``repeats`` runs. ``pipe`` is ``Pipe()`` as people write it (duplex: a
  Unix socket pair on Linux); ``pipe-simplex`` is ``Pipe(duplex=False)`` (an OS pipe, as a
  Queue uses underneath).
- Latency: one message at a time to an echoing child and back (round trip), for ``queue``
  (a Queue each way) and ``pipe`` (one duplex Pipe).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from ._common import Progress, latency_stats, median, mp_context, no_progress

NAME = "queue-pipe"
TITLE = "multiprocessing.Queue vs Pipe"
MEASURES = (
    "Messages/s from one producer process to one consumer through multiprocessing.Queue, "
    "Pipe() and Pipe(duplex=False), and the round-trip time of one message, for small "
    "(64 B) and large (1 MiB) messages."
)
CLAIMS = ("pipe-faster-than-queue",)

KINDS = ("queue", "pipe", "pipe-simplex")
LATENCY_KINDS = ("queue", "pipe")
SIZES = (64, 1 << 20)
TIMEOUT_S = 60.0


def _payload(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def _produce_queue(q: Any, go: Any, n: int, size: int) -> None:
    """Child: put ``n`` messages on ``q`` once ``go`` is set; flush before exiting."""
    payload = _payload(size)
    go.wait(TIMEOUT_S)
    for _ in range(n):
        q.put(payload)
    q.close()
    q.join_thread()


def _produce_pipe(conn: Any, go: Any, n: int, size: int) -> None:
    """Child: send ``n`` messages on ``conn`` once ``go`` is set."""
    payload = _payload(size)
    go.wait(TIMEOUT_S)
    for _ in range(n):
        conn.send(payload)
    conn.close()


def _echo_queue(inbox: Any, outbox: Any) -> None:
    """Child: put back every message until None."""
    while (message := inbox.get(timeout=TIMEOUT_S)) is not None:
        outbox.put(message)
    outbox.close()
    outbox.join_thread()


def _echo_pipe(conn: Any) -> None:
    """Child: send back every message until None."""
    while (message := conn.recv()) is not None:
        conn.send(message)
    conn.close()


def _finish(process: Any) -> None:
    process.join(timeout=TIMEOUT_S)
    if process.is_alive():  # never leave a child behind
        process.terminate()
        process.join(timeout=5)
    process.close()


def throughput_once(kind: str, size: int, n: int, ctx: Any) -> float:
    """Seconds for this process to receive ``n`` messages of ``size`` bytes via ``kind``."""
    go = ctx.Event()
    if kind == "queue":
        q = ctx.Queue()
        producer = ctx.Process(target=_produce_queue, args=(q, go, n, size), daemon=True)
        producer.start()
        try:
            t0 = time.perf_counter()
            go.set()
            for _ in range(n):
                q.get(timeout=TIMEOUT_S)
            elapsed = time.perf_counter() - t0
        finally:
            go.set()
            q.close()
            q.join_thread()
            _finish(producer)
        return elapsed
    receiver, sender = ctx.Pipe(duplex=(kind == "pipe"))
    producer = ctx.Process(target=_produce_pipe, args=(sender, go, n, size), daemon=True)
    producer.start()
    sender.close()
    try:
        t0 = time.perf_counter()
        go.set()
        for _ in range(n):
            if not receiver.poll(TIMEOUT_S):
                raise TimeoutError(f"{kind}: no message for {TIMEOUT_S:g} s")
            receiver.recv()
        elapsed = time.perf_counter() - t0
    finally:
        go.set()
        receiver.close()
        _finish(producer)
    return elapsed


def throughput(kind: str, size: int, target_s: float, repeats: int, ctx: Any,
               max_messages: int = 2_000_000) -> dict[str, Any]:
    """Messages/s and MB/s (median of ``repeats``), with ``n`` sized by a trial run to last
    about ``target_s``."""
    n_trial = max(4, min(2_000, int(64e6 // size)))  # a trial moves at most ~64 MB
    trial = throughput_once(kind, size, n_trial, ctx)
    rate = n_trial / max(trial, 1e-9)
    n = int(min(max_messages, max(n_trial, rate * target_s)))
    times = [throughput_once(kind, size, n, ctx) for _ in range(repeats)]
    t = median(times)
    return {"kind": kind, "size_bytes": size, "messages": n, "seconds": times,
            "messages_per_s": n / t, "mb_per_s": n * size / t / 1e6}


def latency(kind: str, size: int, window_s: float, ctx: Any,
            max_round_trips: int = 100_000) -> dict[str, Any]:
    """Round-trip time of one message to an echoing child and back, for ``window_s``."""
    payload = _payload(size)
    rtts: list[float] = []
    if kind == "queue":
        inbox, outbox = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=_echo_queue, args=(inbox, outbox), daemon=True)
        child.start()
        try:
            for i in range(5 + max_round_trips):
                t0 = time.perf_counter()
                inbox.put(payload)
                outbox.get(timeout=TIMEOUT_S)
                if i >= 5:  # the first few include the child's start-up
                    rtts.append(time.perf_counter() - t0)
                    if sum(rtts) >= window_s:
                        break
        finally:
            inbox.put(None)
            _finish(child)
            for q in (inbox, outbox):
                q.close()
                q.join_thread()
    else:
        here, there = ctx.Pipe()
        child = ctx.Process(target=_echo_pipe, args=(there,), daemon=True)
        child.start()
        there.close()
        try:
            for i in range(5 + max_round_trips):
                t0 = time.perf_counter()
                here.send(payload)
                if not here.poll(TIMEOUT_S):
                    raise TimeoutError(f"pipe: no reply for {TIMEOUT_S:g} s")
                here.recv()
                if i >= 5:
                    rtts.append(time.perf_counter() - t0)
                    if sum(rtts) >= window_s:
                        break
        finally:
            try:
                here.send(None)
            except OSError:
                pass
            _finish(child)
            here.close()
    return {"kind": kind, "size_bytes": size, "round_trip": latency_stats(rtts)}


def run(
    quick: bool,
    *,
    sizes: Sequence[int] = SIZES,
    kinds: Sequence[str] = KINDS,
    target_s: float | None = None,
    repeats: int | None = None,
    latency_window_s: float | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Returns ``{"params", "throughput": [...], "latency": [...], "ratios": [...]}``; a ratio
    row is ``{"size_bytes", "throughput_pipe_over_queue", "latency_queue_over_pipe"}``
    (above 1: the Pipe is faster)."""
    progress = progress or no_progress
    target_s = target_s if target_s is not None else (0.1 if quick else 0.5)
    repeats = repeats if repeats is not None else (1 if quick else 3)
    latency_window_s = latency_window_s if latency_window_s is not None else (
        0.1 if quick else 0.5)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown kind {k!r}; kinds: {', '.join(KINDS)}")
    ctx = mp_context()

    rows = []
    for size in sizes:
        for kind in kinds:
            progress(f"throughput: {kind}, {size} B messages")
            rows.append(throughput(kind, size, target_s, repeats, ctx))
    lat_rows = []
    for size in sizes:
        for kind in LATENCY_KINDS:
            if kind in kinds:
                progress(f"round trips: {kind}, {size} B messages")
                lat_rows.append(latency(kind, size, latency_window_s, ctx))

    def find(table: list[dict], kind: str, size: int) -> dict | None:
        return next((r for r in table if r["kind"] == kind and r["size_bytes"] == size), None)

    ratios = []
    for size in sizes:
        q, p = find(rows, "queue", size), find(rows, "pipe", size)
        ql, pl = find(lat_rows, "queue", size), find(lat_rows, "pipe", size)
        ratios.append({
            "size_bytes": size,
            "throughput_pipe_over_queue": (p["messages_per_s"] / q["messages_per_s"]
                                           if p and q else None),
            "latency_queue_over_pipe": (ql["round_trip"]["p50_ms"] / pl["round_trip"]["p50_ms"]
                                        if ql and pl and pl["round_trip"]["p50_ms"] else None),
        })
    return {
        "params": {"sizes": list(sizes), "kinds": list(kinds), "target_s": target_s,
                   "repeats": repeats, "latency_window_s": latency_window_s,
                   "start_method": ctx.get_start_method()},
        "throughput": rows,
        "latency": lat_rows,
        "ratios": ratios,
    }

