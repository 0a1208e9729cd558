"""I/O kernel: round trips to a TCP echo server on 127.0.0.1.

The kernel's own ``session()`` starts the server in a child process (``python -m
gilbench.kernels.echo``, an asyncio server, so its work never competes for the measured
process's GIL) and stops it afterwards; the server also exits by itself when its stdin closes,
so it cannot outlive the run. ``size`` counts round trips of ``PAYLOAD_BYTES``; each chunk opens
one connection. The waiting happens in ``recv``, where CPython drops the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from typing import Iterator

from ._base import Kernel, Variant, even_ranges

PAYLOAD_BYTES = 64
PAYLOAD = bytes(range(PAYLOAD_BYTES))
_address: tuple[str, int] | None = None


@contextlib.contextmanager
def session() -> Iterator[tuple[str, int]]:
    """Run the echo server for the duration of the block; yields its (host, port)."""
    global _address
    if _address is not None:  # nested use: reuse the running server
        yield _address
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "gilbench.kernels.echo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        if not line.isdigit():
            raise RuntimeError(f"echo server did not start (printed {line!r}, exit {proc.poll()})")
        _address = ("127.0.0.1", int(line))
        yield _address
    finally:
        _address = None
        if proc.stdin:
            proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def split(size: int, n_chunks: int) -> list[tuple[str, int, int]]:
    """Chunks ``(host, port, n_round_trips)``; needs the server from ``session()``."""
    if _address is None:
        raise RuntimeError("the echo kernel needs its server: split inside KERNEL.session()")
    host, port = _address
    return [(host, port, hi - lo) for lo, hi in even_ranges(0, size, n_chunks)]


def echo_python(chunk: tuple[str, int, int]) -> int:
    """Do ``n`` blocking round trips on one connection; return how many came back intact."""
    host, port, n = chunk
    if n == 0:
        return 0
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            sock.sendall(PAYLOAD)
            received = b""
            while len(received) < PAYLOAD_BYTES:
                data = sock.recv(PAYLOAD_BYTES - len(received))
                if not data:
                    raise ConnectionError("echo server closed the connection")
                received += data
            if received != PAYLOAD:
                raise ValueError("echo server returned different bytes")
    return n


async def echo_async(chunk: tuple[str, int, int]) -> int:
    """The same round trips with asyncio streams."""
    host, port, n = chunk
    if n == 0:
        return 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(n):
            writer.write(PAYLOAD)
            await writer.drain()
            if await reader.readexactly(PAYLOAD_BYTES) != PAYLOAD:
                raise ValueError("echo server returned different bytes")
    finally:
        writer.close()
        await writer.wait_closed()
    return n


async def _serve() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    # stop when the parent closes our stdin (or dies): no orphan servers
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


KERNEL = Kernel(
    name="echo",
    description="I/O: 64-byte round trips to a loopback TCP echo server (in its own process)",
    kind="io",
    unit="round trips",
    default_size=4_000,
    verify_size=50,
    split=split,
    reduce=sum,
    session=session,
    variants=(
        Variant("python", echo_python, releases_gil=True, async_fn=echo_async,
                description="blocking sockets (recv drops the GIL); asyncio streams under asyncio"),
    ),
)

if __name__ == "__main__":
    from gilbench.lifeline import die_with_parent

    # stdin's EOF is not enough: a worker forked meanwhile may hold the pipe's other end
    die_with_parent()
    asyncio.run(_serve())
