"""A WebSocket server on wsproto.anyio spread over several worker processes.

Usage::

    python workers.py [HOST] [PORT] [--workers N] [--reuse-port] [--backend {asyncio,trio}]

The parent process opens one listening socket on HOST:PORT (127.0.0.1:8000
by default; port 0 picks a free port) and starts N worker processes (2 by
default) that all accept connections from it. With ``--reuse-port`` each
worker opens a socket of its own on the same port with ``SO_REUSEPORT``
(Linux, FreeBSD), and the kernel spreads new connections over them.

Each worker echoes every message, prefixed with its process id. The parent
prints where the server listens; Ctrl-C or SIGTERM stops every worker (each
closes its connections with 1001, going away), then the parent.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from types import FrameType
from typing import Any

import anyio
from anyio.abc import Listener, SocketListener

from wsproto.anyio import ConnectionClosed, WebSocketRequest, WebSocketServer


async def echo(request: WebSocketRequest) -> None:
    """Echo every message, saying which worker answered."""
    ws = await request.accept()
    try:
        async for message in ws:
            text = message if isinstance(message, str) else message.hex()
            await ws.send_message(f"worker {os.getpid()}: {text}")
    except ConnectionClosed:
        pass


async def open_listeners(host: str, port: int, fd: int | None) -> list[Listener[Any]]:
    """This worker's listeners: the parent's socket, or its own on a shared port."""
    if fd is not None:
        # The socket the parent opened, inherited as a file descriptor.
        return [await SocketListener.from_socket(socket.socket(fileno=fd))]
    # SO_REUSEPORT: every worker binds the same port; the kernel balances.
    multi = await anyio.create_tcp_listener(local_host=host, local_port=port, reuse_port=True)
    return list(multi.listeners)


async def worker(host: str, port: int, fd: int | None) -> None:
    """Serve on this worker's listeners until SIGINT or SIGTERM."""
    server = WebSocketServer(echo, await open_listeners(host, port, fd))
    async with anyio.create_task_group() as group:
        await group.start(server.run)
        # One write, so that the workers' lines never interleave on a shared pipe.
        print(f"worker {os.getpid()}: ready\n", end="", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                # Cancelling the server closes its connections with 1001.
                group.cancel_scope.cancel()
                break


class Stop(Exception):
    """Raised in the parent by SIGINT or SIGTERM."""


def stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def supervise(host: str, port: int, workers: int, reuse_port: bool, backend: str) -> int:
    """Open the listening socket (or reserve the port), run the workers, stop them on a signal."""
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if reuse_port:
        # A bound socket that never listens gets no connections, but it holds
        # the port (port 0 becomes a real one) while the workers come and go.
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        inherit: list[str] = []
    else:
        sock = socket.create_server((host, port), backlog=1024)
        inherit = ["--fd", str(sock.fileno())]
    port = sock.getsockname()[1]
    command = [sys.executable, __file__, host, str(port), "--backend", backend, "--worker"]
    with sock:
        processes = [
            subprocess.Popen(command + inherit, pass_fds=[sock.fileno()] if inherit else [])
            for _ in range(workers)
        ]
        # One write per line, as in worker().
        print(f"workers: listening on {host}:{port} ({workers} workers, {backend})\n", end="")
        sys.stdout.flush()
        try:
            for process in processes:
                process.wait()
        except Stop:
            print("workers: shutting down\n", end="", flush=True)
        # Stopping already: a second signal must not interrupt the waits below.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait() for process in processes]
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    # How the parent starts a worker: --worker, and --fd for its socket.
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        anyio.run(worker, args.host, args.port, args.fd, backend=args.backend)
    else:
        sys.exit(supervise(args.host, args.port, args.workers, args.reuse_port, args.backend))
